#!/usr/bin/env bash
# A second real client: the MCP Inspector's CLI (npm @modelcontextprotocol/inspector, run
# with --cli over stdio, offline) drives `avo mcp` on the CPU example. Each call is a whole
# session (start, initialize, one request, close), so this also proves that sessions resume
# the run: the tool list, status, a refused edit (isError), evaluate refused without a
# change, the attempts, and finish.
# usage: inspector.sh AVO SRC_DIR WORK_DIR        (exit 77: the inspector is not installed)
set -uo pipefail
avo=$1 src=$2 work=$3
insp=$src/tests/node_modules/.bin/mcp-inspector
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 77; }
[ -x "$insp" ] || { echo "SKIP: @modelcontextprotocol/inspector is not installed (scripts/setup.sh installs it)"; exit 77; }
rm -rf "$work" && mkdir -p "$work/k" || exit 1
cp "$src"/kernels/cpu/*.c "$src"/kernels/cpu/*.h "$src"/kernels/cpu/avo.json "$work/k/" || exit 1
export AVO_CACHE_DIR=$work/cache AVO_CACHE_REMOTE=
fail() { echo "FAIL: $*"; cat "$work/out" 2>/dev/null; exit 1; }
# call METHOD [inspector args...]: the JSON answer in $work/out
call() {
	timeout 120 "$insp" --cli "$avo" mcp "$work/k/avo.json" --run-dir "$work/run" --evals 4 --method "$@" \
		>"$work/out" 2>"$work/err" || { cat "$work/err"; fail "inspector $*"; }
}
# tool NAME WANT_ERROR TEXT [args...]: a tools/call whose isError and text are as wanted
tool() {
	local name=$1 want=$2 text=$3; shift 3
	local args=()
	for a in "$@"; do args+=(--tool-arg "$a"); done
	call tools/call --tool-name "$name" "${args[@]}"
	python3 - "$work/out" "$want" "$text" <<'PY' || fail "tools/call $name"
import json, sys
r = json.load(open(sys.argv[1]))
text = "".join(c.get("text", "") for c in r["content"])
assert r.get("isError", False) == (sys.argv[2] == "error"), (r.get("isError"), text)
assert sys.argv[3] in text, text
PY
}
call tools/list
python3 - "$work/out" <<'PY' || fail "tools/list"
import json, sys
names = {t["name"] for t in json.load(open(sys.argv[1]))["tools"]}
want = {"read_regions", "read_kernel", "edit_region", "set_knob", "evaluate", "submit", "status",
        "list_attempts", "read_version", "checkout", "finish"}
assert want <= names, want - names
PY
tool status ok "evaluations: 1 of 4 evaluations used"
tool set_knob error 'knob TILE_Q does not allow "7"' name=TILE_Q value=7
tool read_regions ok "=== region scores ==="
tool evaluate error "change a region or a knob first"
tool list_attempts ok "attempt 1 by baseline: committed"
tool status ok "evaluations: 1 of 4 evaluations used"
tool finish ok "no version beat the original"
[ "$(grep -c '"n":' "$work/run/attempts.jsonl")" = 1 ] || fail "attempts: $(cat "$work/run/attempts.jsonl")"
echo "ok: the MCP Inspector CLI listed the tools, called them over 8 sessions of one run"
