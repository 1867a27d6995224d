"""A scripted MCP session on the GPU host (no Node there): speaks JSON-RPC over stdio to
`avo mcp` like a simple coding agent, and commits an edit of attention_sm90.cu through
avo's evaluator and its confirming gate (a commit needs a gain whose 95% interval lies
above --min-gain, default 1%, measured A B A B against the best).

Phase A, the real thing: `avo mcp kernels/attention/avo-sm90-tune.json` (the kernel as it
ships, four AVO shapes). The agent reads what an agent reads (status, regions and knobs,
a page of the kernel, the knowledge base), then tries single knob edits. bench/NOTES.md
found no knob point clearly faster than the shipped defaults, so a commit here is not
expected; every attempt is recorded either way.
Phase B, only when A committed nothing: the same kernel file with its knobs set to a
slow corner the knob sweep measured (STAGES 3, PINGPONG 0: about 10% below the defaults
on the quick shapes, bench/results/knob-sweep-quick.jsonl), served on the quick spec; the
agent sets STAGES 2 and PINGPONG 1, which the gate should confirm and commit.
Each phase disconnects and resumes once (a second session checks the records from the
agent's side). Everything lands under OUT: run dirs, transcripts, status, report, summary.

usage: mcp_h200.py AVO OUT [seconds for phase A]     (bench/gpu/mcp_h200.sh sets it up)"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcp_log  # noqa: E402
from mcp_log import records  # noqa: E402

AVO, OUT = sys.argv[1], sys.argv[2]
LIMIT_A = float(sys.argv[3]) if len(sys.argv) > 3 else 150.0
T0 = mcp_log.T0
# AVO_MCP_SPEC / AVO_MCP_CANDIDATES ("K=V,K=V+K=V"): a dry run elsewhere, e.g. on kernels/cpu.
SPEC_A = os.environ.get("AVO_MCP_SPEC") or os.path.join(ROOT, "kernels/attention/avo-sm90-tune.json")
CANDIDATES_A = [[("STAGES", "3")], [("CONSUMER_REGS", "232")], [("PRODUCER_REGS", "32")]]
if os.environ.get("AVO_MCP_CANDIDATES"):
    CANDIDATES_A = [[tuple(kv.split("=", 1)) for kv in c.split("+")] for c in os.environ["AVO_MCP_CANDIDATES"].split(",")]


def Logged(name, argv):
    return mcp_log.Logged(OUT, name, argv)


def phase(tag, spec, candidates, limit, extra=()):
    """One run over MCP: session 1 tries `candidates` (lists of knob edits) until one is
    committed or `limit` seconds pass; session 2 resumes and reads. Returns a summary."""
    run = os.path.join(OUT, "mcp-run-" + tag)
    argv = [AVO, "mcp", spec, "--run-dir", run, "--evals", "40", "--jobs", "16", *extra]
    t_start = time.time()
    s = Logged(tag + "-session1", argv)
    r = s.initialize()
    print("[%s] initialize: %s, server %s" % (tag, r["result"]["protocolVersion"], r["result"]["serverInfo"]))
    print("[%s] tools: %s" % (tag, " ".join(t["name"] for t in s.request("tools/list")["result"]["tools"])))
    s.tool("status")  # waits for the baseline measurement
    s.tool("read_regions")
    s.tool("read_kernel", {"offset": 1, "limit": 40})
    s.tool("read_knowledge")
    committed = None
    for edits in candidates:
        if time.time() - t_start > limit:
            print("[%s] time is up: no more candidates" % tag)
            break
        s.tool("checkout", {"id": max(v["id"] for v in records(run, "lineage.jsonl"))})
        if any(s.tool("set_knob", {"name": k, "value": v})[1] for k, v in edits):
            continue  # refused before compiling (the register pool's static_assert), or unknown
        what = " ".join("%s=%s" % kv for kv in edits)
        text, err = s.tool("submit", {"note": "mcp_h200.py %s: %s" % (tag, what)})
        if err and "refused" in text:
            break
        if "committed: yes" in text:
            committed = what
            break
    s.tool("list_attempts", {"last": 40})
    rc1, _ = s.close()
    s = Logged(tag + "-session2", argv)
    s.initialize()
    status, _ = s.tool("status")
    s.tool("read_lineage")
    rc2, _ = s.close()
    lin, att = records(run, "lineage.jsonl"), records(run, "attempts.jsonl")
    for cmd in (["status"], ["report", "-o", os.path.join(OUT, "mcp-report-%s.html" % tag)]):
        p = subprocess.run([AVO, cmd[0], spec, "--run-dir", run] + cmd[1:], capture_output=True, text=True)
        if cmd[0] == "status":
            open(os.path.join(OUT, "mcp-status-%s.txt" % tag), "w").write(p.stdout + p.stderr)
    ok = bool(committed) and lin[-1]["operator"] == "mcp" and rc1 == 0 and rc2 == 0 and \
        ("best: version %d" % lin[-1]["id"]) in status
    return {"phase": tag, "spec": spec, "committed": committed, "ok": ok, "versions": len(lin),
            "attempts": len(att), "by_operator": {o: sum(a.get("operator") == o for a in att) for o in {a.get("operator") for a in att}},
            "baseline_fitness": lin[0]["fitness"] if lin else None, "best_fitness": max(v["fitness"] for v in lin) if lin else None,
            "gain_note": lin[-1].get("note") if len(lin) > 1 else None, "session_exit": [rc1, rc2],
            "seconds": round(time.time() - t_start, 1)}


def detuned_copy():
    """kernels/attention with attention_sm90.cu's knobs at STAGES 3 and PINGPONG 0."""
    d = os.path.join(OUT, "detuned")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "kernels/attention"), d)
    src = open(os.path.join(d, "attention_sm90.cu")).read()
    for k, v in (("STAGES", "3"), ("PINGPONG", "0")):
        src, n = re.subn(r"(#define %s )\d+( // avo:knob)" % k, r"\g<1>%s\g<2>" % v, src)
        assert n == 1, k
    open(os.path.join(d, "attention_sm90.cu"), "w").write(src)
    spec = json.load(open(os.path.join(d, "avo-sm90-quick.json")))
    spec["knowledge"] = os.path.join(ROOT, "kernels/knowledge")
    open(os.path.join(d, "avo-sm90-quick.json"), "w").write(json.dumps(spec, indent=1))
    return os.path.join(d, "avo-sm90-quick.json")


os.makedirs(OUT, exist_ok=True)
results = [phase("A", SPEC_A, CANDIDATES_A, LIMIT_A)]
if not results[0]["ok"] and not os.environ.get("AVO_MCP_SPEC"):
    results.append(phase("B", detuned_copy(), [[("STAGES", "2"), ("PINGPONG", "1")], [("PINGPONG", "1")]], 240))
json.dump(results, open(os.path.join(OUT, "mcp-summary.json"), "w"), indent=1)
for r in results:
    print(json.dumps(r))
ok = any(r["ok"] for r in results)
print("RESULT:", "an edit of attention_sm90.cu was committed through the gate over MCP in phase " +
      ",".join(r["phase"] for r in results if r["ok"]) if ok else "no commit", "(%.0f s)" % (time.time() - T0))
sys.exit(0 if ok else 1)
