#!/usr/bin/env bash
# The confirming gate on an H200 (issue 15): two knob tunes of the sm90 kernel with the same
# budget, then an A/A run (a `command` operator that re-proposes the original with only a
# comment added to a region: a new variant, the same machine code). Writes under $OUT:
#   tune1/ tune2/ aa/   run dirs;  *.log  avo's output;  *-status.txt  *-report.html
#   summary.txt         every commit's gain and interval, the final speedups, the A/A count
# About 8 minutes. Needs .devdeps/ as bench/gpu/env.sh says.
#   OUT=/path bash bench/gpu/gate_h200.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
source bench/gpu/env.sh || exit 4
SPEC=kernels/attention/avo-sm90-tune.json
EVALS=${EVALS:-24} BUDGET=${BUDGET:-140s}

tune() { # NAME [extra avo tune args...]
  local name=$1; shift
  local t0=$(date +%s)
  AVO_CACHE_DIR=/tmp/avo-cache-$name "$AVO" tune "$@" --run-dir "$OUT/$name" --fresh-run --jobs 16 \
    --no-progress > "$OUT/$name.log" 2>&1
  echo "$name: exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$OUT/summary.txt"
  "$AVO" status "${@:1:1}" --run-dir "$OUT/$name" > "$OUT/$name-status.txt" 2>&1
  "$AVO" report "${@:1:1}" --run-dir "$OUT/$name" -o "$OUT/$name-report.html" > /dev/null 2>&1
}

# Two knob tunes, same budget, separate caches (so their measurements are independent).
tune tune1 "$SPEC" --evals "$EVALS" --budget "$BUDGET"
tune tune2 "$SPEC" --evals "$EVALS" --budget "$BUDGET"

# A/A: the operator proposes the original again, with a comment in one region.
cat > "$OUT/aa_agent.py" <<'PY'
import json, os, sys
req = json.load(sys.stdin)
state = sys.argv[1]
n = int(open(state).read()) if os.path.exists(state) else 0
open(state, "w").write(str(n + 1))
name = "rescale_pack" if "rescale_pack" in req["regions"] else sorted(req["regions"])[0]
text = req["regions"][name]
if not text.endswith("\n"):
    text += "\n"
print(json.dumps({"regions": {name: text + "// a/a proposal %d: the same code\n" % n}, "note": "A/A"}))
PY
python3 - "$SPEC" "$OUT" <<'PY'
import json, sys, os
spec, out = sys.argv[1], sys.argv[2]
s = json.load(open(spec))
d = os.path.dirname(os.path.abspath(spec))
for k in ("kernel", "harness", "knowledge"):
    if k in s and not os.path.isabs(s[k]):
        s[k] = os.path.join(d, s[k])
s["name"] = "attention-sm90-aa"
s["operator"] = "command"
s["command"] = {"argv": ["python3", os.path.join(out, "aa_agent.py"), os.path.join(out, "aa_agent.state")]}
json.dump(s, open(os.path.join(out, "aa.json"), "w"), indent=1)
PY
tune aa "$OUT/aa.json" --evals "${AA_EVALS:-16}" --budget "${AA_BUDGET:-120s}"

python3 - "$OUT" <<'PY' | tee -a "$OUT/summary.txt"
import json, os, sys
out = sys.argv[1]
for name in ("tune1", "tune2", "aa"):
    d = os.path.join(out, name)
    try:
        lin = [json.loads(l) for l in open(os.path.join(d, "lineage.jsonl"))]
        att = [json.loads(l) for l in open(os.path.join(d, "attempts.jsonl"))]
        r = json.load(open(os.path.join(d, "run.json")))
    except OSError as e:
        print(name, "no run:", e)
        continue
    conf = sum(1 for a in att if a["status"] == "confirm")
    unc = sum(1 for a in att if a["status"] == "unconfirmed")
    print("%s: %d attempts (%d confirmation runs, %d unconfirmed candidates), %d commits"
          % (name, len(att), conf, unc, len(lin) - 1))
    for v in lin[1:]:
        g = v.get("gain") or {}
        print("  v%d (parent v%s): gain %.4fx [%.4f, %.4f] over %s samples; %s" % (
            v["id"], v["parent"], g.get("value", 0), g.get("lo", 0), g.get("hi", 0), g.get("samples"),
            v.get("note", "")))
    f = r.get("speedup")
    if f:
        print("  final: best v%s vs original: %.4fx [%.4f, %.4f] (%s confidence, %s samples)" % (
            r.get("best_id"), f["value"], f["lo"], f["hi"], f.get("confidence"), f.get("samples")))
    else:
        print("  final: none (nothing committed)")
    noise = {}
    for a in att:
        for sc in a.get("scores") or []:
            if sc.get("noise") is not None:
                noise.setdefault(sc["config"], []).append(sc["noise"])
    if noise:
        print("  noise per config (median rel. sd of a run's samples): " + ", ".join(
            "%s %.4f" % (k, sorted(v)[len(v) // 2]) for k, v in sorted(noise.items())))
PY
