#!/usr/bin/env python3
"""A scripted mock LLM API on loopback for the avo_agent tests.

Speaks OpenAI chat completions (POST .../chat/completions), the OpenAI Responses API
(POST .../responses) and Anthropic Messages (POST .../v1/messages). Answers come from a
script, one entry per request, in order:
  {"calls": [{"name": "edit_region", "args": {...}} | {"name": .., "raw_args": "text"}],
   "text": "optional prose", "usage": [input_tokens, output_tokens],
   "cached": N, "cache_write": N,               cached input tokens (read / written)
   "truncated": true,                            cut at the output token limit
   "no_ids": true}                               tool calls without ids (local servers)
  {"status": 429, "retry_after": "1", "error": {...}}  an error status (body: an API error object)
  {"error200": {...}}                            HTTP 200 with {"error": {...}} (OpenRouter)
  {"raw": "not json", "status": 200}             a raw body
  {"hang": 30}                                   sleep, then close without answering
Every request is appended to the log (JSON lines): path, the auth header checked against
$MOCK_EXPECT_KEY ("ok" / "missing" / "wrong"; the key itself is never written),
anthropic-version, the parsed body, and any wire-format violation found in it.
A violation or an exhausted script is answered with HTTP 400. Chat completions for a model
named like an OpenAI reasoning model (o1.., gpt-5..) with tools but no reasoning_effort is a
violation, as the real API refuses it.
"""
import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REASONING_MODEL = re.compile(r"^(o[1-9]|gpt-5)")
lock = threading.Lock()
state = {"n": 0}


def check_openai(body):
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or msgs[0].get("role") != "system":
        return "messages must start with a system message"
    if not isinstance(body.get("tools"), list) or not body.get("model"):
        return "model and tools are required"
    # As OpenAI's reasoning models do: tools on chat completions only with the reasoning setting.
    if REASONING_MODEL.match(str(body["model"])) and "reasoning_effort" not in body:
        return ("model %s: function tools on /v1/chat/completions need reasoning_effort "
                "(or use /v1/responses)" % body["model"])
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


def check_responses(body):
    if not isinstance(body.get("instructions"), str) or not body.get("model"):
        return "model and instructions are required"
    for t in body.get("tools") or []:
        if t.get("type") != "function" or not t.get("name") or "parameters" not in t:
            return "tools must be function tools with a name and parameters"
    items = body.get("input")
    if not isinstance(items, list) or not items:
        return "input must be a non-empty list"
    pending = []
    for it in items:
        t = it.get("type", "message")
        if t == "function_call":
            if not it.get("call_id"):
                return "a function_call without call_id"
            pending.append(it["call_id"])
        elif t == "function_call_output":
            if it.get("call_id") not in pending or not isinstance(it.get("output"), str):
                return "function_call_output %s answers no function_call" % it.get("call_id")
            pending.remove(it["call_id"])
        elif t == "message":
            if pending:
                return "function calls without outputs: %s" % pending
        elif t != "reasoning":
            return "unknown input item type %s" % t
    if pending:
        return "function calls without outputs: %s" % pending
    return None


def count_cache_marks(body):
    n = 0
    for part in (body.get("system"), body.get("tools"), *[m.get("content") for m in body.get("messages") or []]):
        for b in part if isinstance(part, list) else []:
            n += isinstance(b, dict) and "cache_control" in b
    return n


def check_anthropic(body):
    system = body.get("system")
    if isinstance(system, list):
        if not all(isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str) for b in system):
            return "system blocks must be text blocks"
    elif not isinstance(system, str):
        return "system (string or text blocks) is required"
    if not body.get("max_tokens"):
        return "max_tokens is required"
    if count_cache_marks(body) > 4:
        return "more than 4 cache_control breakpoints"
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


def render_responses(entry, n):
    calls = entry.get("calls", [])
    usage = entry.get("usage", [10, 5])
    out = [{"id": "rs_%d" % n, "type": "reasoning", "summary": []}]
    if entry.get("text"):
        out.append({"id": "msg_%d" % n, "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": entry["text"], "annotations": []}]})
    for i, c in enumerate(calls):
        args = c["raw_args"] if "raw_args" in c else json.dumps(c.get("args", {}))
        item = {"id": "fc_%d_%d" % (n, i), "type": "function_call", "call_id": "call_%d_%d" % (n, i),
                "name": c["name"], "arguments": args, "status": "completed"}
        if entry.get("no_ids"):
            del item["call_id"]
        out.append(item)
    cut = entry.get("truncated")
    return {"id": "resp_%d" % n, "object": "response", "created_at": 0, "model": "mock",
            "status": "incomplete" if cut else "completed", "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None, "output": out,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1], "total_tokens": usage[0] + usage[1],
                      "input_tokens_details": {"cached_tokens": entry.get("cached", 0)},
                      "output_tokens_details": {"reasoning_tokens": 0}}}


def render(entry, anthropic, n):
    calls = entry.get("calls", [])
    usage = entry.get("usage", [10, 5])
    cut = entry.get("truncated")
    if anthropic:
        content = []
        if entry.get("text"):
            content.append({"type": "text", "text": entry["text"]})
        for i, c in enumerate(calls):
            inp = c.get("args", {}) if "raw_input" not in c else c["raw_input"]
            content.append({"type": "tool_use", "id": "toolu_%d_%d" % (n, i), "name": c["name"], "input": inp})
            if entry.get("no_ids"):
                del content[-1]["id"]
        # Anthropic's input_tokens excludes the cached parts
        cached, written = entry.get("cached", 0), entry.get("cache_write", 0)
        return {"id": "msg_%d" % n, "type": "message", "role": "assistant", "model": "mock",
                "content": content, "stop_reason": "max_tokens" if cut else "tool_use" if calls else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": usage[0] - cached - written, "output_tokens": usage[1],
                          "cache_read_input_tokens": cached, "cache_creation_input_tokens": written}}
    tcs = []
    for i, c in enumerate(calls):
        args = c["raw_args"] if "raw_args" in c else json.dumps(c.get("args", {}))
        tcs.append({"id": "call_%d_%d" % (n, i), "type": "function",
                    "function": {"name": c["name"], "arguments": args}})
        if entry.get("no_ids"):
            del tcs[-1]["id"]
    msg = {"role": "assistant", "content": entry.get("text")}
    if tcs:
        msg["tool_calls"] = tcs
    return {"id": "chatcmpl-%d" % n, "object": "chat.completion", "created": 0, "model": "mock",
            "choices": [{"index": 0, "message": msg, "logprobs": None,
                         "finish_reason": "length" if cut else "tool_calls" if tcs else "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                      "total_tokens": usage[0] + usage[1],
                      "prompt_tokens_details": {"cached_tokens": entry.get("cached", 0)}}}


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
                elif self.path.endswith("/responses"):
                    violation = check_responses(body)
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
            err = e.get("error", {"type": "overloaded_error", "message": "mock status %d" % e["status"]})
            return self.send(e["status"], {"type": "error", "error": err}, h)
        if "error200" in e:
            return self.send(200, {"error": e["error200"]})
        if self.path.endswith("/responses"):
            return self.send(200, render_responses(e, n))
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
