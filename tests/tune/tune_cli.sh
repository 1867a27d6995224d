#!/usr/bin/env bash
# `avo tune` end to end through the real CLI on the CPU example (kernels/cpu).
# usage: tune_cli.sh CASE AVO SRC_DIR WORK_DIR
set -euo pipefail
case_=$1 AVO=$2 SRC=$3 W=$4
rm -rf "$W" && mkdir -p "$W"
export AVO_CACHE_DIR=$W/cache AVO_CACHE_REMOTE=
SPEC=$SRC/kernels/cpu/avo.json
RUN=$W/run
fail() { echo "FAIL: $*" >&2; exit 1; }
py() { python3 - "$@"; }

# Invariants of any run dir: every line parses, the lineage only rises (the gate), every
# version is a correct attempt with status committed, run.json agrees with the files.
check_run() {
  py "$RUN" <<'PY'
import json, sys, os
run = sys.argv[1]
att = [json.loads(l) for l in open(os.path.join(run, "attempts.jsonl"))]
lin = [json.loads(l) for l in open(os.path.join(run, "lineage.jsonl"))]
r = json.load(open(os.path.join(run, "run.json")))
assert lin and lin[0]["operator"] == "baseline", "no baseline"
for a, b in zip(lin, lin[1:]):
    assert b["fitness"] >= a["fitness"], ("lineage fell", a["fitness"], b["fitness"])
    assert b["parent"] is not None
committed = {a["variant"] for a in att if a["status"] == "committed"}
for v in lin:
    assert v["variant"] in committed, ("version without a committed attempt", v["id"])
    assert all(s["correct"] for s in v["scores"]), "incorrect version in the lineage"
for a in att:
    if a["status"] != "committed":  # the gate re-measures versions ("confirm") too
        assert a["variant"] not in {v["variant"] for v in lin[1:]} or a["status"] in ("duplicate", "confirm")
assert r["attempts"] == len(att), (r["attempts"], len(att))
assert r["commits"] == len(lin) - 1
assert abs(r["best_fitness"] - max(v["fitness"] for v in lin)) < 1e-12
print("run ok: %d attempts, %d versions, best %.6g" % (len(att), len(lin), r["best_fitness"]))
PY
}
count() { [ -f "$RUN/attempts.jsonl" ] && wc -l < "$RUN/attempts.jsonl" || echo 0; }

case $case_ in
knob)
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 10 --no-progress 2> "$W/log" || { cat "$W/log"; fail "tune failed"; }
  grep -q "stopped (evaluation budget reached)" "$W/log" || fail "no stop line"
  check_run
  [ "$(count)" = 10 ] || fail "expected 10 attempts, got $(count)"
  # The best is published under the tuning key: apply finds it in the cache.
  "$AVO" apply "$SPEC" -o "$W/applied.c" > "$W/apply.log" 2>&1
  commits=$(python3 -c "import json;print(json.load(open('$RUN/run.json'))['commits'])")
  if [ "$commits" -gt 0 ]; then
    grep -q "from local cache" "$W/apply.log" || { cat "$W/apply.log"; fail "apply did not use the tuned variant"; }
    ! cmp -s "$W/applied.c" "$SRC/kernels/cpu/attention.c" || fail "applied file equals the original"
  fi
  # The kernel source is never written.
  git -C "$SRC" diff --quiet -- kernels/cpu/attention.c || fail "the kernel file was modified"
  # Notes: every commit after the baseline says what changed.
  py "$RUN" <<'PY'
import json, sys
for v in map(json.loads, open(sys.argv[1] + "/lineage.jsonl")):
    if v["id"] > 0:
        assert v["note"] and "->" in v["note"], v["note"]
PY
  ;;
existing)
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 2 --no-progress 2> "$W/log"
  set +e
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 2 --no-progress 2> "$W/log2"; rc=$?
  set -e
  [ $rc = 3 ] || fail "expected exit 3 for an existing run, got $rc"
  grep -q -- "--resume" "$W/log2" || fail "message does not mention --resume"
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 2 --fresh-run --no-progress 2> "$W/log3"
  ls -d "$RUN".old-* >/dev/null || fail "old run not moved aside"
  grep -q "moved to" "$W/log3" || fail "no notice of the move"
  check_run
  ;;
resume_kill9)
  # Kill -9 in the middle of a run, then resume: nothing recorded is lost or repeated.
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 24 --no-progress 2> "$W/log1" &
  pid=$!
  for _ in $(seq 600); do [ "$(count)" -ge 6 ] && break; sleep 0.05; done
  kill -9 $pid; wait $pid 2>/dev/null || true
  n1=$(count)
  [ "$n1" -ge 6 ] && [ "$n1" -lt 24 ] || fail "kill landed at $n1 attempts"
  cp "$RUN/attempts.jsonl" "$W/before.jsonl"
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 24 --resume --no-progress 2> "$W/log2" || { cat "$W/log2"; fail "resume failed"; }
  grep -q "(resumed)" "$W/log2" || fail "resume not announced"
  [ "$(count)" = 24 ] || fail "expected 24 attempts after resume, got $(count)"
  # Complete records from before the kill are kept byte for byte.
  lines=$(python3 -c "import json
n=0
for l in open('$W/before.jsonl'):
    try: json.loads(l); n+=1
    except Exception: pass
print(n)")
  head -n "$lines" "$W/before.jsonl" | cmp -s - <(head -n "$lines" "$RUN/attempts.jsonl") || fail "records before the kill changed"
  check_run
  # The knob search never re-evaluates a point across the two sessions.
  py "$RUN" <<'PY'
import json, sys
hs = [a["edit_hash"] for a in map(json.loads, open(sys.argv[1] + "/attempts.jsonl")) if a["operator"] == "knob"]
assert len(hs) == len(set(hs)), "a point was tried twice"
PY
  ;;
kill9_scratch)
  # A kill -9 in the middle of an evaluation leaves its scratch dirs (named after avo's pid);
  # the next start removes them, and keeps a live process's and another host's.
  export TMPDIR=$W/tmp
  mkdir -p "$TMPDIR"
  root=$TMPDIR/avo-$(id -u)
  host=$(python3 -c 'import socket; print(socket.gethostname().replace("/", "_"))')
  scratch_of() { ls "$root" 2>/dev/null | grep -c -- "-$host-$1-" || true; }
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 50 --no-progress 2> "$W/log1" &
  pid=$!
  for _ in $(seq 1500); do [ "$(scratch_of $pid)" -ge 1 ] && break; sleep 0.02; done
  kill -9 $pid; wait $pid 2>/dev/null || true
  [ "$(scratch_of $pid)" -ge 1 ] || fail "the kill left no scratch dir behind (nothing to show)"
  mkdir -p "$root/eval-$host-$$-live" "$root/eval-otherhost-1-remote"
  "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 2 --resume --no-progress 2> "$W/log2" || { cat "$W/log2"; fail "resume failed"; }
  [ "$(scratch_of $pid)" = 0 ] || fail "the killed run's scratch is still there: $(ls "$root")"
  [ -d "$root/eval-$host-$$-live" ] || fail "removed the scratch of a live process"
  [ -d "$root/eval-otherhost-1-remote" ] || fail "removed the scratch of another host"
  ;;
sigint)
  # A shell's `&` starts avo with SIGINT ignored: it must stay ignored (base/signal.c, as
  # nohup expects), while SIGTERM still stops the run.
  "$AVO" tune "$SPEC" --run-dir "$W/run-ign" --evals 500 --no-progress 2> "$W/log-ign" &
  pid=$!
  for _ in $(seq 600); do [ -s "$W/run-ign/attempts.jsonl" ] && break; sleep 0.05; done
  kill -INT $pid; sleep 0.5
  kill -0 $pid 2> /dev/null || { cat "$W/log-ign"; fail "an ignored SIGINT stopped avo"; }
  kill -TERM $pid
  set +e; wait $pid; rc=$?; set -e
  [ $rc = 130 ] || { cat "$W/log-ign"; fail "SIGTERM: expected exit 130, got $rc"; }
  # With SIGINT not ignored (a terminal's ^C), it interrupts and the run can resume.
  (trap - INT; exec "$AVO" tune "$SPEC" --run-dir "$RUN" --evals 500 --no-progress 2> "$W/log") &
  pid=$!
  for _ in $(seq 600); do [ "$(count)" -ge 3 ] && break; sleep 0.05; done
  kill -INT $pid
  set +e; wait $pid; rc=$?; set -e
  [ $rc = 130 ] || { cat "$W/log"; fail "expected exit 130, got $rc"; }
  grep -q -- "--resume" "$W/log" || fail "no resume hint"
  python3 -c "import json; r=json.load(open('$RUN/run.json')); assert r['stop_reason']=='interrupted' and not r['done'], r"
  check_run
  ;;
budget_time)
  start=$(date +%s)
  "$AVO" tune "$SPEC" --run-dir "$RUN" --budget 3s --no-progress 2> "$W/log"
  grep -q "time budget reached" "$W/log" || { cat "$W/log"; fail "no time-budget stop"; }
  [ $(( $(date +%s) - start )) -lt 30 ] || fail "ran far past its budget"
  check_run
  ;;
gate)
  # An external agent that proposes wrong, broken and valid edits in turn: only correct,
  # no-slower versions enter the lineage, and each failure is logged with its feedback.
  cat > "$W/agent.py" <<'PY'
import json, sys, os
req = json.load(sys.stdin)
n = len(os.listdir(os.environ["AGENT_STATE"]))
open(os.path.join(os.environ["AGENT_STATE"], str(n)), "w").close()
soft = req["regions"]["softmax"]
kind = n % 4
if kind == 0:   # numerically wrong: the row sums are doubled
    assert "sum += p;" in soft
    print(json.dumps({"regions": {"softmax": soft.replace("sum += p;", "sum += 2 * p;")}, "note": "wrong sums"}))
elif kind == 1: # does not compile
    print(json.dumps({"regions": {"softmax": soft + "\tthis is not C;\n"}, "note": "broken"}))
elif kind == 2: # escapes its region
    print(json.dumps({"regions": {"softmax": soft + "}\n"}, "note": "escape"}))
else:           # a valid knob change
    vals = req["knobs"]["UNROLL"]["values"]
    cur = req["knobs"]["UNROLL"]["value"]
    print(json.dumps({"knobs": {"UNROLL": vals[(vals.index(cur) + 1) % len(vals)]}, "note": "next unroll"}))
PY
  mkdir -p "$W/state"
  python3 - "$SPEC" "$W/spec.json" "$W/agent.py" "$SRC/kernels/cpu" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for k in ("kernel", "harness"):
    s[k] = sys.argv[4] + "/" + s[k]
s["operator"] = "command"
s["command"] = {"argv": ["python3", sys.argv[3]], "timeout": 30}
json.dump(s, open(sys.argv[2], "w"))
PY
  AGENT_STATE=$W/state "$AVO" tune "$W/spec.json" --run-dir "$RUN" --evals 9 --no-progress 2> "$W/log" || { cat "$W/log"; fail "tune failed"; }
  check_run
  py "$RUN" <<'PY'
import json, sys, collections
att = [json.loads(l) for l in open(sys.argv[1] + "/attempts.jsonl")]
st = collections.Counter(a["status"] for a in att)
print(dict(st))
bad = [a for a in att if a["status"] in ("compile", "invalid_edit", "error")]
assert bad, "no failed attempt recorded"
for a in bad:
    assert a["feedback"], ("failure without feedback", a)
assert st["incorrect"] >= 2, "the wrong variant was not judged incorrect"
assert any("would escape it" in (a["feedback"] or "") for a in att), "escape not recorded"
assert any("undeclared identifier" in (a["feedback"] or "") for a in att), "clang diagnostic not recorded"
PY
  ;;
llm_openai|llm_anthropic)
  # `avo tune` with the llm operator against a scripted mock API on loopback: the agent reads
  # the regions, makes a broken edit (refused, and told why), sets a knob, evaluates and
  # submits. The API key reaches the server and no file, log or report.
  api=${case_#llm_}
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  cat > "$W/script.json" <<'JS'
[
 {"calls": [{"name": "read_regions", "args": {}}], "usage": [1000, 50]},
 {"calls": [{"name": "edit_region", "args": {"name": "softmax", "text": "\t\t\tthis is not C;\n"}}], "usage": [1200, 80]},
 {"calls": [{"name": "set_knob", "args": {"name": "UNROLL", "value": "4"}}, {"name": "evaluate", "args": {}}], "usage": [1500, 60]},
 {"calls": [{"name": "submit", "args": {"note": "unroll the inner loops by 4"}}], "usage": [1700, 40]}
]
JS
  KEY=sk-avo-test-$$-SECRETVALUE
  MOCK_EXPECT_KEY=$KEY python3 "$SRC/tests/agent/mock_llm.py" --port "$port" --script "$W/script.json" --log "$W/requests.jsonl" 2> "$W/mock.log" &
  mock=$!
  trap 'kill $mock 2>/dev/null || true' EXIT
  # under load python may take seconds to listen (issue 17 point 9: this case once failed so)
  for _ in $(seq 600); do grep -q listening "$W/mock.log" && break; sleep 0.05; done
  grep -q listening "$W/mock.log" || { cat "$W/mock.log"; fail "the mock API did not start"; }
  if [ "$api" = openai ]; then base="http://127.0.0.1:$port/v1"; keyvar=OPENAI_API_KEY
  else base="http://127.0.0.1:$port"; keyvar=ANTHROPIC_API_KEY; fi
  python3 - "$SPEC" "$W/spec.json" "$SRC/kernels/cpu" "$api" "$base" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for k in ("kernel", "harness"):
    s[k] = sys.argv[3] + "/" + s[k]
s["operator"] = "llm"
s["llm"] = {"api": sys.argv[4], "base_url": sys.argv[5], "model": "mock-model", "max_turns": 6,
            "timeout": 20, "retries": 1, "price_input": 3, "price_output": 15}
json.dump(s, open(sys.argv[2], "w"))
PY
  env $keyvar=$KEY "$AVO" tune "$W/spec.json" --run-dir "$RUN" --evals 2 --no-progress > "$W/out.log" 2> "$W/log" \
    || { cat "$W/log"; fail "tune failed"; }
  check_run
  py "$RUN" "$W/requests.jsonl" <<'PY'
import json, sys
att = [json.loads(l) for l in open(sys.argv[1] + "/attempts.jsonl")]
run = json.load(open(sys.argv[1] + "/run.json"))
reqs = [json.loads(l) for l in open(sys.argv[2])]
# A committed evaluation ends the step at once (3 requests); otherwise the model submits (4).
n = len(reqs)
assert n in (3, 4), n
assert all(r["auth"] == "ok" and not r["violation"] for r in reqs), [(r["auth"], r["violation"]) for r in reqs]
llm = [a for a in att if a["operator"] == "llm"]
assert len(llm) == 1, llm
if n == 3:
    assert llm[0]["status"] == "committed", llm[0]["status"]
else:
    # --evals 2 leaves the gate no room to confirm a better one: "unconfirmed"
    assert llm[0]["status"] in ("slower", "unconfirmed"), llm[0]["status"]
    # the model gives its note at submit, after the evaluation that made the record
    assert llm[0].get("note") in (None, "unroll the inner loops by 4"), llm[0].get("note")
# The refusal of the broken edit went back to the model as a tool result.
tool_results = json.dumps(reqs[2]["body"])
assert "undeclared identifier" in tool_results, "refusal not shown to the model"
usage = [(1000, 50), (1200, 80), (1500, 60), (1700, 40)][:n]
tin, tout = sum(u[0] for u in usage), sum(u[1] for u in usage)
assert run["tokens_in"] == tin and run["tokens_out"] == tout, (run["tokens_in"], run["tokens_out"], tin, tout)
assert abs(run["cost_usd"] - (tin * 3 + tout * 15) / 1e6) < 1e-9, run["cost_usd"]
PY
  "$AVO" report "$W/spec.json" --run-dir "$RUN" -o "$W/report.html" > /dev/null
  "$AVO" status "$W/spec.json" --run-dir "$RUN" > "$W/status.txt"
  ! grep -r -- "$KEY" "$RUN" "$W/log" "$W/out.log" "$W/report.html" "$W/status.txt" "$W/requests.jsonl" "$AVO_CACHE_DIR" \
    || fail "the API key was written somewhere"
  ;;
*) fail "unknown case $case_" ;;
esac
echo "PASS: $case_"
