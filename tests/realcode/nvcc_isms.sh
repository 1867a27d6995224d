#!/usr/bin/env bash
# Proves (issue 17 point 3): a kernel with nvcc-only idioms parses (the prelude covers
# __ldcs/__stcs, host max, narrowing; %clusterid outside the marks is only a warning), and
# nvcc compiles the same file for sm_90a (no GPU needed).
# usage: nvcc_isms.sh AVO KERNEL
set -euo pipefail
avo=$1 kernel=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$avo" regions "$kernel" -- --cuda-gpu-arch=sm_90a >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; echo "FAIL: parse"; exit 1; }
grep -q "1 region, 1 knob" "$tmp/out" || { cat "$tmp/out"; exit 1; }
n=$(grep -c "avo: warning:" "$tmp/err" || true)
[ "$n" = 1 ] && grep -q "invalid % escape in inline assembly string" "$tmp/err" || { cat "$tmp/err"; echo "FAIL: want one warning"; exit 1; }
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || { echo "no nvcc: skip"; exit 77; }
"$nvcc" -arch=sm_90a -std=c++17 -c "$kernel" -o "$tmp/k.o" || { echo "FAIL: nvcc"; exit 1; }
echo "ok: parsed by avo, compiled by nvcc for sm_90a"
