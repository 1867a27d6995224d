#!/usr/bin/env bash
# Issue 19 on two H200s: evaluations per minute of the same knob tune of the sm90 kernel,
# inline on one GPU against the local backend on both, same evaluation budget, each with a
# fresh cache (so nothing is served from an earlier run) and the same seed.
#   bash bench/gpu/pipeline_h200x2.sh          (on an nvidia-h200-x2 machine; EVALS=24)
# Writes $OUT/pipeline-{inline,local}/ (run dirs, logs, status) and $OUT/pipeline.json:
# wall seconds, attempts, evaluations per minute, commits (variant ids) per run, and the
# ratio local/inline (issue 19 asks >= 1.8 with the same commits, or commits that agree
# within the gate's intervals). Figures go under bench/results/ once measured.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. bench/gpu/env.sh
SPEC=kernels/attention/avo-sm90-tune.json
EVALS=${EVALS:-24}
ngpu=$(nvidia-smi -L | grep -c '^GPU ')
[ "$ngpu" -ge 2 ] || { echo "pipeline_h200x2.sh: needs 2 GPUs, found $ngpu" >&2; exit 77; }

one() { # one NAME ARGS...: a fresh run with its own cache; prints wall seconds
  local name=$1; shift
  local d=$OUT/pipeline-$name
  rm -rf "$d" && mkdir -p "$d"
  local t0 t1
  t0=$(date +%s.%N)
  AVO_CACHE_DIR=$d/cache "$AVO" tune "$SPEC" --run-dir "$d/run" --evals "$EVALS" --jobs 32 \
    --no-progress "$@" > "$d/tune.log" 2>&1 || { tail -20 "$d/tune.log" >&2; return 1; }
  t1=$(date +%s.%N)
  "$AVO" status "$SPEC" --run-dir "$d/run" > "$d/status.txt" 2>&1 || true
  "$AVO" status "$SPEC" --run-dir "$d/run" --json > "$d/status.json" 2>/dev/null || true
  python3 -c "print($t1 - $t0)"
}

w_inline=$(one inline --backend inline --gpu 0)
w_local=$(one local --backend local)
python3 - "$OUT" "$w_inline" "$w_local" "$EVALS" <<'PY'
import json, sys
out, wi, wl, evals = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
def run(name, wall):
    d = f"{out}/pipeline-{name}/run"
    att = [json.loads(l) for l in open(f"{d}/attempts.jsonl")]
    lin = [json.loads(l) for l in open(f"{d}/lineage.jsonl")]
    r = json.load(open(f"{d}/run.json"))
    return {"wall_s": wall, "attempts": len(att), "evals_per_min": 60 * len(att) / wall,
            "commits": [v["variant"] for v in lin[1:]], "gains": [v.get("gain") for v in lin[1:]],
            "speedup": r.get("speedup"), "best_fitness": r.get("best_fitness")}
res = {"evals": evals, "inline_1gpu": run("inline", wi), "local_2gpu": run("local", wl)}
res["ratio"] = res["local_2gpu"]["evals_per_min"] / res["inline_1gpu"]["evals_per_min"]
res["same_commits"] = res["local_2gpu"]["commits"] == res["inline_1gpu"]["commits"]
json.dump(res, open(f"{out}/pipeline.json", "w"), indent=1)
print(json.dumps({k: res[k] for k in ("ratio", "same_commits")}),
      "inline %.1f/min, local %.1f/min" % (res["inline_1gpu"]["evals_per_min"], res["local_2gpu"]["evals_per_min"]))
PY
