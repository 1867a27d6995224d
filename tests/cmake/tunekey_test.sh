#!/usr/bin/env bash
# The tuning key (RUNS.md): what changes it and what must not.
#   tunekey_test.sh AVO AVO_SOURCE_DIR
set -euo pipefail
avo=$1 avo_src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/avo-tunekey.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export AVO_CACHE_DIR=$tmp/cache AVO_CACHE_REMOTE=""

fail() { echo "FAIL: $*" >&2; exit 1; }

# A project copy in $1 with a spec whose fields can be overridden: spec DIR [JSON-FIELDS]
project() {
	mkdir -p "$1/inc"
	cp "$avo_src/tests/cmake/project/kernel/"* "$1/"
	cp "$avo_src/tests/cmake/project/include/app.h" "$1/inc/"
}
spec() {
	local dir=$1 extra=${2:-}
	cat >"$dir/avo.json" <<-JSON
	{"name": "k", "kernel": "kern.c", "harness": "harness.c", "compiler": "cc",
	 "flags": ["-O2", "-I$dir/inc"], "include_dirs": ["inc", "$dir/inc"], "defines": ["FIXTURE_BASE=40"],
	 "configs": [{"name": "c0", "args": ["--n", "8"]}] $extra}
	JSON
}
key() {
	"$avo" apply "$1/avo.json" -o "$1/out.c" --json --no-remote 2>"$tmp/err" |
		sed -n 's/.*"tuning_key":"\([0-9a-f]*\)".*/\1/p' >"$tmp/key"
	! grep -q "warning" "$tmp/err" || { cat "$tmp/err"; fail "apply warned"; }
	cat "$tmp/key"
}

project "$tmp/a"
spec "$tmp/a"
base=$(key "$tmp/a")
[ ${#base} = 32 ] || fail "no key"

# Not in the key: where the project lives, the spec's layout and order of JSON fields,
# fields that do not change the result (budget, tolerance, operator, shipped_dir).
project "$tmp/elsewhere/deeper"
spec "$tmp/elsewhere/deeper"
[ "$(key "$tmp/elsewhere/deeper")" = "$base" ] || fail "the key depends on the project's location"
python3 - "$tmp/a/avo.json" <<-'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s = dict(reversed(list(s.items())))
s.update({"budget": {"seconds": 60}, "tolerance": 0.5, "operator": "llm", "shipped_dir": "x"})
json.dump(s, open(sys.argv[1], "w"), indent=4)
PY
[ "$(key "$tmp/a")" = "$base" ] || fail "the key depends on JSON layout or on non-result fields"

# In the key: every input that can change the tuned result.
check_changes() { # description, then a command that changes $tmp/b
	rm -rf "$tmp/b"
	project "$tmp/b"
	spec "$tmp/b"
	eval "$2"
	local k
	k=$(key "$tmp/b")
	[ ${#k} = 32 ] || fail "$1: no key"
	[ "$k" != "$base" ] || fail "the key ignores $1"
}
check_changes "the kernel's bytes" 'echo "/* x */" >>"$tmp/b/kern.c"'
check_changes "the harness's bytes" 'echo "/* x */" >>"$tmp/b/harness.c"'
check_changes "the kernel's file name" 'mv "$tmp/b/kern.c" "$tmp/b/kern2.c"; sed -i "s/\"kern.c\"/\"kern2.c\"/" "$tmp/b/avo.json"'
check_changes "a config's args" 'sed -i "s/\"--n\", \"8\"/\"--n\", \"9\"/" "$tmp/b/avo.json"'
check_changes "a config's name" 'sed -i "s/\"name\": \"c0\"/\"name\": \"c1\"/" "$tmp/b/avo.json"'
check_changes "a second config" 'sed -i "s/\"--n\", \"8\"\]}/\"--n\", \"8\"]}, {\"name\": \"c1\", \"args\": []}/" "$tmp/b/avo.json"'
check_changes "the flags" 'sed -i "s/\"-O2\"/\"-O3\"/" "$tmp/b/avo.json"'
check_changes "the defines" 'sed -i "s/FIXTURE_BASE=40/FIXTURE_BASE=41/" "$tmp/b/avo.json"'
check_changes "the include dirs" 'sed -i "s/\"include_dirs\": \[\"inc\", /\"include_dirs\": [/" "$tmp/b/avo.json"'
if command -v clang-19 >/dev/null; then
	check_changes "the compiler" 'sed -i "s/\"compiler\": \"cc\"/\"compiler\": \"clang-19\"/" "$tmp/b/avo.json"'
fi

# The compiler's identity is remembered: a second key costs no compiler run.
rm -rf "$AVO_CACHE_DIR"
key "$tmp/a" >/dev/null
mkdir -p "$tmp/fakebin"
printf '#!/bin/sh\necho spawned >>%s/spawned\nexec /usr/bin/cc "$@"\n' "$tmp" >"$tmp/fakebin/cc"
chmod +x "$tmp/fakebin/cc"
sed -i "s|\"compiler\": \"cc\"|\"compiler\": \"$tmp/fakebin/cc\"|" "$tmp/a/avo.json"
k1=$(key "$tmp/a")
k2=$(key "$tmp/a")
[ "$k1" = "$k2" ] || fail "the key is not stable"
[ "$(wc -l <"$tmp/spawned")" = 1 ] || fail "the compiler ran $(wc -l <"$tmp/spawned") times for two keys (expected 1)"
touch -d '2001-01-01' "$tmp/fakebin/cc" # a changed compiler file is asked again
key "$tmp/a" >/dev/null
[ "$(wc -l <"$tmp/spawned")" = 2 ] || fail "a changed compiler file was not asked again"
echo "PASS"
