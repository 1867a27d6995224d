# Join `avo eval --json` results (ours) with the peers timed in the same session
# (peers_sdpa.json from peers_sdpa.py) into one table and one JSON file.
import json, os, sys
out = sys.argv[1]
peers = json.load(open(os.path.join(out, "peers_sdpa.json")))
def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return {}
    r = json.load(open(p))
    return {c["name"]: c for c in r.get("configs", [])}
sm90, mma = load("eval-avo-sm90.json"), load("eval-avo.json")
def cname(p):
    kind = "mha" if p["kind"] == "MHA" else "gqa%d" % p["hkv"]
    return "%s-s%dk-%s" % (kind, p["s"] // 1024, "causal" if p["causal"] else "full")
gpu = open(os.path.join(out, "gpu.txt")).read().strip().splitlines()
rows = []
print("GPU: %s" % " | ".join(gpu))
print("%-18s %9s %9s %9s %9s %8s %8s" % ("config", "ours-sm90", "ours-mma", "cudnn", "fa2", "sm90/cudnn", "ok"))
for p in peers:
    n = cname(p)
    a, b = sm90.get(n, {}), mma.get(n, {})
    row = {"config": n, "b": p["b"], "hq": p["hq"], "hkv": p["hkv"], "s": p["s"], "d": p["d"],
           "causal": p["causal"], "ours": a.get("tflops"), "ours_correct": a.get("correct"),
           "ours_max_rel_err": a.get("max_rel_err"), "ours_mma": b.get("tflops"),
           "ours_mma_correct": b.get("correct"), "cudnn": p.get("cudnn"), "fa2": p.get("flash(FA2)")}
    rows.append(row)
    ratio = (row["ours"] / row["cudnn"]) if row["ours"] and row["cudnn"] else float("nan")
    f = lambda v: "%9.1f" % v if isinstance(v, (int, float)) else "%9s" % "-"
    print("%-18s %s %s %s %s %9.3f %8s" % (n, f(row["ours"]), f(row["ours_mma"]), f(row["cudnn"]),
          f(row["fa2"]), ratio, "yes" if a.get("correct") and b.get("correct") else "NO"))
json.dump({"gpu": gpu, "rows": rows}, open(os.path.join(out, "avo-eval-h100.json"), "w"), indent=1)
