#!/usr/bin/env bash
# Median wall time of a local cache hit, process start to exit:
#   avo cache get obj <key> -o /dev/null, run N times (default 50).
# usage: tests/cache/measure_hit.sh path/to/avo [N] [payload-bytes]
set -euo pipefail
avo=${1:?usage: measure_hit.sh AVO [N] [BYTES]}; n=${2:-50}; bytes=${3:-16384}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
head -c "$bytes" /dev/urandom > "$dir/in"
key=$(AVO_CACHE_REMOTE= "$avo" cache --dir "$dir/c" put-object "$dir/in")
"$avo" cache --dir "$dir/c" get obj "$key" -o /dev/null   # warm the page cache
python3 - "$avo" "$dir/c" "$key" "$n" <<'PY'
import os, statistics, subprocess, sys, time
avo, d, key, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = dict(os.environ, AVO_CACHE_REMOTE="")
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run([avo, "cache", "--dir", d, "get", "obj", key, "-o", "/dev/null"], env=env, check=True)
    ts.append((time.perf_counter() - t) * 1e3)
ts.sort()
print(f"local hit, {n} runs: median {statistics.median(ts):.2f} ms, min {ts[0]:.2f} ms, max {ts[-1]:.2f} ms")
PY
