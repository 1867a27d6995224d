#!/bin/sh
# Compile check for CI (no GPU needed): builds each attention variant with the
# harness and avo's CUDA harness library for sm_80 and sm_90a, the dispatching entry
# point (attention_sm90.cu) as one fat binary for both, the legacy single-binary harness
# (harness_legacy.cu) for sm_90a, and runs the dispatch table check (dispatch_check.cu:
# host logic only). Usage: check_compile.sh [OUTDIR]
# Exit 0 on success, 77 (ctest skip) when nvcc is missing, 1 on a compile error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
nvcc=${NVCC:-}
if [ -z "$nvcc" ]; then
    if command -v nvcc >/dev/null 2>&1; then nvcc=nvcc
    elif [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc
    else echo "check_compile: nvcc not found, skipping" >&2; exit 77; fi
fi
out=${1:-$(mktemp -d)}
mkdir -p "$out"
lib=$(cd "$here/../../harness" && pwd)
flags="-O3 -std=c++17 -Werror all-warnings -I$lib"
# sm_80 path: the mma.sync kernel.
"$nvcc" $flags -gencode=arch=compute_80,code=sm_80 \
    "$here/attention.cu" "$here/harness.cu" "$lib/avo_harness_cuda.cu" -o "$out/harness_sm80" || exit 1
# Hopper: the same kernel and, when present, the wgmma kernel.
"$nvcc" $flags -gencode=arch=compute_90a,code=sm_90a \
    "$here/attention.cu" "$here/harness.cu" "$lib/avo_harness_cuda.cu" -o "$out/harness_sm90a" || exit 1
if [ -f "$here/attention_sm90.cu" ]; then
    "$nvcc" $flags -gencode=arch=compute_90a,code=sm_90a \
        "$here/attention_sm90.cu" "$here/harness.cu" "$lib/avo_harness_cuda.cu" -o "$out/harness_wgmma" || exit 1
    # One binary for every GPU from sm_80 on: the Hopper kernel is a trap off sm_90a and
    # the dispatch never launches it there (PTX for sm_80 serves newer GPUs by JIT).
    fat="-gencode=arch=compute_80,code=[sm_80,compute_80] -gencode=arch=compute_90a,code=sm_90a"
    "$nvcc" $flags $fat "$here/attention_sm90.cu" "$here/dispatch_check.cu" -o "$out/dispatch_check" || exit 1
    "$out/dispatch_check" > "$out/dispatch_table.txt" || { cat "$out/dispatch_table.txt"; exit 1; }
    tail -1 "$out/dispatch_table.txt"
    "$nvcc" $flags -gencode=arch=compute_90a,code=sm_90a \
        "$here/attention_sm90.cu" "$here/harness_legacy.cu" -o "$out/harness_legacy" || exit 1
fi
echo "check_compile: ok ($out)"
