#!/bin/sh
# Time `avo regions` (process start to exit) on a generated ~1000-line CUDA file: median wall
# time of RUNS runs, and the median CPU time (user+sys), which a busy machine disturbs less.
# usage: bench_regions.sh AVO [RUNS]
set -eu
avo=$1
runs=${2:-9}
dir=$(mktemp -d /tmp/avo-bench-regions-XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 "$(dirname "$0")/gen_big_kernel.py" "$dir/big.cu" 24
"$avo" regions "$dir/big.cu" | head -1
i=0
while [ $i -lt "$runs" ]; do
  /usr/bin/time -f "%e %U %S" -a -o "$dir/times" "$avo" regions "$dir/big.cu" >/dev/null
  i=$((i + 1))
done
awk '{ print $1 }' "$dir/times" | sort -n | awk '{ t[NR] = $1 } END {
  printf "wall: median of %d runs %.3f s (min %.3f, max %.3f)\n", NR, t[int((NR + 1) / 2)], t[1], t[NR] }'
awk '{ print $2 + $3 }' "$dir/times" | sort -n | awk '{ t[NR] = $1 } END {
  printf "cpu (user+sys): median %.3f s (min %.3f, max %.3f)\n", t[int((NR + 1) / 2)], t[1], t[NR] }'
