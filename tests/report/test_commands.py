#!/usr/bin/env python3
"""avo status (text and --json) and avo report as commands, on the fixture run directories:
the numbers they print equal those computed from the files, bad command lines and missing
runs get their documented exit codes, a spec finds its run under <spec dir>/.avo/<name>/.
Usage: test_commands.py AVO FIXTURES CACHE_PUT"""
import json, os, shutil, subprocess, sys, tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from expected import expected  # noqa: E402

AVO, FIX, CACHE_PUT = sys.argv[1], sys.argv[2], sys.argv[3]
failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def avo(*args, cwd=None, env=None):
    p = subprocess.run([AVO, *args], capture_output=True, text=True, cwd=cwd, timeout=60,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr



# Measured runs (issue 15): intervals from the gate and the final measurement, noise per
# config. The "normal" fixture with those optional fields added, as the gate writes them.
with tempfile.TemporaryDirectory() as tmp:
    d = os.path.join(tmp, "gated")
    shutil.copytree(os.path.join(FIX, "normal"), d)
    lin = [json.loads(l) for l in open(os.path.join(d, "lineage.jsonl"))]
    for i, v in enumerate(lin):
        if v["id"] > 0:
            v["gain"] = {"value": 1.05, "lo": 1.02, "hi": 1.08, "confidence": 0.95, "samples": 40}
        for j, sc in enumerate(v["scores"]):
            sc["samples"], sc["noise"] = 20, 0.004 if j else 0.031  # the first config is noisy
    open(os.path.join(d, "lineage.jsonl"), "w").write("".join(json.dumps(v) + "\n" for v in lin))
    run = json.load(open(os.path.join(d, "run.json")))
    run["speedup"] = {"value": 1.46, "lo": 1.43, "hi": 1.49, "confidence": 0.95, "samples": 60}
    run["min_gain"] = 0.02
    json.dump(run, open(os.path.join(d, "run.json"), "w"))
    exp = expected(d)
    rc, out, err = avo("status", "--run-dir", d, "--json")
    got = json.loads(out)
    check(rc == 0 and got["configs"] == exp["configs"], f"gated: configs {got.get('configs')} != {exp['configs']}")
    check(got["speedup_interval"] == run["speedup"], f"gated: speedup_interval {got.get('speedup_interval')}")
    check([c["noisy"] for c in got["configs"]] == [True, False, False], "gated: noisy configs")
    rc, out, err = avo("status", "--run-dir", d)
    check("speedup     1.460x [1.430, 1.490] (final interleaved measurement, 95% interval, 60 samples)" in out,
          f"gated: status speedup line: {out}")
    check("best gain   1.050x [1.020, 1.080] over v" in out, "gated: best gain line")
    check("warning: 1 config(s) marked ! time with more noise than the 2% gains sought" in out, "gated: noise warning")
    check(" 3.10% !" in out and " 0.40%" in out, "gated: noise column")
    page = os.path.join(tmp, "g.html")
    rc, out, err = avo("report", "--run-dir", d, "-o", page)
    html = open(page).read() if rc == 0 else ""
    bars = html.count('class="errbar"')
    check(bars == len(lin) - 1, f"gated: {bars} error bars, expected {len(lin) - 1}")
    check('id="noise-warning"' in html and "gains sought" in html, "gated: report noise warning")
    check("1.460x [1.430, 1.490]" in html, "gated: report speedup with its interval")
    check(html.count("data-noise=") == 3, "gated: noise per config")
    # Without the optional fields nothing changes: no bars, no noise column, no warning.
    rc, out, err = avo("report", "--run-dir", os.path.join(FIX, "normal"), "-o", page)
    html = open(page).read()
    check('class="errbar"' not in html and "noise-warning" not in html, "normal: no intervals shown")

for name in ["normal", "baseline-only", "truncated", "hostile"]:
    d = os.path.join(FIX, name)
    exp = expected(d)
    rc, out, err = avo("status", "--run-dir", d, "--json")
    check(rc == 0, f"{name}: status --json exit {rc}: {err}")
    got = json.loads(out)
    for k, v in exp.items():
        check(got.get(k) == v, f"{name}: status --json {k}: {got.get(k)!r} != {v!r}")
    check(("skipped a line" in err) == (name == "truncated"), f"{name}: warnings on stderr: {err!r}")
    check(len(got["warnings"]) == (1 if name == "truncated" else 0), f"{name}: warnings {got['warnings']}")

    rc, out, err = avo("status", "--run-dir", d)
    check(rc == 0, f"{name}: status exit {rc}")
    lines = {l[2:14].strip(): l[14:] for l in out.splitlines() if l.startswith("  ") and len(l) > 14}
    check(lines.get("best") == "v%d, fitness %.6g" % (exp["best_id"], exp["best_fitness"]), f"{name}: best line {lines.get('best')!r}")
    check(lines.get("baseline") == "%.6g" % exp["baseline_fitness"], f"{name}: baseline line")
    check(lines.get("speedup") == "%.3fx" % exp["speedup"], f"{name}: speedup line {lines.get('speedup')!r}")
    check(lines.get("attempts") == str(exp["attempts"]), f"{name}: attempts line")
    check(lines.get("commits", "").split(" ")[0] == str(exp["commits"]), f"{name}: commits line")
    for op, n in exp["commits_by_operator"].items():
        check(f"{op} {n}" in lines.get("commits", ""), f"{name}: commits by {op}")
    for st, n in exp["failures"].items():
        check(f"{st} {n}" in lines.get("failures", ""), f"{name}: failures {st}: {lines.get('failures')!r}")
    check(lines.get("cost") == "$%.4f" % exp["cost_usd"], f"{name}: cost line {lines.get('cost')!r}")
    check(lines.get("tokens") == "%.12g in, %.12g out" % (exp["tokens_in"], exp["tokens_out"]), f"{name}: tokens line")
    for c in exp["configs"]:
        row = next((l for l in out.splitlines() if l.split()[:1] == [c["config"]]), None)
        check(row is not None and row.split()[-1] == "%.3fx" % c["speedup"] and row.split()[1] == "%.5g" % c["baseline_ms"],
              f"{name}: config row {c['config']}: {row!r}")

    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "r.html")
        rc, out, err = avo("report", "--run-dir", d, "--kernel", os.path.join(d, "kernel.c"), "-o", page)
        check(rc == 0 and out.strip() == page and os.path.getsize(page) > 5000, f"{name}: report exit {rc}: {err}")
        check(os.listdir(tmp) == ["r.html"], f"{name}: only the page is left: {os.listdir(tmp)}")
        # default output name, in the current directory
        rc, out, err = avo("report", "--run-dir", os.path.abspath(d), cwd=tmp)
        check(rc == 0 and os.path.exists(os.path.join(tmp, "report.html")), f"{name}: default -o: {rc} {err}")

# exit codes
rc, out, _ = avo("report", "--help")
check(rc == 0 and out.startswith("usage: avo report"), "report --help")
rc, out, _ = avo("status", "--help")
check(rc == 0 and out.startswith("usage: avo status"), "status --help")
check(avo("report")[0] == 2, "report without arguments: 2")
check(avo("status")[0] == 2, "status without arguments: 2")
check(avo("report", "--frobnicate", "x")[0] == 2, "unknown option: 2")
check(avo("status", "--run-dir")[0] == 2, "missing value: 2")
check(avo("status", "a.json", "b.json")[0] == 2, "two specs: 2")
rc, _, err = avo("status", "--run-dir", "/nonexistent/run")
check(rc == 3 and err.startswith("avo: /nonexistent/run"), f"missing run dir: {rc} {err!r}")
with tempfile.TemporaryDirectory() as tmp:
    rc, _, err = avo("report", "--run-dir", tmp, "-o", os.path.join(tmp, "r.html"))
    check(rc == 3 and "no run state" in err, f"empty run dir: {rc} {err!r}")
    rc, _, err = avo("report", "--run-dir", os.path.join(FIX, "normal"), "-o", os.path.join(tmp, "no", "dir", "r.html"))
    check(rc == 4, f"unwritable output: {rc} {err!r}")
    rc, _, err = avo("report", "--run-dir", os.path.join(FIX, "normal"), "--peers", os.path.join(tmp, "none.json"),
                     "-o", os.path.join(tmp, "r.html"))
    check(rc == 3 and not os.path.exists(os.path.join(tmp, "r.html")), f"missing --peers: {rc} {err!r}")

    # A spec finds its run in <spec dir>/.avo/<name>/ and its kernel for the diff.
    shutil.copy(os.path.join(FIX, "normal", "kernel.c"), os.path.join(tmp, "kernel.c"))
    with open(os.path.join(tmp, "harness.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")
    with open(os.path.join(tmp, "avo.json"), "w") as f:
        json.dump({"name": "toy", "kernel": "kernel.c", "harness": "harness.c", "compiler": "cc",
                   "objective": "tflops", "configs": [{"name": "mha-s4k-full", "args": []}]}, f)
    shutil.copytree(os.path.join(FIX, "normal"), os.path.join(tmp, ".avo", "toy"))
    rc, out, err = avo("status", os.path.join(tmp, "avo.json"), "--json")
    check(rc == 0 and json.loads(out or "{}").get("name") == "toy", f"status SPEC: {rc} {err!r}")
    rc, out, err = avo("report", os.path.join(tmp, "avo.json"), "-o", os.path.join(tmp, "s.html"))
    html = open(os.path.join(tmp, "s.html"), encoding="utf-8").read() if rc == 0 else ""
    check(rc == 0 and "avo report: <span id=\"title\">toy</span>" in html and 'data-region="softmax"' in html,
          f"report SPEC: {rc} {err!r}")
    # --run-dir overrides the spec's
    rc, out, err = avo("status", os.path.join(tmp, "avo.json"), "--run-dir", os.path.join(FIX, "baseline-only"), "--json")
    check(rc == 0 and json.loads(out or "{}").get("commits") == 0, f"SPEC --run-dir: {rc} {err!r}")
    rc, _, err = avo("status", os.path.join(tmp, "missing.json"))
    check(rc == 3, f"missing spec: {rc} {err!r}")

# A lineage without edits (an older run): the diff comes from the best variant's source in the
# cache, against the whole original file.
with tempfile.TemporaryDirectory() as tmp:
    cache, run_dir = os.path.join(tmp, "cache"), os.path.join(tmp, "run")
    env = {"AVO_CACHE_DIR": cache, "AVO_CACHE_REMOTE": ""}
    kernel = open(os.path.join(FIX, "normal", "kernel.c"), encoding="utf-8").read()
    best_src = kernel.replace("#define BLOCK_N 64", "#define BLOCK_N 128").replace("x[i] /= s;", "x[i] *= 1.0f / s;")
    with open(os.path.join(tmp, "best.c"), "w") as f:
        f.write(best_src)
    p = subprocess.run([CACHE_PUT, os.path.join(tmp, "best.c")], capture_output=True, text=True,
                       env=dict(os.environ, **env), timeout=60)
    check(p.returncode == 0 and len(p.stdout.strip()) == 32, f"cache put: {p.stderr}")
    os.makedirs(run_dir)
    lin = [json.loads(l) for l in open(os.path.join(FIX, "normal", "lineage.jsonl"), encoding="utf-8")][:2]
    for v in lin:
        del v["edits"]
    lin[1]["variant"] = p.stdout.strip()
    with open(os.path.join(run_dir, "lineage.jsonl"), "w") as f:
        f.write("".join(json.dumps(v) + "\n" for v in lin))
    page = os.path.join(tmp, "r.html")
    rc, _, err = avo("report", "--run-dir", run_dir, "--kernel", os.path.join(FIX, "normal", "kernel.c"), "-o", page, env=env)
    html = open(page, encoding="utf-8").read() if rc == 0 else ""
    # the source's regions are scanned and diffed region by region
    check(rc == 0 and 'data-region="softmax"' in html and '+\t\tx[i] *= 1.0f / s;' in html, f"diff from the cached source: {rc} {err}")
    check('data-region="accumulate"' not in html, "an unchanged region shows no diff")
    check('<td class="mono">BLOCK_N</td><td class="mono">64</td><td class="mono up">128</td>' in html,
          "the knob table from the cached source")
    # without the cache entry the page still renders and says so
    rc, _, err = avo("report", "--run-dir", run_dir, "--kernel", os.path.join(FIX, "normal", "kernel.c"), "-o", page,
                     env={"AVO_CACHE_DIR": os.path.join(tmp, "empty"), "AVO_CACHE_REMOTE": ""})
    html = open(page, encoding="utf-8").read() if rc == 0 else ""
    check(rc == 0 and "records no edits and its source is not available" in html, f"no cached source: {rc} {err}")

if failed:
    print(f"{failed} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("ok")
