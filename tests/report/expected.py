"""What a run directory's summary must say, computed from its files independently of avo
(shared by test_commands.py and test_browser.py)."""
import json, os


def jsonl(path):
    """Whole JSON objects, one per line; torn or foreign lines are skipped (as avo does)."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if isinstance(o, dict):
                out.append(o)
    return out


def expected(run_dir):
    lineage = jsonl(os.path.join(run_dir, "lineage.jsonl"))
    attempts = jsonl(os.path.join(run_dir, "attempts.jsonl"))
    run = {}
    if os.path.exists(os.path.join(run_dir, "run.json")):
        with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
            run = json.load(f)
    base = next(v for v in lineage if v["id"] == 0)
    best = None
    for v in lineage:  # highest fitness, latest on ties
        if best is None or v["fitness"] >= best["fitness"]:
            best = v
    by_op, fails = {}, {}
    for v in lineage:
        if v is not base:
            by_op[v["operator"]] = by_op.get(v["operator"], 0) + 1
    for a in attempts:
        if a["status"] != "committed":
            if a["status"] != "confirm":  # the gate's A/B runs are measurements, not failures
                fails[a["status"]] = fails.get(a["status"], 0) + 1
    configs = []
    bscores = {s["config"]: s for s in best.get("scores", [])}
    for s in base.get("scores", []):
        b = bscores.get(s["config"], {})
        row = {"config": s["config"], "baseline_ms": s.get("ms"), "best_ms": b.get("ms"),
               "baseline_tflops": s.get("tflops"), "best_tflops": b.get("tflops"), "speedup": None}
        noise = [x["noise"] for x in (s, b) if isinstance(x.get("noise"), (int, float))]
        row["noise"] = max(noise) if noise else None
        limit = run.get("min_gain") or 0.01
        row["noisy"] = row["noise"] is not None and row["noise"] > limit
        if row["baseline_ms"] and row["best_ms"]:
            row["speedup"] = row["baseline_ms"] / row["best_ms"]
        elif row["baseline_tflops"] and row["best_tflops"]:
            row["speedup"] = row["best_tflops"] / row["baseline_tflops"]
        configs.append(row)
    return {
        "best_id": best["id"], "best_fitness": best["fitness"], "baseline_fitness": base["fitness"],
        "speedup": best["fitness"] / base["fitness"], "attempts": len(attempts), "commits": len(lineage) - 1,
        "commits_by_operator": by_op, "failures": fails, "elapsed_s": run["elapsed_s"],
        "tokens_in": run["tokens_in"], "tokens_out": run["tokens_out"], "cost_usd": run["cost_usd"],
        "stop_reason": run["stop_reason"], "done": run["done"], "objective": best["objective"],
        "configs": configs,
        "speedup_interval": run.get("speedup"),
    }
