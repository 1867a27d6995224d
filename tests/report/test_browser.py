#!/usr/bin/env python3
"""The report page in a real headless browser (Debian's chromium): it loads without a single
console message (no script runs, nothing is fetched, no CSP violation), the summary numbers
in the DOM equal those computed from the fixture files, text from the files stays text, and
a screenshot is taken and shows a real page. Exits 77 when chromium is not installed.
Usage: test_browser.py AVO RUN_DIR[:KERNEL]...  (KERNEL defaults to RUN_DIR/kernel.c when present;
the checks for hostile text and torn lines apply to the fixtures named hostile and truncated)"""
import html.parser, json, os, shutil, struct, subprocess, sys, tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from expected import expected  # noqa: E402

AVO, RUNS = sys.argv[1], sys.argv[2:]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    print("chromium is not installed (apt-get install chromium): skipped")
    sys.exit(77)
failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def browse(tmp, page, *extra):
    """Run chromium on a local file; returns (stdout, console lines from stderr)."""
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--user-data-dir=" + os.path.join(tmp, "profile"), "--enable-logging=stderr", "--v=0", *extra,
            "file://" + os.path.abspath(page)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        print(p.stderr[-3000:], file=sys.stderr)
    check(p.returncode == 0, f"chromium exit {p.returncode} on {page}")
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]
    return p.stdout, console


class Dom(html.parser.HTMLParser):
    """Elements by id (attributes and text), every tag seen, all text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.tags, self.text, self.stack, self.rows = {}, [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "tr" and "data-config" in a:
            self.rows.append(a)
        self.stack.append((tag, a.get("id"), len(self.text)))
        if a.get("id"):
            self.ids[a["id"]] = {"attrs": a, "text": None}

    def handle_endtag(self, tag):
        while self.stack:
            t, i, start = self.stack.pop()
            if i:
                self.ids[i]["text"] = "".join(self.text[start:])
            if t == tag:
                break

    def handle_data(self, data):
        self.text.append(data)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is a PNG")
    return struct.unpack(">II", head[16:24])


with tempfile.TemporaryDirectory() as tmp:
    # The console check must be able to fail: a page that logs an error is seen.
    probe = os.path.join(tmp, "probe.html")
    with open(probe, "w") as f:
        f.write("<!DOCTYPE html><p>probe</p><script>console.error('avo-probe')</script>")
    _, console = browse(tmp, probe, "--dump-dom")
    check(any("avo-probe" in l for l in console), f"the console probe is seen (got {console})")

    blank = os.path.join(tmp, "blank.html")
    with open(blank, "w") as f:
        f.write("<!DOCTYPE html><title>blank</title>")
    browse(tmp, blank, "--screenshot=" + os.path.join(tmp, "blank.png"), "--window-size=1280,2000")
    blank_size = os.path.getsize(os.path.join(tmp, "blank.png"))

    for arg in RUNS:
        d, _, kernel = arg.partition(":")
        name = os.path.basename(os.path.normpath(d))
        kernel = kernel or os.path.join(d, "kernel.c")
        exp = expected(d)
        page = os.path.join(tmp, name + ".html")
        cmd = [AVO, "report", "--run-dir", d, "-o", page] + (["--kernel", kernel] if os.path.exists(kernel) else [])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"{name}: avo report: {p.stderr}")
        if p.returncode:
            continue

        dom, console = browse(tmp, page, "--dump-dom")
        check(not console, f"{name}: console messages: {console}")
        doc = Dom()
        doc.feed(dom)
        check("svg" in doc.tags and "table" in doc.tags, f"{name}: chart and tables in the DOM")
        for bad in ("script", "img", "iframe", "object", "embed", "link", "b"):
            check(bad not in doc.tags, f"{name}: a <{bad}> element in the DOM")

        def num(i):
            e = doc.ids.get(i)
            check(e is not None, f"{name}: #{i} on the page")
            return float(e["attrs"]["data-value"]) if e and e["attrs"].get("data-value") else None

        check(num("best-fitness") == exp["best_fitness"], f"{name}: best fitness {num('best-fitness')} != {exp['best_fitness']}")
        check(num("baseline-fitness") == exp["baseline_fitness"], f"{name}: baseline fitness")
        check(num("speedup") == exp["speedup"], f"{name}: speedup {num('speedup')} != {exp['speedup']}")
        check(num("best-version") == exp["best_id"], f"{name}: best version")
        check(num("attempts") == exp["attempts"], f"{name}: attempts {num('attempts')} != {exp['attempts']}")
        check(num("commits") == exp["commits"], f"{name}: commits")
        check(num("elapsed") == exp["elapsed_s"], f"{name}: elapsed")
        check(num("tokens-in") == exp["tokens_in"] and num("tokens-out") == exp["tokens_out"], f"{name}: tokens")
        check(num("cost") == exp["cost_usd"], f"{name}: cost")
        stop = doc.ids.get("stop-reason", {}).get("attrs", {}).get("data-value")
        check(stop == (exp["stop_reason"] or ""), f"{name}: stop reason {stop!r}")
        check(doc.ids.get("speedup", {}).get("text") == "%.3fx" % exp["speedup"], f"{name}: speedup as shown")
        check(doc.ids.get("attempts", {}).get("text") == str(exp["attempts"]), f"{name}: attempts as shown")
        rows = {r["data-config"]: r for r in doc.rows}
        def attr(r, k):
            return float(r[k]) if r.get(k) else None

        for c in exp["configs"]:
            r = rows.get(c["config"])
            check(r is not None and attr(r, "data-baseline-ms") == c["baseline_ms"] and
                  attr(r, "data-best-ms") == c["best_ms"] and attr(r, "data-speedup") == c["speedup"],
                  f"{name}: config row {c['config']}: {r}")
        text = "".join(doc.text)
        if name == "hostile":
            # the hostile strings are on the page as text, exactly
            for s in ["</pre><script>alert('note')</script> <img src=x onerror=alert(1)>",
                      "</pre><script>alert('region')</script><!-- ]]> </style></title>",
                      "mha<script>alert('config')</script>", "<script>alert('stop')</script>"]:
                check(s in text, f"hostile: {s!r} shown as text")
        if name == "truncated":
            check("warnings" in doc.ids and "attempts.jsonl:21:" in doc.ids["warnings"]["text"], "truncated: warning shown")

        png = os.path.join(tmp, name + ".png")
        _, console = browse(tmp, page, "--screenshot=" + png, "--window-size=1280,2000")
        check(not console, f"{name}: console messages while painting: {console}")
        check(os.path.exists(png), f"{name}: screenshot written")
        if os.path.exists(png):
            check(png_size(png) == (1280, 2000), f"{name}: screenshot is 1280x2000: {png_size(png)}")
            size = os.path.getsize(png)
            check(size > 8 * blank_size and size > 40000, f"{name}: screenshot {size} bytes vs blank {blank_size}")
            keep = os.environ.get("AVO_REPORT_SCREENSHOTS")
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(png, os.path.join(keep, name + ".png"))

if failed:
    print(f"{failed} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("ok")
