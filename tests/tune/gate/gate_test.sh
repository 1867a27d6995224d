#!/usr/bin/env bash
# The confirming gate on a synthetic kernel whose true speed is known and whose timing noise
# is injected and seeded (synth.c, synth_aa.c, harness.c: 10 samples per run, 3% noise).
# usage: gate_test.sh CASE AVO SRC_DIR WORK_DIR
#   aa       an A/A run of 200 attempts (200 variants, all equally fast) commits nothing
#   gain5    a candidate truly 5% faster is committed in at least 19 of 20 seeded trials
#   gain05   one 0.5% faster is never committed at the default minimum gain (10 trials)
set -euo pipefail
case_=$1 AVO=$2 SRC=$3 W=$4
G=$SRC/tests/tune/gate
rm -rf "$W" && mkdir -p "$W"
export AVO_CACHE_DIR=$W/cache AVO_CACHE_REMOTE=
fail() { echo "FAIL: $*" >&2; exit 1; }

# spec DIR KERNEL SEED [EXTRA JSON FIELDS]
spec() {
  local d=$1 k=$2 seed=$3 extra=${4:-}
  mkdir -p "$d"
  cp "$G/$k" "$d/synth.c"
  cp "$G/harness.c" "$d/harness.c"
  local cfg="" i=0
  for base in 1 2 4; do
    cfg="$cfg${cfg:+,}{\"name\": \"c$i\", \"args\": [\"--seed\", \"$((seed * 10 + i))\", \"--noise\", \"0.03\", \"--base-ms\", \"$base\", \"--state\", \"$d/state$i\"]}"
    i=$((i + 1))
  done
  cat > "$d/avo.json" <<JSON
{"name": "synth", "kernel": "synth.c", "harness": "harness.c", "compiler": "cc",
 "flags": ["-O1"], "link_flags": ["-lm"], "objective": "ms", "timeout": 20,
 "configs": [$cfg]$extra}
JSON
}

# commits RUN_DIR: the run's commits, after checking every commit carries its interval.
commits() {
  python3 - "$1" <<'PY'
import json, sys, os
run = sys.argv[1]
lin = [json.loads(l) for l in open(os.path.join(run, "lineage.jsonl"))]
att = [json.loads(l) for l in open(os.path.join(run, "attempts.jsonl"))]
r = json.load(open(os.path.join(run, "run.json")))
assert r["attempts"] == len(att), (r["attempts"], len(att))
for v in lin[1:]:  # a commit's interval clears the default minimum gain (1%)
    g = v["gain"]
    assert g["lo"] > 1.01 and g["lo"] <= g["value"] <= g["hi"] and g["samples"] > 0, g
print(len(lin) - 1)
PY
}

case $case_ in
aa)
  d=$W/aa
  spec "$d" synth_aa.c 7 ', "knob": {"seed": 7}'
  "$AVO" tune "$d/avo.json" --run-dir "$d/run" --evals 200 --confirm 2 --no-progress 2> "$d/log" ||
    { cat "$d/log"; fail "tune failed"; }
  n=$(commits "$d/run")
  att=$(wc -l < "$d/run/attempts.jsonl")
  conf=$(grep -c '"status":"confirm"' "$d/run/attempts.jsonl" || true)
  echo "A/A: $att attempts ($conf confirmation runs), $n commits"
  [ "$att" = 200 ] || fail "expected 200 attempts, got $att"
  [ "$conf" -gt 0 ] || fail "no candidate was ever confirmed: the A/A run did not test the gate"
  [ "$n" = 0 ] || { tail -5 "$d/run/lineage.jsonl"; fail "the A/A run committed $n versions"; }
  ;;
gain5|gain05)
  want=1050 trials=20
  [ "$case_" = gain05 ] && want=1005 trials=10
  printf '#!/bin/sh\ncat > /dev/null\necho %s\n' "'{\"knobs\": {\"SPEED\": \"$want\"}}'" > "$W/agent.sh"
  chmod +x "$W/agent.sh"
  # Trials two at a time (the noise is injected, so they do not disturb each other):
  # baseline, the candidate, 2 confirmation pairs; then the final measurement.
  for t in $(seq 1 $trials); do
    d=$W/t$t
    spec "$d" synth.c "$t" ", \"operator\": \"command\", \"command\": {\"argv\": [\"$W/agent.sh\"]}"
    "$AVO" tune "$d/avo.json" --run-dir "$d/run" --evals 6 --confirm 2 --no-progress 2> "$d/log" &
    [ $((t % 2)) = 0 ] && wait
  done
  wait
  ok=0
  for t in $(seq 1 $trials); do
    d=$W/t$t
    grep -q "stopped" "$d/log" || { cat "$d/log"; fail "tune failed (trial $t)"; }
    n=$(commits "$d/run")
    ok=$((ok + n))
    if [ "$n" = 1 ]; then
      python3 - "$d/run/run.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["speedup"]
assert f["lo"] <= f["value"] <= f["hi"] and f["samples"] > 0, f
PY
    fi
  done
  echo "$case_: committed in $ok of $trials trials"
  if [ "$case_" = gain5 ]; then
    [ "$ok" -ge 19 ] || fail "a 5% gain was committed in only $ok of 20 trials"
  else
    [ "$ok" = 0 ] || fail "a 0.5% gain was committed in $ok trials (default min gain 1%)"
  fi
  ;;
*) fail "unknown case $case_" ;;
esac
