"""`avo mcp` at the wire (no Node needed): version negotiation, ping, errors for bad
messages, notifications unanswered, stdout holding protocol only, a tool call queued while
the original kernel is measured, the end of input, and SIGTERM.
usage: protocol.py AVO SRC_DIR WORK_DIR"""
import json
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_rpc import Session  # noqa: E402

AVO, SRC, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
env = dict(os.environ, AVO_CACHE_DIR=os.path.join(WORK, "cache"), AVO_CACHE_REMOTE="")
SPEC = os.path.join(SRC, "kernels/cpu/avo.json")
RUN = os.path.join(WORK, "run")


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def start(extra=()):
    log = open(os.path.join(WORK, "stderr.log"), "ab")
    return Session([AVO, "mcp", SPEC, "--run-dir", RUN, "--evals", "3", *extra], env=env, stderr=log)


s = start()
# A client that asks for a version we do not know gets our newest; a known one is echoed.
r = s.request("initialize", {"protocolVersion": "1999-01-01", "capabilities": {},
                             "clientInfo": {"name": "t", "version": "0"}}, timeout=30)
if r["result"]["protocolVersion"] != "2025-11-25" or "tools" not in r["result"]["capabilities"]:
    fail("initialize: %s" % r)
r = s.initialize("2024-11-05")
if r["result"]["protocolVersion"] != "2024-11-05":
    fail("version not echoed: %s" % r)
# A tool call sent at once waits for the baseline measurement, then is served.
t0 = time.time()
text, err = s.call("status", timeout=120)
if err or "evaluations: 1 of 3 evaluations used" not in text:
    fail("status: %s" % text)
if s.request("ping")["result"] != {}:
    fail("ping")

# Bad messages: JSON-RPC errors, and the session goes on.
s.send("this is not json")
m = s.read(10)
if m.get("id") is not None or m["error"]["code"] != -32700:
    fail("parse error: %s" % m)
s.send("[1, 2]")
if s.read(10)["error"]["code"] != -32600:
    fail("batch")
if s.request("resources/list")["error"]["code"] != -32601:
    fail("unknown method")
if s.request("tools/call", {"arguments": {}})["error"]["code"] != -32602:
    fail("tools/call without a name")
if s.request("tools/call", {"name": "nope"})["error"]["code"] != -32602:
    fail("unknown tool")
text, err = s.call("read_knowledge", {"name": "../../etc/passwd"})
if not err:
    fail("a path as a note name was served: %s" % text)
text, err = s.call("edit_region", {"name": "pv"})
if not err:
    fail("edit_region without text: %s" % text)
# A change whose parts only parse together: a name declared in one region, used in another.
src = open(os.path.join(SRC, "kernels/cpu/attention.c")).read()
cur = {m.group(1): m.group(2) for m in re.finditer(r"// avo:region (\w+)\n(.*?)^\s*// avo:end", src, re.S | re.M)}
both = [{"name": "scores", "text": "\t\t\tconst float pair_scale = 1.0f;\n" + cur["scores"]},
        {"name": "softmax", "text": cur["softmax"] + "\t\t\t(void)pair_scale;\n"}]
text, err = s.call("edit_region", both[1])
if not err or "refused" not in text:
    fail("a region using an undeclared name was accepted alone: %s" % text)
text, err = s.call("edit_regions", {"edits": both + [{"name": "nope", "text": "x"}]})
if not err or "no region named" not in text:
    fail("edit_regions with an unknown region: %s" % text)
text, err = s.call("edit_regions", {"edits": both})
if err or "regions scores, softmax replaced" not in text:
    fail("edit_regions of two regions that parse together: %s" % text)
if "pair_scale" not in s.call("read_kernel", {"offset": 30, "limit": 60})[0]:
    fail("read_kernel does not show the two-region edit")
s.request("tools/call", {"name": "status", "arguments": [1]})  # arguments not an object
# Notifications get no answer: the next message is the ping's.
s.send({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {}})
s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 999}})
if s.request("ping").get("result") != {}:
    fail("a notification was answered")

# End of input: the server stops, exit 0, and says why on stderr.
rc, rest = s.close()
if rc != 0 or rest.strip():
    fail("close: rc %s, trailing output %r" % (rc, rest))
log = open(os.path.join(WORK, "stderr.log")).read()
if "client left" not in log:
    fail("no stop line in the log:\n" + log)

# SIGTERM while the server waits for the client: saved, exit 130.
s = start()
s.initialize()
s.call("read_regions")
s.p.send_signal(signal.SIGTERM)
rc = s.p.wait(30)
if rc != 130:
    fail("SIGTERM: exit %s" % rc)
run = json.load(open(os.path.join(RUN, "run.json")))
if run["attempts"] != 1:
    fail("run.json after SIGTERM: %s" % run)
print("ok: protocol checks passed in %.1f s" % (time.time() - t0))
