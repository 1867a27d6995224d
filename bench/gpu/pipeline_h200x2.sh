#!/usr/bin/env bash
# Issue 19 on two H200s: evaluations per minute of the same knob tune of the sm90 kernel
# through the evaluation pipeline (engine/pipeline.h) on one GPU and on both: the same
# spec, evaluation budget, seed and lookahead (so the same proposals: the lineage depends
# on them, not on the devices), each with a fresh cache (nothing served from an earlier
# run; nvcc compiles every variant in both runs).
#   bash bench/gpu/pipeline_h200x2.sh     (on an nvidia-h200-x2 machine; about 5 minutes,
#   each tune capped at 280 s; needs .devdeps/ as bench/gpu/env.sh says)
#   EVALS=24 LOOKAHEAD=8 SEED=1 SPEC=kernels/attention/avo-sm90-tune.json  (the defaults)
# Prints, per run: wall time, attempts, evaluations per minute (whole command, and over
# the search alone: after the baseline, before the final measurement), per-GPU
# utilization (busy / wall), the commits with their gain intervals; then the ratio 2 GPUs /
# 1 GPU (issue 19 asks >= 1.8 with the same commits, or commits that agree within the
# gate's intervals). Writes $OUT/pipeline.json, $OUT/pipeline.txt and
# $OUT/pipeline-results.tar.gz (run dirs, logs, status; caches left out).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. bench/gpu/env.sh
SPEC=${SPEC:-kernels/attention/avo-sm90-tune.json}
EVALS=${EVALS:-24}
LOOKAHEAD=${LOOKAHEAD:-8}
SEED=${SEED:-1}
ngpu=$(nvidia-smi -L | grep -c '^GPU ')
[ "$ngpu" -ge 2 ] || { echo "pipeline_h200x2.sh: needs 2 GPUs, found $ngpu" >&2; exit 77; }
jobs=$(nproc)

one() { # one NAME DEVICES: a fresh run with its own cache; prints wall seconds
  local name=$1 devices=$2
  local d=$OUT/pipeline-$name
  rm -rf "$d" && mkdir -p "$d"
  local t0 t1
  t0=$(date +%s.%N)
  AVO_CACHE_DIR=$d/cache timeout 280 "$AVO" tune "$SPEC" --run-dir "$d/run" --evals "$EVALS" --jobs "$jobs" \
    --backend local --devices "$devices" --lookahead "$LOOKAHEAD" --operator-options "{\"seed\": $SEED}" \
    --no-progress > "$d/tune.log" 2>&1 || { tail -20 "$d/tune.log" >&2; return 1; }
  t1=$(date +%s.%N)
  "$AVO" status "$SPEC" --run-dir "$d/run" > "$d/status.txt" 2>&1 || true
  "$AVO" status "$SPEC" --run-dir "$d/run" --json > "$d/status.json" 2>/dev/null || true
  python3 -c "print($t1 - $t0)"
}

w1=$(one 1gpu 0)
w2=$(one 2gpu 0,1)
python3 - "$OUT" "$w1" "$w2" "$EVALS" "$LOOKAHEAD" <<'PY' | tee "$OUT/pipeline.txt"
import json, sys
out, w1, w2, evals, la = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def run(name, wall):
    d = f"{out}/pipeline-{name}/run"
    att = [json.loads(l) for l in open(f"{d}/attempts.jsonl")]
    lin = [json.loads(l) for l in open(f"{d}/lineage.jsonl")]
    r = json.load(open(f"{d}/run.json"))
    search = len(att) - 1  # the baseline runs before the search clock starts
    sw = r.get("devices_wall_s") or 0
    return {"wall_s": wall, "attempts": len(att), "evals_per_min": 60 * len(att) / wall,
            "search_wall_s": sw, "search_evals_per_min": 60 * search / sw if sw else None,
            "confirm_runs": sum(a["status"] == "confirm" for a in att),
            "devices": [{"name": x["name"], "busy_s": x["busy_s"], "runs": x["runs"], "dropped": x.get("dropped", 0),
                         "utilization": x["busy_s"] / sw if sw else None} for x in r.get("devices", [])],
            "commits": [{"variant": v["variant"], "gain": v.get("gain"), "note": v.get("note")} for v in lin[1:]],
            "speedup": r.get("speedup"), "best_fitness": r.get("best_fitness"), "stop": r.get("stop_reason")}
res = {"evals": evals, "lookahead": la, "1gpu": run("1gpu", w1), "2gpu": run("2gpu", w2)}
a, b = res["1gpu"], res["2gpu"]
res["ratio"] = b["evals_per_min"] / a["evals_per_min"]
if a["search_evals_per_min"] and b["search_evals_per_min"]:
    res["search_ratio"] = b["search_evals_per_min"] / a["search_evals_per_min"]
res["same_commits"] = [c["variant"] for c in a["commits"]] == [c["variant"] for c in b["commits"]]
json.dump(res, open(f"{out}/pipeline.json", "w"), indent=1)
def iv(g):
    return "%.4fx [%.4f, %.4f]" % (g["value"], g["lo"], g["hi"]) if g else "-"
for name in ("1gpu", "2gpu"):
    x = res[name]
    print("%s: %d attempts (%d confirmation runs) in %.1f s: %.2f evals/min; search %.1f s: %s evals/min; stop: %s" % (
        name, x["attempts"], x["confirm_runs"], x["wall_s"], x["evals_per_min"], x["search_wall_s"],
        "%.2f" % x["search_evals_per_min"] if x["search_evals_per_min"] else "-", x["stop"]))
    for dv in x["devices"]:
        print("  %s: busy %.1f s of %.1f s (%.0f%%), %d runs (%d unused: confirmations queued ahead)" % (
              dv["name"], dv["busy_s"], x["search_wall_s"], 100 * (dv["utilization"] or 0), dv["runs"], dv["dropped"]))
    for c in x["commits"]:
        print("  commit %s: gain %s (%s)" % (c["variant"][:12], iv(c["gain"]), c["note"]))
    print("  final speedup over the original: %s" % iv(x["speedup"]))
print("ratio 2 GPUs / 1 GPU: %.2fx evals/min (whole command), %s (search); same commits: %s" % (
    res["ratio"], "%.2fx" % res["search_ratio"] if "search_ratio" in res else "-", res["same_commits"]))
PY
tar -C "$OUT" --exclude=cache -czf "$OUT/pipeline-results.tar.gz" pipeline-1gpu pipeline-2gpu pipeline.json pipeline.txt gpu.txt
