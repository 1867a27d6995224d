#!/usr/bin/env python3
"""A scripted mock LLM API on loopback for the avo_agent tests.

Speaks OpenAI chat completions (POST .../chat/completions) and Anthropic Messages
(POST .../v1/messages). Answers come from a script, one entry per request, in order:
  {"calls": [{"name": "edit_region", "args": {...}} | {"name": .., "raw_args": "text"}],
   "text": "optional prose", "usage": [input_tokens, output_tokens]}
  {"status": 429, "retry_after": "1"}           an error status (body: an API error object)
  {"raw": "not json", "status": 200}             a raw body
  {"hang": 30}                                   sleep, then close without answering
Every request is appended to the log (JSON lines): path, the auth header checked against
$MOCK_EXPECT_KEY ("ok" / "missing" / "wrong"; the key itself is never written),
anthropic-version, the parsed body, and any wire-format violation found in it.
A violation or an exhausted script is answered with HTTP 400.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"n": 0}


def check_openai(body):
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or msgs[0].get("role") != "system":
        return "messages must start with a system message"
    if not isinstance(body.get("tools"), list) or not body.get("model"):
        return "model and tools are required"
    pending = []
    for m in msgs[1:]:
        role = m.get("role")
        if pending:
            if role != "tool" or m.get("tool_call_id") != pending[0]:
                return "expected a tool message for %s, got %s" % (pending[0], json.dumps(m)[:200])
            if not isinstance(m.get("content"), str):
                return "tool message content must be a string"
            pending.pop(0)
            continue
        if role == "assistant":
            pending = [c.get("id") for c in (m.get("tool_calls") or [])]
            if not pending and not isinstance(m.get("content"), str):
                return "an assistant message needs content or tool_calls"
        elif role == "tool":
            return "unexpected tool message"
    if pending:
        return "tool calls without results: %s" % pending
    return None


def check_anthropic(body):
    if not isinstance(body.get("system"), str) or not body.get("max_tokens"):
        return "system (string) and max_tokens are required"
    for t in body.get("tools") or []:
        if "input_schema" not in t:
            return "tool without input_schema"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "messages required"
    want = "user"
    pending = []
    for m in msgs:
        if m.get("role") != want:
            return "roles must alternate user/assistant, got %s" % m.get("role")
        content = m.get("content")
        if want == "user":
            if pending:
                ids = [b.get("tool_use_id") for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
                    if isinstance(content, list) else []
                if ids != pending:
                    return "tool_result ids %s do not answer tool_use ids %s" % (ids, pending)
            pending = []
            want = "assistant"
        else:
            if not content:
                return "assistant content must not be empty"
            pending = [b.get("id") for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
            want = "user"
    if want != "assistant":
        return "the last message must be from the user"
    return None


def render(entry, anthropic, n):
    calls = entry.get("calls", [])
    usage = entry.get("usage", [10, 5])
    if anthropic:
        content = []
        if entry.get("text"):
            content.append({"type": "text", "text": entry["text"]})
        for i, c in enumerate(calls):
            inp = c.get("args", {}) if "raw_input" not in c else c["raw_input"]
            content.append({"type": "tool_use", "id": "toolu_%d_%d" % (n, i), "name": c["name"], "input": inp})
        return {"id": "msg_%d" % n, "type": "message", "role": "assistant", "model": "mock",
                "content": content, "stop_reason": "tool_use" if calls else "end_turn",
                "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}
    tcs = []
    for i, c in enumerate(calls):
        args = c["raw_args"] if "raw_args" in c else json.dumps(c.get("args", {}))
        tcs.append({"id": "call_%d_%d" % (n, i), "type": "function",
                    "function": {"name": c["name"], "arguments": args}})
    msg = {"role": "assistant", "content": entry.get("text")}
    if tcs:
        msg["tool_calls"] = tcs
    return {"id": "chatcmpl-%d" % n, "object": "chat.completion", "model": "mock",
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if tcs else "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                      "total_tokens": usage[0] + usage[1]}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def send(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        anthropic = self.path.endswith("/v1/messages")
        expect = os.environ.get("MOCK_EXPECT_KEY", "")
        if anthropic:
            got = self.headers.get("x-api-key")
        else:
            a = self.headers.get("Authorization")
            got = a[len("Bearer "):] if a and a.startswith("Bearer ") else None
        auth = "missing" if got is None else ("ok" if got == expect else "wrong")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        violation = None
        if not isinstance(body, dict):
            violation = "request body is not a JSON object"
        else:
            try:
                if anthropic:
                    violation = check_anthropic(body)
                elif self.path.endswith("/chat/completions"):
                    violation = check_openai(body)
                else:
                    violation = "unknown path " + self.path
            except Exception as e:  # a malformed request must not crash the mock
                violation = "malformed request: %r" % e
        with lock:
            n = state["n"]
            state["n"] += 1
            rec = {"n": n, "path": self.path, "auth": auth,
                   "anthropic_version": self.headers.get("anthropic-version"),
                   "x_title": self.headers.get("X-Title"),
                   "other_auth_headers": [h for h in ("x-api-key", "Authorization")
                                          if self.headers.get(h) is not None and h != ("x-api-key" if anthropic else "Authorization")],
                   "body": body, "violation": violation}
            with open(args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if violation:
            return self.send(400, {"error": {"type": "invalid_request_error", "message": violation}})
        if n >= len(script):
            return self.send(400, {"error": {"type": "invalid_request_error", "message": "script exhausted"}})
        e = script[n]
        if "hang" in e:
            time.sleep(e["hang"])
            self.close_connection = True
            return
        if "raw" in e:
            return self.send(e.get("status", 200), e["raw"].encode())
        if e.get("status", 200) != 200:
            h = {"Retry-After": e["retry_after"]} if "retry_after" in e else {}
            return self.send(e["status"], {"type": "error", "error": {"type": "overloaded_error",
                                                                      "message": "mock status %d" % e["status"]}}, h)
        self.send(200, render(e, anthropic, n))


ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--script", required=True)
ap.add_argument("--log", required=True)
args = ap.parse_args()
with open(args.script) as f:
    script = json.load(f)
ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
sys.stderr.write("mock_llm: listening on 127.0.0.1:%d\n" % args.port)
sys.stderr.flush()
srv.serve_forever()
