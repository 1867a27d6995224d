#!/usr/bin/env bash
# `avo apply` and avo-apply write a variant from the cache only when it is an edit of the
# original kernel: a tune entry naming a knob change (allowed value) is applied; one naming a
# file changed outside its regions, or a knob set to a value its marker does not allow, is
# refused with a message naming file:line:col, and the original is written instead.
# usage: apply_check.sh AVO AVO_APPLY SOURCE_DIR WORK_DIR
set -uo pipefail
avo=$1 apply=$2 src=$3 work=$4
rm -rf "$work" && mkdir -p "$work" && cp -r "$src/kernels/cpu" "$work/cpu"
export AVO_CACHE_DIR=$work/cache AVO_CACHE_REMOTE=
spec=$work/cpu/avo.json orig=$work/cpu/attention.c fail=0
key=$("$avo" apply "$spec" -o "$work/out.c" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tuning_key"])')
[ ${#key} = 32 ] || { echo "FAIL: no tuning key ($key)"; exit 1; }

# try NAME VARIANT_FILE EXPECT(applied|refused) [STDERR_PATTERN]
try() {
  local name=$1 file=$2 expect=$3 pat=${4:-}
  local h; h=$("$avo" cache put-object "$file") || { echo "FAIL $name: put-object"; fail=1; return; }
  printf '{"variant":"%s","fitness":2.0,"baseline_fitness":1.0,"objective":"ms"}' "$h" > "$work/entry.json"
  "$avo" cache put tune "$key" "$work/entry.json" || { echo "FAIL $name: put tune"; fail=1; return; }
  for tool in "$avo apply" "$apply"; do
    rm -f "$work/out.c"
    $tool "$spec" -o "$work/out.c" 2> "$work/err.txt" > /dev/null
    if [ "$expect" = applied ]; then
      cmp -s "$work/out.c" "$file" || { echo "FAIL $name ($tool): the variant was not applied"; cat "$work/err.txt"; fail=1; }
    else
      cmp -s "$work/out.c" "$orig" || { echo "FAIL $name ($tool): out is not the original"; fail=1; }
      grep -q "refusing the local variant.*not an edit of.*$pat" "$work/err.txt" ||
        { echo "FAIL $name ($tool): no clear refusal:"; cat "$work/err.txt"; fail=1; }
    fi
  done
  echo "ok: $name $expect"
}

sed 's/^#define TILE_Q 16 /#define TILE_Q 32 /' "$orig" > "$work/knob.c"
try knob_edit "$work/knob.c" applied
{ cat "$orig"; echo 'int avo_evil_global;'; } > "$work/outside.c"
try outside_edit "$work/outside.c" refused 'attention.c:[0-9]*:[0-9]*: differs from the original outside'
sed 's/^#define TILE_Q 16 /#define TILE_Q 17 /' "$orig" > "$work/badknob.c"
try bad_knob "$work/badknob.c" refused 'attention.c:11:[0-9]*: .*TILE_Q.*17'
sed 's/^#define UNROLL 1 /#define UNROLL 1\n#define EXTRA 2 /' "$orig" > "$work/extra.c"
try extra_define "$work/extra.c" refused 'attention.c:'
exit $fail
