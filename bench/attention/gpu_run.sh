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
for v in $variants; do
  echo "sass $v: $(cuobjdump -sass $B/lib$v.so 2>/dev/null | grep -oE '(HGMMA|HMMA|UTMALDG|SYNCS|LDL|STL)' | sort | uniq -c | tr '\n' ' ')"
done
good=""
if [ "$what" != bench ]; then
  for v in $variants; do
    case $v in
      sm90*) specs="avo-sm90-quick.json"; full=avo-sm90.json ;;
      *) specs="avo-quick.json"; full=avo.json ;;
    esac
    # HARNESS_FULL: the variants that also run every AVO config in the harness.
    case " ${HARNESS_FULL-attention sm90} " in *" $v "*) specs="$specs $full" ;; esac
    ok=1
    for spec in $specs; do
      [ $ok = 1 ] || break   # a variant that failed its quick configs goes no further
      python3 - "kernels/attention/$spec" > /tmp/cfgs.txt <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["configs"]:
    print(c["name"], " ".join(c["args"]))
PY
      while read -r name args; do
        line=$(set -o pipefail; timeout 60 "$B/harness_$v" $args 2> /tmp/err.txt | tail -n 1); rc=$?
        [ -s /tmp/err.txt ] && sed "s/^/  [$v $name] /" /tmp/err.txt | head -5
        case $line in "{"*) ;; *) line=null ;; esac
        echo "{\"variant\":\"$v\",\"spec\":\"$spec\",\"config\":\"$name\",\"rc\":$rc,\"result\":$line}" | tee -a "$OUT/harness.jsonl"
        if [ $rc != 0 ]; then ok=0; [ $rc = 124 ] && break; fi
      done < /tmp/cfgs.txt
    done
    [ $ok = 1 ] && good="$good $v"
  done
else
  good=$variants
fi
echo "variants passing the harness:$good"
if [ "$what" != harness ]; then
  libs=""
  for v in $good; do libs="$libs --lib $v=$B/lib$v.so"; done
  timeout 400 python3 bench/attention/bench.py $libs --reps ${REPS:-20} --out "$OUT/attention.json" 2>&1 | tee "$OUT/bench.log"
fi
