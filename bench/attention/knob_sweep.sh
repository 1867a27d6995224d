#!/bin/bash
# Every knob combination of both kernels: build here (a combination that does not
# compile is recorded as such), then on the GPU machine run each through the harness on
# its quick spec, so that whatever a knob search picks is known to run correctly.
#   bench/attention/knob_sweep.sh build     # here: bench/attention/sweep/
#   bench/attention/knob_sweep.sh run       # GPU machine: $OUT/sweep.jsonl
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
k=$root/kernels/attention
d=$root/bench/attention/sweep
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
combos() {
    for nw in 4 8; do for bn in 32 64 128; do for st in 2 3; do for mb in 1 2; do
        echo "mma-nw$nw-bn$bn-st$st-mb$mb attention.cu NWARPS=$nw BLOCK_N=$bn STAGES=$st MIN_BLOCKS=$mb"
    done; done; done; done
    for st in 2 3; do for pr in 24 32 40; do for cr in 232 240; do for pp in 0 1; do
        echo "sm90-st$st-p$pr-c$cr-pp$pp attention_sm90.cu STAGES=$st PRODUCER_REGS=$pr CONSUMER_REGS=$cr PINGPONG=$pp"
    done; done; done; done
}
case ${1:-} in
build)
    rm -rf "$d"; mkdir -p "$d/src"
    combos | while read -r name src knobs; do
        cp "$k/$src" "$d/src/$name.cu"
        for kv in $knobs; do sed -i "s|^#define ${kv%%=*} [0-9]*|#define ${kv%%=*} ${kv#*=}|" "$d/src/$name.cu"; done
        echo "$name $src"
    done > "$d/list.txt"
    while read -r name src; do
        ( if "$nvcc" -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I"$k" "$d/src/$name.cu" "$k/harness.cu" \
                -o "$d/harness_$name" 2> "$d/$name.err"; then rm -f "$d/$name.err"; fi ) &
        [ $(jobs -r | wc -l) -ge 2 ] && wait -n
    done < "$d/list.txt"
    wait
    echo "built $(ls $d/harness_* | wc -l) of $(wc -l < $d/list.txt); compile errors: $(ls $d/*.err 2>/dev/null | wc -l)"
    ;;
run)
    OUT=${OUT:-/tmp/avo-out}; mkdir -p "$OUT"
    while read -r name src; do
        spec=avo-quick.json; [ "$src" = attention_sm90.cu ] && spec=avo-sm90-quick.json
        if [ ! -x "$d/harness_$name" ]; then
            echo "{\"combo\":\"$name\",\"status\":\"compile-error\",\"why\":\"$(grep -m1 -o 'static assertion failed with "[^"]*"' $d/$name.err | sed 's/"/\\"/g')\"}"
            continue
        fi
        ok=0; n=0; worst=0; tf=""
        while read -r cname args; do
            line=$(timeout 60 "$d/harness_$name" $args 2>/dev/null | tail -n 1); rc=$?
            n=$((n+1)); [ $rc = 0 ] && ok=$((ok+1))
            tf="$tf $(echo "$line" | grep -o '"tflops":[0-9.]*' | cut -d: -f2)"
        done < <(python3 -c "import json,sys;[print(c['name'],' '.join(c['args'])) for c in json.load(open(sys.argv[1]))['configs']]" "$k/$spec")
        echo "{\"combo\":\"$name\",\"status\":\"ran\",\"passed\":$ok,\"of\":$n,\"tflops\":\"${tf# }\"}"
    done < "$d/list.txt" | tee "$OUT/sweep.jsonl"
    echo "combos run: $(grep -c '"ran"' $OUT/sweep.jsonl); all passing: $(grep '"ran"' $OUT/sweep.jsonl | python3 -c "import sys,json;r=[json.loads(l) for l in sys.stdin];print(sum(x['passed']==x['of'] for x in r),'of',len(r))")"
    ;;
*) echo "usage: knob_sweep.sh build|run" >&2; exit 2 ;;
esac
