#!/usr/bin/env bash
# Proves (issue 17 point 3): each nvcc-only idiom, one small kernel per pattern in DIR
# (__ldcs/__stcs on vector types, host max/min, isfinite/isnan in device code, narrowing in
# initializer lists, %clusterid in inline PTX, asm in a __host__ __device__ function), parses
# with `avo regions` (the prelude covers what clang lacks; %clusterid outside the marks is one
# warning), and nvcc compiles each file for sm_90a (no GPU needed). A region holding asm in a
# __host__ __device__ function is refused at its marker, file:line:col.
# usage: nvcc_isms.sh AVO DIR (tests/realcode/kernels/isms)
set -uo pipefail
avo=$1 dir=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
for k in ldcs_stcs host_max isfinite_isnan narrowing clusterid hd_asm; do
	if ! "$avo" regions "$dir/$k.cu" -- --cuda-gpu-arch=sm_90a >"$tmp/out" 2>"$tmp/err" ||
		! grep -q "1 region, 1 knob" "$tmp/out"; then
		echo "FAIL: $k: avo regions"; cat "$tmp/out" "$tmp/err"; fail=1; continue
	fi
	n=$(grep -c "avo: warning:" "$tmp/err")
	want=0; [ $k = clusterid ] && want=1
	if [ "$n" != $want ] || { [ $want = 1 ] && ! grep -q "invalid % escape in inline assembly string" "$tmp/err"; }; then
		echo "FAIL: $k: want $want warning(s)"; cat "$tmp/err"; fail=1
	fi
done
rc=0; "$avo" regions "$dir/hd_asm_region.cu" -- --cuda-gpu-arch=sm_90a >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ $rc = 0 ] || ! grep -q "hd_asm_region.cu:9:2: region 'brev' holds inline asm at 10:2 in code compiled for the host" "$tmp/err"; then
	echo "FAIL: hd_asm_region: exit $rc"; cat "$tmp/err"; fail=1
fi
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if [ ! -x "$nvcc" ]; then
	[ $fail = 0 ] && { echo "parsed; no nvcc: skip the compile"; exit 77; }
	exit $fail
fi
for k in ldcs_stcs host_max isfinite_isnan narrowing clusterid hd_asm; do
	"$nvcc" -arch=sm_90a -std=c++17 -c "$dir/$k.cu" -o "$tmp/$k.o" >"$tmp/nvcc.log" 2>&1 ||
		{ echo "FAIL: $k: nvcc"; cat "$tmp/nvcc.log"; fail=1; }
done
[ $fail = 0 ] && echo "ok: each idiom parsed by avo and compiled by nvcc for sm_90a"
exit $fail
