"""An MCP session over stdio that keeps a transcript of every tool call and its answer
(JSONL under OUT), for the scripted agent sessions on the GPU host."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "tests", "mcp"))
from mcp_rpc import Session  # noqa: E402

T0 = time.time()


class Logged(Session):
    def __init__(self, out, name, argv):
        self.log = open(os.path.join(out, "mcp-%s.jsonl" % name), "w")
        super().__init__(argv, stderr=open(os.path.join(out, "mcp-%s.stderr" % name), "w"))

    def tool(self, name, args=None, timeout=900):
        t = time.time()
        text, err = self.call(name, args, timeout)
        self.log.write(json.dumps({"t": round(t - T0, 1), "s": round(time.time() - t, 1), "tool": name,
                                   "args": args or {}, "isError": err, "text": text}) + "\n")
        self.log.flush()
        first = text.strip().splitlines()[0][:110] if text.strip() else ""
        shown = {k: (v if len(str(v)) < 60 else str(v)[:57] + "...") for k, v in (args or {}).items()}
        print("[%5.0fs] %s %s -> %s%s" % (time.time() - T0, name, json.dumps(shown), "ERROR " if err else "", first),
              flush=True)
        return text, err


def records(run, name):
    p = os.path.join(run, name)
    return [json.loads(x) for x in open(p)] if os.path.exists(p) else []
