#!/usr/bin/env bash
# On the GPU host: `avo eval` of the sm90 attention kernel on the 24 AVO configs with the
# new harness (kernels/attention/harness.cu on avo's harness library, avo-sm90.json) and
# with the old single-binary one (harness_legacy.cu, avo-sm90-legacy.json, run under
# --trust-harness), interleaved old, new, old, new, ... in one session. Prints correctness
# and fitness of each, then per config the median TFLOP/s of both and their ratio, so the
# fitness of the two harnesses can be compared within the run-to-run noise.
#   bash bench/gpu/harness_h200.sh            (ROUNDS=2 by default; about 6-8 minutes)
# Needs .devdeps/ as bench/gpu/env.sh says. Writes $OUT/harness-{old,new}-N.json and
# $OUT/harness-compare.txt.
set -uo pipefail
source "$(dirname "$0")/env.sh" || exit 4
cd "$ROOT"
ROUNDS=${ROUNDS:-2}
export AVO_HARNESS_DIR=${AVO_HARNESS_DIR:-$ROOT/harness} # the library next to this checkout
mkdir -p "$OUT/specs"
# Every round needs a fresh evaluation but not a fresh compile: the eval cache key holds
# the tolerance, the compile cache key does not, so each round's spec copy moves the
# tolerance by 1e-12 (nothing else changes).
spec_for() { # KIND ROUND
	local src=kernels/attention/avo-sm90.json
	[ "$1" = old ] && src=kernels/attention/avo-sm90-legacy.json
	python3 - "$src" "$OUT/specs/$1-$2.json" "$2" "$ROOT/kernels/attention" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["tolerance"] = s.get("tolerance", 1e-2) + 1e-12 * int(sys.argv[3])
for k in ("kernel", "harness"):
    s[k] = sys.argv[4] + "/" + s[k]
json.dump(s, open(sys.argv[2], "w"), indent=1)
PY
}
t0=$(date +%s)
for r in $(seq "$ROUNDS"); do
	for kind in old new; do
		spec_for "$kind" "$r" || exit 4
		extra=()
		[ "$kind" = old ] && extra=(--trust-harness)
		t=$(date +%s)
		"$AVO" eval "$OUT/specs/$kind-$r.json" --jobs 16 --json "${extra[@]}" >"$OUT/harness-$kind-$r.json" \
			2>"$OUT/harness-$kind-$r.log"
		python3 - "$OUT/harness-$kind-$r.json" "$kind" "$r" "$(( $(date +%s) - t ))" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [c["name"] + ":" + c["status"] for c in r["configs"] if c["status"] != "ok"]
print("round %s %-3s: %s, fitness %.2f TFLOP/s (geomean of %d configs), protocol %s, %s s%s" % (
    sys.argv[3], sys.argv[2], "correct" if r["correct"] else "INCORRECT", r["fitness"], len(r["configs"]),
    r.get("harness_protocol"), sys.argv[4], (" failed: " + " ".join(bad)) if bad else ""))
PY
	done
done
python3 - "$OUT" "$ROUNDS" <<'PY' | tee "$OUT/harness-compare.txt"
import json, statistics as st, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = {k: [json.load(open("%s/harness-%s-%d.json" % (out, k, r))) for r in range(1, rounds + 1)] for k in ("old", "new")}
names = [c["name"] for c in runs["new"][0]["configs"]]
def tf(k, name):
    return [c["tflops"] for r in runs[k] for c in r["configs"] if c["name"] == name and c["status"] == "ok"]
print("%-24s %12s %12s %8s %10s" % ("config", "old TFLOP/s", "new TFLOP/s", "new/old", "old spread"))
ratios = []
for n in names:
    o, w = tf("old", n), tf("new", n)
    if not o or not w:
        print("%-24s missing (old %d, new %d runs ok)" % (n, len(o), len(w)))
        continue
    mo, mw = st.median(o), st.median(w)
    spread = (max(o) - min(o)) / mo if len(o) > 1 else float("nan")
    ratios.append(mw / mo)
    print("%-24s %12.1f %12.1f %8.3f %9.1f%%" % (n, mo, mw, mw / mo, 100 * spread))
fit = {k: [r["fitness"] for r in runs[k]] for k in runs}
print("fitness old: %s" % " ".join("%.2f" % f for f in fit["old"]))
print("fitness new: %s" % " ".join("%.2f" % f for f in fit["new"]))
if ratios:
    g = 1.0
    for x in ratios:
        g *= x
    print("geomean new/old over %d configs: %.4f; correct: old %s, new %s" % (
        len(ratios), g ** (1 / len(ratios)), all(r["correct"] for r in runs["old"]), all(r["correct"] for r in runs["new"])))
PY
echo "harness_h200: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/harness-compare.txt"
