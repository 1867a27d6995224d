#!/bin/bash
# Extra checks on the GPU machine: compute-sanitizer (memcheck, synccheck) on small
# configs for each kernel, and an Nsight Compute summary of the sm90 kernel on two
# AVO configs. Usage (from the folder holding kernels/ and bench/): bench/attention/gpu_check.sh
set -u
OUT=${OUT:-/tmp/avo-out}
B=bench/attention/build
[ -x "$B/harness_sm90" ] || bench/attention/build.sh "$B" || exit 1
for v in attention sm90; do
  for tool in memcheck synccheck; do
    echo "== compute-sanitizer --tool $tool $v"
    timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 "$B/harness_$v" --b 1 --hq 4 --hkv 2 --s 512 --d 128 --causal 1 --iters 20 2>&1 | tail -3
    echo "rc ${PIPESTATUS[0]}"
  done
done
for cfg in "--b 8 --hq 16 --hkv 16 --s 4096 --d 128 --causal 1" "--b 1 --hq 16 --hkv 16 --s 32768 --d 128 --causal 0"; do
  echo "== ncu sm90 $cfg"
  timeout 180 ncu --kernel-name regex:attention_sm90 --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section LaunchStats \
    --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active \
    "$B/harness_sm90" $cfg --iters 20 2>&1 | grep -vE "^==PROF==|^\s*$|----" | tail -60
done
