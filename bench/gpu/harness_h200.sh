#!/usr/bin/env bash
# On the GPU host: `avo eval` of the sm90 attention kernel on the 24 AVO configs with the
# new harness (kernels/attention/harness.cu on avo's harness library, avo-sm90.json) and
# with the old single-binary one (harness_legacy.cu, avo-sm90-legacy.json, run under
# --trust-harness), interleaved old, new, old, new, ... (ROUNDS of each) in one session,
# while nvidia-smi logs the SM clock, power and temperature every 100 ms. Prints per config
# the ratio new/old with a bootstrap 95% interval (bench/gpu/harness_compare.py), the
# overall ratio (geomean, as fitness) with its interval, and the clock per run.
#   OUT=/tmp/h ROUNDS=2 bash bench/gpu/harness_h200.sh                (~3.5 minutes a round)
#   SMI_GPU=N: log only GPU N (when CUDA_VISIBLE_DEVICES picks it beside other work)
#   OUT=/tmp/h FIRST_ROUND=3 ROUNDS=4 bash bench/gpu/harness_h200.sh  (more rounds, same OUT:
#                                          the comparison then covers rounds 1..4)
# Needs .devdeps/ as bench/gpu/env.sh says. Writes $OUT/harness-{old,new}-N.json,
# $OUT/smi.csv, $OUT/spans.txt and $OUT/harness-compare.txt.
set -uo pipefail
source "$(dirname "$0")/env.sh" || exit 4
cd "$ROOT"
# Both harnesses time after a warm hold (protocol version 2: README in
# bench/results/harness-h200); an avo from before it cannot speak to this tree's library.
grep -q "held the device warm" "$AVO" ||
	{ echo "harness_h200: $AVO predates protocol version 2: rebuild and rerun bench/gpu/fetch_devdeps.sh" >&2; exit 4; }
ROUNDS=${ROUNDS:-2}
FIRST_ROUND=${FIRST_ROUND:-1}
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
[ "$FIRST_ROUND" = 1 ] && : >"$OUT/spans.txt" && : >"$OUT/smi.csv"
# Clock, power and temperature while the runs go: the explanation of any gap between the
# two harnesses (README in bench/results/harness-h200) is read off these.
nvidia-smi ${SMI_GPU:+-i $SMI_GPU} --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu --format=csv,noheader,nounits -lms 100 |
	while IFS=, read -r ts rest; do echo "$(date -d "$ts" +%s.%N 2>/dev/null || echo 0),$rest"; done >>"$OUT/smi.csv" &
smi=$!
for r in $(seq "$FIRST_ROUND" "$ROUNDS"); do
	for kind in old new; do
		spec_for "$kind" "$r" || exit 4
		extra=()
		[ "$kind" = old ] && extra=(--trust-harness)
		t=$(date +%s)
		ts=$(date +%s.%N)
		"$AVO" eval "$OUT/specs/$kind-$r.json" --jobs 16 --json "${extra[@]}" >"$OUT/harness-$kind-$r.json" \
			2>"$OUT/harness-$kind-$r.log"
		echo "$kind-$r $ts $(date +%s.%N)" >>"$OUT/spans.txt"
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
kill "$smi" 2>/dev/null
wait "$smi" 2>/dev/null
python3 "$ROOT/bench/gpu/harness_compare.py" "$OUT" "$ROUNDS" "$OUT/smi.csv" | tee "$OUT/harness-compare.txt"
echo "harness_h200: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/harness-compare.txt"
