#!/usr/bin/env bash
# avo itself on a GPU host with no package access (see the device notes in README):
#   avo_gpu.sh eval  - `avo eval` of both attention kernels on the full AVO workload, then the
#                      peers (cuDNN, FlashAttention-2 via PyTorch SDPA) in the same session;
#                      combine.py joins them into one table.
#   avo_gpu.sh tune  - a knob-search `avo tune` of the Hopper kernel on a 4-config slice,
#                      then `avo report`.
# Expects .devdeps/ (avo binary + Debian runtime packages) and writes under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT" /opt/avo-sysroot
for f in .devdeps/*.deb; do dpkg -x "$f" /opt/avo-sysroot; done
export LD_LIBRARY_PATH=/opt/avo-sysroot/usr/lib/llvm-19/lib:/opt/avo-sysroot/usr/lib/x86_64-linux-gnu
export AVO_CLANG_RESOURCE_DIR=/opt/avo-sysroot/usr/lib/llvm-19/lib/clang/19
export AVO_ASTEDIT_CUDA13_DIR=$ROOT/astedit/cuda13
# bwrap (the evaluation sandbox) from the bubblewrap .deb in .devdeps/, if the host lacks it.
export AVO_CACHE_DIR=/tmp/avo-cache PATH=/usr/local/cuda/bin:$PATH:/opt/avo-sysroot/usr/bin
AVO=$ROOT/.devdeps/avo
if ldd "$AVO" | grep 'not found'; then echo "avo_gpu: missing libraries" >&2; exit 4; fi
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | tee "$OUT/gpu.txt"
nvcc --version | tail -1 | tee -a "$OUT/gpu.txt"
case ${1:-eval} in
eval)
  for spec in avo-sm90 avo; do
    t0=$(date +%s)
    "$AVO" eval kernels/attention/$spec.json --jobs 16 2>&1 | tee "$OUT/eval-$spec.txt"
    "$AVO" eval kernels/attention/$spec.json --json > "$OUT/eval-$spec.json" 2>/dev/null # cache hit
    echo "avo eval $spec: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/gpu.txt"
  done
  PYTHONUNBUFFERED=1 python3 bench/attention/peers_sdpa.py 2>&1 | tail -3
  python3 bench/attention/combine.py "$OUT" | tee "$OUT/table.txt"
  ;;
tune)
  "$AVO" tune kernels/attention/avo-sm90-tune.json --run-dir "$OUT/run" --evals "${EVALS:-12}" \
     --budget "${BUDGET:-420s}" --jobs 16 --no-progress 2>&1 | tee "$OUT/tune.log"
  "$AVO" status kernels/attention/avo-sm90-tune.json --run-dir "$OUT/run" | tee "$OUT/status.txt"
  "$AVO" report kernels/attention/avo-sm90-tune.json --run-dir "$OUT/run" -o "$OUT/report.html"
  ;;
esac
