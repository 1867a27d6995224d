#!/usr/bin/env bash
# `avo tune --operator llm` against the mock API (tests/agent/mock_llm.py) on the CPU
# example: an API error that no retry can fix stops the run at once with exit 4, and the
# spend is durable (steps without changes are billed and recorded, --resume restores the
# cost, --max-cost holds across sessions); --operator-options reaches the requests.
# usage: llm_tune.sh CASE AVO SRC_DIR WORK_DIR
set -euo pipefail
case_=$1 AVO=$2 SRC=$3 W=$4
rm -rf "$W" && mkdir -p "$W"
export AVO_CACHE_DIR=$W/cache AVO_CACHE_REMOTE=
RUN=$W/run
KEY=sk-avo-test-$$-SECRETVALUE
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v python3 > /dev/null || { echo "python3 missing: skip"; exit 77; }

# start_mock SCRIPT_JSON API: the mock on a free port, a spec pointing at it
start_mock() {
  printf '%s' "$1" > "$W/script.json"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  MOCK_EXPECT_KEY=$KEY python3 "$SRC/tests/agent/mock_llm.py" --port "$port" --script "$W/script.json" \
    --log "$W/requests.jsonl" 2> "$W/mock.log" &
  mock=$!
  trap 'kill $mock 2>/dev/null || true' EXIT
  for _ in $(seq 600); do grep -q listening "$W/mock.log" && break; sleep 0.05; done
  python3 - "$SRC/kernels/cpu/avo.json" "$W/spec.json" "$SRC/kernels/cpu" "$2" "http://127.0.0.1:$port" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for k in ("kernel", "harness"):
    s[k] = sys.argv[3] + "/" + s[k]
s["operator"] = "llm"
api = sys.argv[4]
s["llm"] = {"api": api, "base_url": sys.argv[5] + ("" if api == "anthropic" else "/v1"), "model": "mock-model",
            "api_key_env": "AVO_TEST_API_KEY", "max_turns": 4, "timeout": 20, "retries": 3, "retry_base": 0,
            "price_input": 3, "price_output": 15}
json.dump(s, open(sys.argv[2], "w"))
PY
}
nreq() { wc -l < "$W/requests.jsonl"; }
no_secret() { ! grep -rqF "$KEY" "$W" --exclude=script.json || fail "the key was written to a file"; }

case $case_ in
fatal_401|fatal_404|quota_429)
  case $case_ in
  fatal_401) entry='{"status": 401, "error": {"type": "authentication_error", "message": "invalid x-api-key"}}'
             api=anthropic want="API key was refused";;
  fatal_404) entry='{"status": 404, "error": {"type": "not_found_error", "message": "model: mock-model"}}'
             api=openai want="model is unknown";;
  quota_429) entry='{"status": 429, "error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "You exceeded your current quota"}}'
             api=responses want="spend limit or quota";;
  esac
  start_mock "[$entry, $entry, $entry, $entry]" $api
  rc=0
  AVO_TEST_API_KEY=$KEY "$AVO" tune "$W/spec.json" --run-dir "$RUN" --evals 20 --no-progress 2> "$W/log" || rc=$?
  cat "$W/log"
  [ $rc = 4 ] || fail "exit $rc, want 4"
  grep -q "$want" "$W/log" || fail "no clear message"
  [ "$(nreq)" = 1 ] || fail "$(nreq) requests: the error was retried or the run went on"
  grep -q '"status": "error"\|"status":"error"' "$RUN/attempts.jsonl" && fail "an unbilled fatal step was logged as an attempt"
  no_secret
  ;;
spend_resume)
  # Every step submits without changes, one request of 1000 + 100 tokens: $0.0045 a step.
  step='{"calls": [{"name": "submit", "args": {"note": "nothing to do"}}], "usage": [1000, 100]}'
  start_mock "[$step, $step, $step, $step, $step, $step, $step, $step, $step, $step]" openai
  AVO_TEST_API_KEY=$KEY "$AVO" tune "$W/spec.json" --run-dir "$RUN" --max-cost 0.01 --no-progress \
    --operator-options '{"reasoning_effort": "low", "extra_body": {"service_tier": "flex"}}' 2> "$W/log" \
    || { cat "$W/log"; fail "tune failed"; }
  python3 - "$W/requests.jsonl" <<'PY'
import json, sys
b = json.loads(open(sys.argv[1]).readline())["body"]
assert b.get("reasoning_effort") == "low" and b.get("service_tier") == "flex", b.keys()
PY
  grep -q "cost budget reached" "$W/log" || { cat "$W/log"; fail "no cost stop"; }
  [ "$(nreq)" = 3 ] || fail "$(nreq) requests in the first session, want 3"
  AVO_TEST_API_KEY=$KEY "$AVO" tune "$W/spec.json" --run-dir "$RUN" --max-cost 0.02 --resume --no-progress 2> "$W/log2" \
    || { cat "$W/log2"; fail "resume failed"; }
  grep -q "cost budget reached" "$W/log2" || { cat "$W/log2"; fail "no cost stop after resume"; }
  # The cost of the first session was restored: 2 more steps, not 5.
  [ "$(nreq)" = 5 ] || fail "$(nreq) requests in all, want 5"
  python3 - "$RUN" <<'PY'
import json, sys
att = [json.loads(l) for l in open(sys.argv[1] + "/attempts.jsonl")]
run = json.load(open(sys.argv[1] + "/run.json"))
nc = [a for a in att if a["status"] == "no_change"]
assert len(nc) == 5, [a["status"] for a in att]
assert all(abs(a["cost_usd"] - 0.0045) < 1e-12 and a["tokens_in"] == 1000 for a in nc), nc
assert abs(run["cost_usd"] - 0.0225) < 1e-9, run["cost_usd"]
assert run["tokens_in"] == 5000 and run["tokens_out"] == 500, (run["tokens_in"], run["tokens_out"])
print("spend ok:", run["cost_usd"])
PY
  rc=0
  AVO_TEST_API_KEY=$KEY "$AVO" tune "$W/spec.json" --run-dir "$RUN" --resume --operator-options '[1]' 2> "$W/log3" || rc=$?
  [ $rc = 3 ] && grep -q "operator-options" "$W/log3" || { cat "$W/log3"; fail "bad --operator-options: exit $rc"; }
  no_secret
  ;;
*) fail "unknown case $case_";;
esac
echo "ok: $case_"
