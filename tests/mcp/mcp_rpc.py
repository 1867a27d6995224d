"""A minimal MCP client over stdio (newline-delimited JSON-RPC 2.0) for scripts that run
where Node is missing: tests/mcp/protocol.py and bench/gpu/mcp_h200.py. The SDK-driven test
(session.mjs) is the reference client; this one only speaks the wire format."""
import json
import os
import select
import subprocess
import time


class Session:
    def __init__(self, argv, env=None, stderr=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=stderr, env=env)
        self.next_id = 1
        self.buf = b""
        self.notes = []  # notifications received

    def send(self, obj_or_text):
        line = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def read(self, timeout):
        """The next message; every line on stdout must be one JSON message."""
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no message within %.0f s" % timeout)
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise EOFError("the server closed its output")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None, timeout=600):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            m = self.read(timeout)
            if m.get("id") == rid and "method" not in m:
                return m
            self.notes.append(m)

    def initialize(self, version="2025-06-18"):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "avo-script", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def call(self, name, args=None, timeout=600):
        """(text, is_error) of a tools/call; raises on a JSON-RPC error."""
        r = self.request("tools/call", {"name": name, "arguments": args or {},
                                        "_meta": {"progressToken": "p%d" % self.next_id}}, timeout)
        if "error" in r:
            raise RuntimeError("%s: %s" % (name, r["error"]))
        res = r["result"]
        return "".join(c.get("text", "") for c in res["content"]), bool(res.get("isError"))

    def close(self, timeout=60):
        self.p.stdin.close()
        rest = self.p.stdout.read()
        rc = self.p.wait(timeout)
        return rc, rest
