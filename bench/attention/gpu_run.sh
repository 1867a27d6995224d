#!/bin/bash
# One call on the GPU machine: builds (unless prebuilt binaries came along),
# runs the harness on the quick and the AVO configs for every variant, then the
# side-by-side benchmark with the peers. Results go to $OUT.
# Usage (from the folder holding kernels/ and bench/): bench/attention/gpu_run.sh [harness|bench|all]
set -u
what=${1:-all}
OUT=${OUT:-/tmp/avo-out}
mkdir -p "$OUT"
B=bench/attention/build
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/gpu.txt"
if [ ! -x "$B/harness_attention" ]; then bench/attention/build.sh "$B" || exit 1; fi
variants=$(ls $B/harness_* | sed 's|.*/harness_||')
if [ "$what" != bench ]; then
  for v in $variants; do
    specs=avo-quick.json; [ "$v" = attention ] || [ "$v" = attention_sm90 ] && specs="avo-quick.json avo.json"
    for spec in $specs; do
      python3 - "kernels/attention/$spec" > /tmp/cfgs.txt <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["configs"]:
    print(c["name"], " ".join(c["args"]))
PY
      while read -r name args; do
        line=$(set -o pipefail; timeout 120 "$B/harness_$v" $args 2> /tmp/err.txt | tail -n 1); rc=$?
        [ -s /tmp/err.txt ] && sed "s/^/  [$v $name] /" /tmp/err.txt
        echo "{\"variant\":\"$v\",\"spec\":\"$spec\",\"config\":\"$name\",\"rc\":$rc,\"result\":${line:-null}}" | tee -a "$OUT/harness.jsonl"
      done < /tmp/cfgs.txt
    done
  done
fi
if [ "$what" != harness ]; then
  libs=""
  for v in $variants; do libs="$libs --lib $v=$B/lib$v.so"; done
  python3 bench/attention/bench.py $libs --out "$OUT/attention.json" 2>&1 | tee "$OUT/bench.log"
fi
