#!/usr/bin/env bash
# The hostile-operator suite (issue 14): `avo tune` through the real CLI with the `command`
# operator proposing one attack (cases.py) as a region edit of a copy of kernels/cpu. Each
# attack must be refused: never committed, with its cause in attempts.jsonl and the report.
#   hostile.sh CASE AVO SRC_DIR WORK_DIR      exit 0 pass, 1 fail, 77 skip
# A case whose defence belongs to a part not in this build yet skips (77) and says so.
set -uo pipefail
case_=$1 AVO=$2 SRC=$3 W=$4
rm -rf "$W" && mkdir -p "$W/k/.avo" "$W/tmp" "$W/home" "$W/cache" || exit 1
# Secrets a candidate must not read: in the cache, the home, a run dir beside the kernel.
for d in "$W/cache" "$W/home" "$W/k/.avo"; do echo "hostile-secret" >"$d/secret.txt"; done
export AVO_CACHE_DIR=$W/cache AVO_CACHE_REMOTE= TMPDIR=$W/tmp HOME=$W/home
RUN=$W/run
fail() { echo "FAIL ($case_): $*"; [ -f "$W/log" ] && tail -20 "$W/log"; exit 1; }
skip() { echo "SKIP ($case_): $*"; exit 77; }

cp "$SRC"/kernels/cpu/attention.c "$SRC"/kernels/cpu/attention.h "$SRC"/kernels/cpu/harness.c "$W/k/" || exit 1
python3 "$SRC/tests/hostile/cases.py" "$case_" "$W/case.json" "$W/k/attention.c" || fail "no such case"
read -r defence arch <<<"$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["defence"], c.get("arch","any"))' "$W/case.json")"
[ "$arch" = any ] || [ "$(uname -m)" = "$arch" ] || skip "needs $arch"
if [ "$defence" = sandbox ] && ! "$AVO" eval --help 2>&1 | grep -q -- "sandbox"; then
	skip "its defence, the evaluation sandbox (helper harden), is not in this build"
fi
# One small config keeps a case to a few seconds (or the one the case names).
python3 - "$SRC/kernels/cpu/avo.json" "$W/k/avo.json" "$SRC/tests/hostile/agent.py" "$W/case.json" <<'PY' || fail "spec"
import json, sys
s = json.load(open(sys.argv[1]))
c = json.load(open(sys.argv[4])).get("config", 0)  # a case may need a bigger config
s["configs"] = s["configs"][c:c + 1]
s["operator"] = "command"
s["command"] = {"argv": ["python3", sys.argv[3]], "timeout": 30}
json.dump(s, open(sys.argv[2], "w"), indent=1)
PY
HOSTILE_CASE=$W/case.json HOSTILE_API_KEY=sekrit-api-key \
	"$AVO" tune "$W/k/avo.json" --run-dir "$RUN" --evals 2 --no-progress >"$W/out" 2>"$W/log" ||
	fail "avo tune exited $?"

# Nothing an evaluation started is still running.
if pgrep -f "$W/tmp" >/dev/null 2>&1; then
	pkill -KILL -f "$W/tmp"
	[ "$defence" = sandbox ] && fail "a process of the evaluation outlived it"
fi
cmp -s "$SRC/kernels/cpu/attention.c" "$W/k/attention.c" || fail "the user's kernel file was written"
[ -z "$(find "$AVO_CACHE_DIR" -name '*pwned*' 2>/dev/null)" ] || fail "a file appeared in the cache dir"

python3 - "$RUN" "$W/case.json" >"$W/check.txt" 2>&1 <<'PY'
import json, os, sys
run, case = sys.argv[1], json.load(open(sys.argv[2]))
att = [json.loads(l) for l in open(os.path.join(run, "attempts.jsonl"))]
lin = [json.loads(l) for l in open(os.path.join(run, "lineage.jsonl"))]
r = json.load(open(os.path.join(run, "run.json")))
attacks = [a for a in att if a.get("operator") != "baseline"]
assert att and att[0]["status"] == "committed", ("the baseline was not committed", att[:1])
if not attacks:
    sys.exit("no attack attempt was recorded")
for a in attacks:
    print("attempt:", a["status"], "|", (a.get("feedback") or "").replace("\n", " ")[:300])
    refused = a["status"] in ("invalid_edit", "error") and "proposal refused" in (a.get("feedback") or "")
    if case["defence"] == "regions" and not refused:
        print("SKIP-REGIONS")  # the region rules (helper astedit) are not in this build yet
        sys.exit(0)
    if a["status"] == "committed":
        sys.exit("COMMITTED: " + case["name"])
    fb = a.get("feedback") or ""
    if "leak" in case and case["leak"] in fb:
        sys.exit("the attack saw what it must not: " + case["leak"])
    if case["expect"] != ["never committed"] and not any(e in fb for e in case["expect"]):
        sys.exit("the cause %r names none of %s" % (fb[:300], case["expect"]))
assert len(lin) == 1, ("a version besides the baseline", len(lin))
assert r["commits"] == 0, r["commits"]
# How the evaluations were trusted and contained is recorded (issue 14, point 3).
assert r.get("trust") == "avo-harness-1" and r.get("sandbox") == "bwrap", r
assert att[0].get("trust") == "avo-harness-1" and att[0].get("sandbox") == "bwrap", att[0]
assert lin[0].get("trust") == "avo-harness-1" and lin[0].get("sandbox") == "bwrap", lin[0]
PY
rc=$?
cat "$W/check.txt"
[ $rc = 0 ] || fail "the run's records"
grep -q "SKIP-REGIONS" "$W/check.txt" && skip "its defence, the region rules (helper astedit), is not in this build"

# The report and the status name the failure too.
"$AVO" status "$W/k/avo.json" --run-dir "$RUN" >"$W/status.txt" 2>&1 || fail "avo status"
grep -q "trust       avo-harness-1, sandbox bwrap" "$W/status.txt" || fail "avo status does not say how it was trusted"
"$AVO" report "$W/k/avo.json" --run-dir "$RUN" -o "$W/report.html" >/dev/null 2>&1 || fail "avo report"
st=$(python3 -c 'import json,sys; a=[json.loads(l) for l in open(sys.argv[1])]; print(a[-1]["status"])' "$RUN/attempts.jsonl")
grep -q "$st" "$W/status.txt" || fail "avo status does not list the cause '$st'"
# A proposal the region rules refuse (defence in depth: fini_array) is counted, not listed.
grep -q "proposal refused" "$W/check.txt" || grep -q "hostile: $case_" "$W/report.html" || fail "the report does not show the attempt"
echo "PASS ($case_, defence: $defence)"
