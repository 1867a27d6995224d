#!/bin/sh
# Builds the attention harness binaries and the ctypes libraries for bench.py:
# each kernel as written, plus knob variants (knob values substituted into a
# copy, the way avo does). Runs here or on the GPU machine.
# Usage: bench/attention/build.sh [OUTDIR]   (VARIANTS=file overrides the list)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
k=$root/kernels/attention
b=${1:-$root/bench/attention/build}
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
arch="-gencode=arch=compute_90a,code=sm_90a"
rm -rf "$b"
mkdir -p "$b/src"
# name source knob=value...   (no knobs: the source as written)
list=${VARIANTS:-$root/bench/attention/variants.txt}
grep -v '^#' "$list" | while read -r name src knobs; do
    [ -n "$name" ] || continue
    case $src in */*) src=$root/$src ;; *) src=$k/$src ;; esac   # a path: from the repo root
    [ -f "$src" ] || continue
    cp "$src" "$b/src/$name.cu"
    for kv in $knobs; do
        sed -i "s|^#define ${kv%%=*} [0-9]*|#define ${kv%%=*} ${kv#*=}|" "$b/src/$name.cu"
        grep -q "^#define ${kv%%=*} ${kv#*=} " "$b/src/$name.cu" || { echo "build: no knob ${kv%%=*} in $src" >&2; exit 1; }
    done
done
build() { # src name
    "$nvcc" -O3 -std=c++17 $arch -I"$k" "$1" "$k/harness.cu" -o "$b/harness_$2"
    "$nvcc" -O3 -std=c++17 $arch -I"$k" -Xcompiler -fPIC -shared "$1" -o "$b/lib$2.so"
}
for f in "$b"/src/*.cu; do
    build "$f" "$(basename "$f" .cu)" &
done
wait
ls "$b"
