#!/usr/bin/env bash
# Time per knob attempt on the CPU example, before vs after issue 13, on the same budget.
#
#   [OP=command] bench/arch/attempt_time.sh BEFORE_AVO BEFORE_SRC AFTER_AVO AFTER_SRC [ROUNDS] [EVALS] [OUT]
#
# OP=command runs the `command` operator instead of the knob search: a scripted agent
# (operator_agent.py) that proposes the knob points in a fixed order, so both sides see the
# same candidates; that is the path where issue 13 removed the second and third parse.
#
# BEFORE_AVO/AFTER_AVO: the two avo binaries (Release builds); *_SRC: their source trees,
# whose kernels/cpu (spec, kernel, harness) each one tunes. Build the "before" one with
#   git -C /work/main worktree add --detach /tmp/avo-before 304586b
#   cmake -S /tmp/avo-before -B /tmp/avo-before/build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build /tmp/avo-before/build-rel --target avo
# and the "after" one the same way from the current tree.
#
# Each run: `avo tune <copy of kernels/cpu>/avo.json --run-dir DIR --evals EVALS --fresh-run`
# under /usr/bin/time -v, with a fresh cache (nothing is served from an earlier run) and
# an LD_PRELOAD shim (count_parses.c) that counts libclang parses. The runs ALTERNATE
# (before, after, before, after, ...): on a shared machine the load drifts, and
# alternating spreads the drift over both sides instead of charging it to one. The load
# (uptime) is logged before every run. Prints a table of medians; the raw rows go to
# OUT/runs.tsv and each run's stderr and time -v output to OUT/<side>-<round>.log.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,20p "$0"; exit 2; }
B_AVO=$(realpath "$1") B_SRC=$(realpath "$2") A_AVO=$(realpath "$3") A_SRC=$(realpath "$4")
ROUNDS=${5:-3} EVALS=${6:-30} OUT=${7:-$(mktemp -d /tmp/attempt-time.XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
SHIM=$OUT/count_parses.so
cc -O2 -shared -fPIC -o "$SHIM" "$HERE/count_parses.c" -ldl
printf 'side\tround\twall_s\tuser_s\tsys_s\tattempts\tknob_attempts\tparses\tload1\n' > "$OUT/runs.tsv"

run_one() { # side avo src round
	local side=$1 avo=$2 src=$3 r=$4 w
	w=$(mktemp -d /tmp/attempt-time-run.XXXXXX)
	mkdir -p "$w/k" && cp "$src"/kernels/cpu/{avo.json,attention.c,attention.h,harness.c} "$w/k/"
	if [ "${OP:-knob}" = command ]; then
		python3 - "$w/k/avo.json" "$HERE/operator_agent.py" "$w/agent.counter" <<'PY'
import json, sys
spec, agent, counter = sys.argv[1:]
s = json.load(open(spec))
s["operator"] = "command"
s["command"] = {"argv": ["python3", agent, counter]}
json.dump(s, open(spec, "w"), indent=1)
PY
	fi
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	echo "[$side round $r] $(uptime)" >&2
	local rc=0
	AVO_CACHE_DIR=$w/cache AVO_CACHE_REMOTE= AVO_PARSE_LOG=$w/parses LD_PRELOAD=$SHIM \
		/usr/bin/time -v "$avo" tune "$w/k/avo.json" --run-dir "$w/run" --evals "$EVALS" \
		--fresh-run --no-progress > "$OUT/$side-$r.log" 2>&1 || rc=$?
	[ $rc = 0 ] || { tail -20 "$OUT/$side-$r.log" >&2; echo "$side round $r: exit $rc" >&2; exit 1; }
	python3 - "$side" "$r" "$OUT/$side-$r.log" "$w/run/attempts.jsonl" "$w/parses" "$load" >> "$OUT/runs.tsv" <<'PY'
import json, os, re, sys
side, r, log, att, plog, load = sys.argv[1:]
t = open(log).read()
def clock(s):
    p = [float(x) for x in s.split(":")]
    return sum(v * 60 ** i for i, v in enumerate(reversed(p)))
wall = clock(re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1))
user = float(re.search(r"User time \(seconds\): (\S+)", t).group(1))
sys_ = float(re.search(r"System time \(seconds\): (\S+)", t).group(1))
rows = [json.loads(l) for l in open(att)]
knob = sum(1 for a in rows if a.get("operator") in ("knob", "command"))
parses = sum(int(l.split()[1]) for l in open(plog)) if os.path.exists(plog) else 0
print(f"{side}\t{r}\t{wall:.2f}\t{user:.2f}\t{sys_:.2f}\t{len(rows)}\t{knob}\t{parses}\t{load}")
PY
	rm -rf "$w"
}

for r in $(seq "$ROUNDS"); do
	run_one before "$B_AVO" "$B_SRC" "$r"
	run_one after "$A_AVO" "$A_SRC" "$r"
done

python3 - "$OUT/runs.tsv" "$EVALS" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"| side | runs | median wall s ({sys.argv[2]} evals) | median s / attempt | median s / operator attempt | median user+sys s | libclang parses / operator attempt | load (1 min) at starts |")
print("|---|---|---|---|---|---|---|---|")
for side in ("before", "after"):
    s = [x for x in rows if x["side"] == side]
    f = lambda k: [float(x[k]) for x in s]
    wall = st.median(f("wall_s"))
    per = st.median([float(x["wall_s"]) / int(x["attempts"]) for x in s])
    perk = st.median([float(x["wall_s"]) / max(1, int(x["knob_attempts"])) for x in s])
    cpu = st.median([float(x["user_s"]) + float(x["sys_s"]) for x in s])
    pk = st.median([int(x["parses"]) / max(1, int(x["knob_attempts"])) for x in s])
    loads = " ".join(x["load1"] for x in s)
    print(f"| {side} | {len(s)} | {wall:.2f} | {per:.3f} | {perk:.3f} | {cpu:.2f} | {pk:.2f} | {loads} |")
print(f"\nraw rows: {sys.argv[1]}")
PY
