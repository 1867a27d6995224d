#!/usr/bin/env bash
# One command on the GPU host (H200, no network): builds ours as a shared library from
# kernels/attention/attention_sm90.cu (sm_90a, plus sm_80 when the source compiles for
# it), optionally a second one, and runs bench.py: ours, cuDNN, FlashAttention-2 and
# FlexAttention side by side on the workload. Table and JSON go to $OUT (default
# bench/results/attention-h200/).
#
#   bench/attention/run_h200.sh [bench.py args...]
#   OURS=path.cu  the kernel built as "ours" (default kernels/attention/attention_sm90.cu;
#                 kernels/attention/shipped/sm_90a/attention_sm90.cu is the shipped best)
#   EXTRA="name=path.cu ..."  more kernels to build and compare (e.g. the `avo export` of a run)
#   WORKLOAD=avo24|real|all (all)  REPS=N (15)  FLEX=auto|static|off (auto)
#   TIME_LIMIT=S (420: bench.py starts no config after S seconds, then writes the table)
# Exit status: bench.py's (0 all of ours correct and nothing refused or skipped), 3 build.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
k=$root/kernels/attention
OUT=${OUT:-$root/bench/results/attention-h200}
build=${BUILD:-${TMPDIR:-/tmp}/avo-bench-build}
mkdir -p "$OUT" "$build"
export PATH=$PATH:/usr/local/cuda/bin PYTHONUNBUFFERED=1
nvcc=${NVCC:-nvcc}

{
    date -u
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
        --format=csv 2>&1
    "$nvcc" --version | tail -n 1
} | tee "$OUT/gpu.txt"

# lib NAME SRC: sm_90a and sm_80 in one library when SRC compiles for both (built side by
# side with the sm_90a-only one, which is kept when the sm_80 build fails).
lib() {
    local name=$1 src=$2
    local flags=(-O3 -std=c++17 -shared -Xcompiler -fPIC -I"$(dirname "$src")" -I"$k")
    local sm90=-gencode=arch=compute_90a,code=sm_90a sm80=-gencode=arch=compute_80,code=sm_80
    "$nvcc" "${flags[@]}" "$sm90" "$sm80" "$src" -o "$build/lib$name.both.so" > "$build/$name.both.log" 2>&1 &
    local both=$!
    "$nvcc" "${flags[@]}" "$sm90" "$src" -o "$build/lib$name.so" > "$build/$name.log" 2>&1
    local rc=$?
    if wait $both; then
        mv "$build/lib$name.both.so" "$build/lib$name.so"
        echo "built $name: sm_90a + sm_80 ($src)"
    elif [ $rc = 0 ]; then
        echo "built $name: sm_90a only ($src; sm_80: $(grep -m1 -i error "$build/$name.both.log"))"
    else
        echo "build of $name failed ($src):" >&2
        tail -n 30 "$build/$name.log" >&2
        return 1
    fi
}

libs=()
ours=${OURS:-$k/attention_sm90.cu}
case $ours in /*) ;; *) ours=$root/$ours ;; esac
lib ours "$ours" || exit 3
libs+=(--lib "ours=$build/libours.so")
for spec in ${EXTRA:-}; do
    name=${spec%%=*} src=${spec#*=}
    case $src in /*) ;; *) src=$root/$src ;; esac
    if [ "$name" = "$spec" ] || [ ! -f "$src" ]; then echo "run_h200: EXTRA wants name=path.cu, got '$spec'" >&2; exit 3; fi
    lib "$name" "$src" || exit 3
    libs+=(--lib "$name=$build/lib$name.so")
done
{
    cuobjdump --list-elf "$build/libours.so" 2>/dev/null
    echo "ours SASS: $(cuobjdump -sass "$build/libours.so" 2>/dev/null |
        grep -oE '(HGMMA|HMMA|UTMALDG|LDL|STL)' | sort | uniq -c | tr '\n' ' ')"
} | tee -a "$OUT/gpu.txt"

python3 "$here/bench.py" "${libs[@]}" --workload "${WORKLOAD:-all}" --reps "${REPS:-15}" \
    --flex "${FLEX:-auto}" --time-limit "${TIME_LIMIT:-420}" --out "$OUT/attention.json" \
    --table "$OUT/table.txt" "$@" 2>&1 | tee "$OUT/bench.log"
rc=$?
echo "run_h200: bench.py exit $rc; results in $OUT (attention.json, table.txt, bench.log, gpu.txt)"
exit $rc
