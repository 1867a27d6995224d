#!/bin/sh
# The attention benchmark without a GPU: bench.py and workload.py compile, --dry-run
# lists the workload without importing torch, the workload has the configs the issue
# asks for, and a broken spec is refused with its file and config named.
# Usage: bench_workload.sh SOURCE_DIR. Exit 77 (skip) when python3 is missing.
set -eu
src=$1
py=${PYTHON:-python3}
command -v "$py" >/dev/null 2>&1 || { echo "bench_workload: no $py, skipping"; exit 77; }
b=$src/bench/attention
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "bench_workload: FAIL: $*" >&2; exit 1; }

# Compile (syntax and names at module level) without writing bytecode into the tree.
for f in "$b/bench.py" "$b/workload.py"; do
    "$py" -B -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$f" || fail "$f does not compile"
done
# A torch that breaks on import: --dry-run must not need it.
mkdir "$tmp/fake"
echo 'raise ImportError("bench --dry-run imported torch")' > "$tmp/fake/torch.py"
dry() { PYTHONPATH=$tmp/fake "$py" -B "$b/bench.py" --dry-run "$@"; }

dry --workload all > "$tmp/all.txt" || fail "dry-run of the workload 'all' failed"
for w in avo24:24 real:52 all:76; do
    dry --workload "${w%%:*}" | grep -q "^${w#*:} configs," || fail "workload ${w%%:*} is not ${w#*:} configs"
done
# Spot checks: FLOPs of the largest AVO config, and one of each kind of 'real' config.
grep -Eq '^mha-s32k-full +1 +16 +16 +32768 +128 full +8796\.1$' "$tmp/all.txt" || fail "mha-s32k-full line"
for want in 'mha-s1000-causal +32 +16 +16 +1000 +128 causal' 'gqa8-s4000-full +8 +32 +8 +4000 +128 full' \
            'gqa8-d256-s16k-causal +2 +32 +8 +16384 +256 causal' 'mha-d64-s8k-full +4 +16 +16 +8192 +64 full' \
            'gqa8-b64-s1k-causal +64 +32 +8 +1024 +128 causal' 'mha-b32-s512-full +32 +16 +16 +512 +128 full'; do
    grep -Eq "^$want " "$tmp/all.txt" || fail "no config matching '$want'"
done
[ "$(dry --only 'd256' | grep -c '^[a-z].*-d256-')" = 12 ] || fail "--only d256 is not 12 configs"

# A spec with a GQA shape that cannot be (hq not a multiple of hkv) and one with a non-integer.
printf '{"configs":[{"name":"odd","args":["--b","1","--hq","6","--hkv","4","--s","64","--d","128","--causal","0"]}]}' > "$tmp/odd.json"
printf '{"configs":[{"name":"x","args":["--b","one"]}]}' > "$tmp/nan.json"
for spec in odd nan; do
    if dry --workload avo24 --configs "$tmp/$spec.json" > "$tmp/out.txt" 2>&1; then fail "$spec.json accepted"; fi
    cat "$tmp/out.txt"
done
dry --workload avo24 --configs "$tmp/odd.json" 2>&1 | grep -q 'odd.json: config odd: hq 6 is not a multiple of hkv 4' || fail "odd.json message"
dry --workload avo24 --configs "$tmp/nan.json" 2>&1 | grep -q "nan.json: configs\[0\]: --b 'one' is not an integer" || fail "nan.json message"
echo "bench_workload: ok"
