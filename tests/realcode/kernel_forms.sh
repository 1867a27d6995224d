#!/usr/bin/env bash
# Proves (issue 17 point 6): a kernel given as a header is tuned (evaluated through a
# wrapper translation unit); a kernel file with its own main() is refused with what to do
# (exit 3, file:line:col), and tunes once the main is guarded by AVO_KERNEL_ONLY.
# usage: kernel_forms.sh AVO DIR (tests/realcode/cpu)
set -euo pipefail
avo=$1 dir=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export AVO_CACHE_DIR=$tmp/cache
fail() { echo "FAIL: $*"; exit 1; }
rc=0; "$avo" tune "$dir/with_main_unguarded.json" --evals 1 --run-dir "$tmp/r0" >"$tmp/out" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$tmp/out"; fail "unguarded main: exit $rc, want 3"; }
grep -q "with_main_unguarded.c:45:1: the kernel defines main(), which would clash with the harness's: wrap it in '#ifndef AVO_KERNEL_ONLY'" "$tmp/out" ||
	{ cat "$tmp/out"; fail "unguarded main: message"; }
for k in with_main header_kernel; do
	"$avo" tune "$dir/$k.json" --evals 2 --run-dir "$tmp/$k" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "$k: tune"; }
	grep -q '"operator":"baseline","status":"committed"' "$tmp/$k/attempts.jsonl" || { cat "$tmp/$k/attempts.jsonl"; fail "$k: no correct baseline"; }
done
echo "ok: a header kernel and a kernel with a guarded main tune; an unguarded main is refused"
