#!/usr/bin/env bash
# Source this on the GPU host (no package access): unpacks avo's Debian runtime packages
# from .devdeps/ into /opt/avo-sysroot and points avo at them. Expects .devdeps/ to hold the
# .deb files (bench/gpu/fetch_devdeps.sh) and an avo install prefix in .devdeps/prefix
# (cmake --install build --prefix .devdeps/prefix). Sets AVO (the binary) and OUT.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT" /opt/avo-sysroot
for f in "$ROOT"/.devdeps/*.deb; do dpkg -x "$f" /opt/avo-sysroot; done
export LD_LIBRARY_PATH=/opt/avo-sysroot/usr/lib/llvm-19/lib:/opt/avo-sysroot/usr/lib/x86_64-linux-gnu:/opt/avo-sysroot/lib/x86_64-linux-gnu
export AVO_CLANG_RESOURCE_DIR=/opt/avo-sysroot/usr/lib/llvm-19/lib/clang/19
export AVO_ASTEDIT_CUDA13_DIR=$ROOT/astedit/cuda13
export AVO_CACHE_DIR=${AVO_CACHE_DIR:-/tmp/avo-cache}
export PATH=$ROOT/.devdeps/prefix/bin:/opt/avo-sysroot/usr/bin:/usr/local/cuda/bin:$PATH
AVO=$ROOT/.devdeps/prefix/bin/avo
[ -x "$AVO" ] || AVO=$ROOT/.devdeps/avo
if ldd "$AVO" | grep 'not found'; then echo "env.sh: missing libraries for $AVO" >&2; return 4 2>/dev/null || exit 4; fi
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader > "$OUT/gpu.txt" 2>&1
nvcc --version | tail -1 >> "$OUT/gpu.txt"
