#!/usr/bin/env bash
# Wall time of `avo apply` per kernel, process start to exit, as a build runs it:
#   hit   - a tuned result in the local cache (the compiler identity remembered)
#   miss  - an empty cache, no remote (the original is used)
# for `avo apply` and, when it is next to avo, `avo-apply` (what avo_tune() builds run).
# usage: tests/cmake/measure_apply.sh path/to/avo [N]      (N runs each, default 200)
set -euo pipefail
avo=$(realpath "${1:?usage: measure_apply.sh AVO [N]}"); n=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
cp "$here/project/kernel/"* "$here/project/include/app.h" "$dir/"
cat >"$dir/avo.json" <<JSON
{"name": "kern", "kernel": "kern.c", "harness": "harness.c", "compiler": "cc",
 "flags": ["-O2"], "include_dirs": ["."], "defines": ["FIXTURE_BASE=40"],
 "configs": [{"name": "c0", "args": ["--n", "8"]}, {"name": "big", "args": ["--n", "64"]}]}
JSON
export AVO_CACHE_REMOTE=""
key=$(AVO_CACHE_DIR=$dir/hit "$avo" apply "$dir/avo.json" -o "$dir/out.c" --json |
	sed -n 's/.*"tuning_key":"\([0-9a-f]*\)".*/\1/p')
sed 's/#define SCALE 1 /#define SCALE 2 /' "$dir/kern.c" >"$dir/variant.c"
variant=$(AVO_CACHE_DIR=$dir/hit "$avo" cache put-object "$dir/variant.c")
printf '{"tuning_key":"%s","variant":"%s","fitness":2,"baseline_fitness":1,"objective":"ms"}' \
	"$key" "$variant" >"$dir/entry.json"
AVO_CACHE_DIR=$dir/hit "$avo" cache put tune "$key" "$dir/entry.json"
AVO_CACHE_DIR=$dir/hit "$avo" apply "$dir/avo.json" -o "$dir/out.c"   # the status line, once
AVO_CACHE_DIR=$dir/miss "$avo" apply "$dir/avo.json" -o "$dir/out2.c" # warms the compiler id
python3 - "$avo" "$dir" "$n" <<'PY'
import os, statistics, subprocess, sys, time
avo, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def bench(cmd, cache, out):
    env = dict(os.environ, AVO_CACHE_DIR=os.path.join(d, cache))
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd + [os.path.join(d, "avo.json"), "-o", os.path.join(d, out)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        ts.append((time.perf_counter() - t) * 1e3)
    ts.sort()
    return f"median {statistics.median(ts):.2f} ms, min {ts[0]:.2f} ms, p90 {ts[int(n * 0.9)]:.2f} ms"
def true():
    ts = []
    for _ in range(n):
        t = time.perf_counter(); subprocess.run(["true"]); ts.append((time.perf_counter() - t) * 1e3)
    return f"median {statistics.median(ts):.2f} ms"
print(f"{n} runs each, load average {os.getloadavg()[0]:.1f}")
cmds = [("avo apply", [avo, "apply"])]
light = os.path.join(os.path.dirname(avo), "avo-apply")
if os.access(light, os.X_OK):
    cmds.append(("avo-apply", [light]))
for name, cmd in cmds:
    print(f"  {name:9} local cache hit: {bench(cmd, 'hit', 'out.c')}")
    print(f"  {name:9} miss (original): {bench(cmd, 'miss', 'out2.c')}")
print(f"  (process spawn floor, /bin/true: {true()})")
PY
