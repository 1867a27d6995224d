#!/usr/bin/env bash
# Proves (issue 17 point 7): `avo eval --variant` refuses, with exit 3 and the variant's
# file:line, a knob value its marker does not allow (even with the marker widened), an
# edit outside every region, a deleted `avo:end`, a region with a preprocessor directive;
# a proper edit is evaluated.
# usage: variant_check.sh AVO SPEC KERNEL
set -uo pipefail
avo=$1 spec=$2 kernel=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export AVO_CACHE_DIR=$tmp/cache
fail=0
refused() { # NAME WANT: the variant $tmp/NAME.c is refused with exit 3 and WANT on stderr
	"$avo" eval "$spec" --variant "$tmp/$1.c" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ $rc -ne 3 ] || ! grep -qF -- "$2" "$tmp/err"; then
		echo "FAIL: $1: exit $rc, want 3 and '$2'"; cat "$tmp/err"; fail=1
	fi
}
sed 's|^#define TILE_Q 16 // avo:knob 4 8 16 32|#define TILE_Q 12 // avo:knob 4 8 16 32|' "$kernel" >"$tmp/knob.c"
sed 's|^#define TILE_Q 16 // avo:knob 4 8 16 32|#define TILE_Q 12 // avo:knob 4 8 12 16 32|' "$kernel" >"$tmp/widened.c"
sed 's|^int avo_cpu_attention|static int extra_state;\nint avo_cpu_attention|' "$kernel" >"$tmp/outside.c"
awk '/avo:end/ && !done {done=1; next} {print}' "$kernel" >"$tmp/noend.c"
awk '{print} /avo:region scores/ {print "#define return_hook"}' "$kernel" >"$tmp/directive.c"
sed 's|^#define TILE_Q 16 // avo:knob 4 8 16 32|#define TILE_Q 8 // avo:knob 4 8 16 32|' "$kernel" >"$tmp/good.c"
refused knob "knob.c:11:19: knob 'TILE_Q': current value 12 is not among its allowed values"
refused widened "widened.c:11:16: value '12' is not allowed for knob 'TILE_Q'"
refused outside "outside.c:15:1: the variant differs from"
refused noend "noend.c:"
refused directive "directive.c:"
grep -q "directive '#define'" "$tmp/err" || { echo "FAIL: directive: no reason"; cat "$tmp/err"; fail=1; }
"$avo" eval "$spec" --variant "$tmp/good.c" >"$tmp/out" 2>"$tmp/err" || { echo "FAIL: good variant refused"; cat "$tmp/err"; fail=1; }
[ $fail = 0 ] && echo "ok: every bad variant refused with its file and line"
exit $fail
