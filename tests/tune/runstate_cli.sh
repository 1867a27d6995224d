#!/usr/bin/env bash
# The run state through the real CLI on the CPU example:
#   fixture   a run dir written by an older avo (fixtures/pre-runrec) still reports, applies
#             and resumes; fixture_pre13 the same for one written before issue 13
#             (fixtures/pre-issue13)
#   lock      a second `avo tune` on a held run dir fails at once naming the holder; the
#             lock of a kill -9'd run is taken over
#   store     a cache that cannot store objects never leaves a phantom commit: the attempt
#             is recorded as failed with its cause, and the edit is tried again on resume
# usage: runstate_cli.sh CASE AVO SRC_DIR WORK_DIR
set -euo pipefail
case_=$1 AVO=$2 SRC=$3 W=$4
rm -rf "$W" && mkdir -p "$W"
export AVO_CACHE_DIR=$W/cache AVO_CACHE_REMOTE=
fail() { echo "FAIL: $*" >&2; exit 1; }
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

case $case_ in
fixture|fixture_pre13)
  # pre-runrec: written at 74b26a7 (before the run records moved to engine/runrec.c);
  # pre-issue13: written at 304586b, before issue 13 began. Both harnesses speak the legacy
  # protocol (one JSON line), which a resume runs only when the spec says so and
  # --trust-harness is given: otherwise every new attempt would fail its protocol.
  FX=pre-runrec FIT=0.0047952300547500128 COMMITS=1
  [ "$case_" = fixture ] || FX=pre-issue13 FIT=0.001697188774970564 COMMITS=2
  cp -r "$SRC/tests/tune/fixtures/$FX" "$W/k"
  chmod -R u+w "$W/k"
  export AVO_CACHE_DIR=$W/k/cache
  K=$W/k RUN=$W/k/run
  # status and report read it as it is.
  "$AVO" status "$K/avo.json" --run-dir "$RUN" --json > "$W/status.json" 2> "$W/status.err" ||
    { cat "$W/status.err"; fail "status failed"; }
  [ ! -s "$W/status.err" ] || { cat "$W/status.err"; fail "status warned on a clean old run"; }
  [ "$(jq_ "$W/status.json" "d['attempts']")" = 8 ] || fail "status: attempts"
  [ "$(jq_ "$W/status.json" "d['commits']")" = $COMMITS ] || fail "status: commits"
  "$AVO" report "$K/avo.json" --run-dir "$RUN" -o "$W/report.html" 2> "$W/report.err" ||
    { cat "$W/report.err"; fail "report failed"; }
  grep -q "TILE_K" "$W/report.html" || fail "report: the commit's change is not shown"
  # apply serves the tuned variant the old run published.
  "$AVO" apply "$K/avo.json" -o "$W/applied.c" > "$W/apply.log" 2>&1 || { cat "$W/apply.log"; fail "apply failed"; }
  grep -q "from local cache" "$W/apply.log" || { cat "$W/apply.log"; fail "apply did not use the tuned variant"; }
  grep -q "^#define TILE_K 16 " "$W/applied.c" && grep -q "^#define UNROLL 4 " "$W/applied.c" ||
    fail "the applied file is not version 1 (TILE_K 16, UNROLL 4)"
  # export writes the variant and a manifest from the old tune entry.
  "$AVO" export "$K/avo.json" --dir "$W/ship" > "$W/export.log" 2>&1 || { cat "$W/export.log"; fail "export failed"; }
  python3 - "$W/ship/cpu/attention.c.avo.json" "$FIT" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
fit = float(sys.argv[2])
assert m["variant_hash"] == "997da20538f99d36d0ddc6c71235cf58", m
assert len(m["tuning_key"]) == 32 and m["arch"] == "cpu", m  # today's key (the entry may be filed under the old one)
assert abs(m["fitness"] - fit) < 1e-15 and m["baseline_fitness"] > 0, m
assert [s["config"] for s in m["scores"]] == ["s128-d64", "s200-k333-d48-causal", "s256-d128"], m
assert "speedup" not in m and m["tuned_time"] > 0 and m["avo_version"], m
PY
  # resume continues it: the old records stay, new ones follow with the next numbers.
  python3 - "$K/avo.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["harness_protocol"] = "legacy-trusted"
json.dump(j, open(sys.argv[1], "w"), indent=2)
PY
  "$AVO" tune "$K/avo.json" --run-dir "$RUN" --resume --evals 11 --no-progress --trust-harness 2> "$W/tune.log" ||
    { cat "$W/tune.log"; fail "resume failed"; }
  grep -q "(resumed)" "$W/tune.log" || fail "not resumed"
  [ "$(lines "$RUN/attempts.jsonl")" = 11 ] || fail "expected 11 attempts after resume"
  python3 - "$RUN" "$SRC/tests/tune/fixtures/$FX/run" <<'PY'
import json, sys
new, old = sys.argv[1], sys.argv[2]
for f in ("attempts.jsonl", "lineage.jsonl"):
    o = [json.loads(l) for l in open(f"{old}/{f}")]
    n = [json.loads(l) for l in open(f"{new}/{f}")]
    assert n[:len(o)] == o, f"{f}: the old records changed"
att = [json.loads(l) for l in open(f"{new}/attempts.jsonl")]
assert [a["n"] for a in att] == list(range(1, 12)), [a["n"] for a in att]
assert all(a["status"] not in ("protocol", "error", "compile") for a in att[8:]), att[8:]  # really evaluated
r = json.load(open(f"{new}/run.json"))
assert r["attempts"] == 11 and r["done"] is True, r
PY
  ;;
lock)
  cp "$SRC"/kernels/cpu/{avo.json,attention.c,attention.h,harness.c} "$W/"
  RUN=$W/run
  # Hold the run dir with a tune that runs long, then try a second one.
  "$AVO" tune "$W/avo.json" --run-dir "$RUN" --evals 400 --no-progress 2> "$W/first.log" &
  first=$!
  for _ in $(seq 100); do [ -s "$RUN/lineage.jsonl" ] && break; sleep 0.1; done
  [ -s "$RUN/lineage.jsonl" ] || { kill -9 $first; fail "the first tune did not start"; }
  t0=$(date +%s)
  rc=0; "$AVO" tune "$W/avo.json" --run-dir "$RUN" --resume --evals 3 --no-progress 2> "$W/second.log" || rc=$?
  [ $(( $(date +%s) - t0 )) -lt 5 ] || fail "the second tune waited"
  [ $rc = 4 ] || { cat "$W/second.log"; kill -9 $first; fail "second tune: exit $rc, expected 4"; }
  grep -q "another avo is running this tune (pid $first on $(hostname) since " "$W/second.log" ||
    { cat "$W/second.log"; kill -9 $first; fail "the holder is not named"; }
  rc=0; "$AVO" tune "$W/avo.json" --run-dir "$RUN" --fresh-run --evals 3 --no-progress 2> "$W/fresh.log" || rc=$?
  [ $rc = 4 ] && [ -s "$RUN/lineage.jsonl" ] || { kill -9 $first; fail "--fresh-run moved a held run aside"; }
  # kill -9: the lock is stale, the next tune takes it over and resumes.
  kill -9 $first; wait $first 2>/dev/null || true
  touch "$RUN/run.json.tmp.$first.7"
  "$AVO" tune "$W/avo.json" --run-dir "$RUN" --resume --evals 1 --no-progress 2> "$W/third.log" ||
    { cat "$W/third.log"; fail "the stale lock was not taken over"; }
  [ ! -e "$RUN/run.json.tmp.$first.7" ] || fail "the killed run's temp file is still there"
  ;;
store)
  cp "$SRC"/kernels/cpu/{avo.json,attention.c,attention.h,harness.c} "$W/"
  # A space of 16 points (TILE_Q fixed), so that the last run below can exhaust it.
  sed -i 's|^#define TILE_Q 16 // avo:knob .*|#define TILE_Q 16 // avo:knob 16|' "$W/attention.c"
  grep -q '^#define TILE_Q 16 // avo:knob 16$' "$W/attention.c" || fail "kernels/cpu/attention.c: no TILE_Q knob to fix"
  RUN=$W/run
  "$AVO" tune "$W/avo.json" --run-dir "$RUN" --evals 1 --no-progress 2> "$W/t1.log" || { cat "$W/t1.log"; fail "baseline"; }
  # The object store breaks (a full disk reads the same to avo: the write fails).
  mv "$W/cache/obj" "$W/cache/obj.ok" && : > "$W/cache/obj"
  # (The gate confirms a candidate before it commits: room for a few confirmations.)
  rc=0; "$AVO" tune "$W/avo.json" --run-dir "$RUN" --resume --evals 40 --confirm 2 --no-progress 2> "$W/t2.log" || rc=$?
  [ $rc = 4 ] || { cat "$W/t2.log"; fail "a failed store: exit $rc, expected 4"; }
  grep -q "not committed: storing the committed variant" "$W/t2.log" || { cat "$W/t2.log"; fail "no cause on stderr"; }
  python3 - "$RUN" > "$W/failed_edit" <<'PY'
import json, sys
att = [json.loads(l) for l in open(sys.argv[1] + "/attempts.jsonl")]
lin = [json.loads(l) for l in open(sys.argv[1] + "/lineage.jsonl")]
versions = {v["variant"] for v in lin}
for a in att:  # no phantom: every committed attempt has its version
    assert a["status"] != "committed" or a["variant"] in versions, ("phantom commit", a["n"])
bad = [a for a in att if a["status"] == "error"]
assert len(bad) == 1 and "not committed: storing the committed variant" in bad[0]["feedback"], bad
assert len(lin) == 1, "a version was recorded without its object"
print(bad[0]["edit_hash"])
PY
  # Fixed: the failed edit is tried again. The knob search proposes it anew at random, so the
  # budget is room to exhaust the space (16 points): the run stops there, and every point it
  # had not evaluated, the failed one included, has been proposed by then.
  rm "$W/cache/obj" && mv "$W/cache/obj.ok" "$W/cache/obj"
  n=$(wc -l < "$RUN/attempts.jsonl")
  "$AVO" tune "$W/avo.json" --run-dir "$RUN" --resume --evals $((n + 100)) --confirm 2 --no-progress 2> "$W/t3.log" ||
    { cat "$W/t3.log"; fail "resume"; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r["stop_reason"] != "search space exhausted")' "$RUN/run.json" ||
    { cat "$W/t3.log"; fail "the search did not exhaust its space"; }
  python3 - "$RUN" "$(cat "$W/failed_edit")" <<'PY'
import json, sys
att = [json.loads(l) for l in open(sys.argv[1] + "/attempts.jsonl")]
lin = [json.loads(l) for l in open(sys.argv[1] + "/lineage.jsonl")]
again = [a for a in att if a["edit_hash"] == sys.argv[2]]
# Tried again exactly once; the gate then judges it anew (on a loaded CPU it may stay
# unconfirmed).
# (A better version may have been committed before the retry: then it is "slower".)
assert len(again) == 2 and again[1]["status"] in ("committed", "unconfirmed", "slower"), [a["status"] for a in again]
assert again[1]["status"] != "committed" or again[1]["variant"] in {v["variant"] for v in lin}
PY
  ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
