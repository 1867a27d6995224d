#!/bin/sh
# Time `avo regions` (process start to exit) on a generated ~1000-line CUDA file: median of
# RUNS runs. usage: bench_regions.sh AVO [RUNS]
set -eu
avo=$1
runs=${2:-9}
dir=$(mktemp -d /tmp/avo-bench-regions-XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 "$(dirname "$0")/gen_big_kernel.py" "$dir/big.cu" 24
"$avo" regions "$dir/big.cu" | head -1
i=0
while [ $i -lt "$runs" ]; do
  s=$(date +%s.%N); "$avo" regions "$dir/big.cu" >/dev/null; e=$(date +%s.%N)
  echo "$e - $s" | bc -l
  i=$((i + 1))
done | sort -n | awk '{ t[NR] = $1 } END { printf "median of %d runs: %.3f s (min %.3f, max %.3f)\n", NR, t[int((NR + 1) / 2)], t[1], t[NR] }'
