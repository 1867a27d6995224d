#!/bin/sh
# Builds the attention harness binaries and the ctypes libraries for bench.py:
# each kernel as written, plus knob variants of attention.cu (knob values
# substituted the way avo does, into a copy). Runs here or on the GPU machine.
# Usage: bench/attention/build.sh [OUTDIR]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
k=$root/kernels/attention
b=${1:-$root/bench/attention/build}
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
arch="-gencode=arch=compute_90a,code=sm_90a"
mkdir -p "$b/src"
cp "$k/attention.h" "$b/src/"
# name NWARPS BLOCK_N STAGES MIN_BLOCKS
variants="nw8-bn64-st2 8 64 2 1
nw4-bn32-st3 4 32 3 2
nw8-bn32-st3 8 32 3 1"
echo "$variants" | while read -r name nw bn st mb; do
    sed -e "s|^#define NWARPS [0-9]*|#define NWARPS $nw|" -e "s|^#define BLOCK_N [0-9]*|#define BLOCK_N $bn|" \
        -e "s|^#define STAGES [0-9]*|#define STAGES $st|" -e "s|^#define MIN_BLOCKS [0-9]*|#define MIN_BLOCKS $mb|" \
        "$k/attention.cu" > "$b/src/attention_$name.cu"
done
build() { # src name
    "$nvcc" -O3 -std=c++17 $arch -I"$k" "$1" "$k/harness.cu" -o "$b/harness_$2"
    "$nvcc" -O3 -std=c++17 $arch -I"$k" -Xcompiler -fPIC -shared "$1" -o "$b/lib$2.so"
}
for v in attention attention_sm90; do
    [ -f "$k/$v.cu" ] && build "$k/$v.cu" "$v" &
done
for f in "$b"/src/attention_*.cu; do
    build "$f" "$(basename "$f" .cu)" &
done
wait
ls "$b"
