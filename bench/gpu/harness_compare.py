#!/usr/bin/env python3
"""Old (legacy-trusted) vs new (avo-harness-1) harness: per config and overall ratio of the
new harness's TFLOP/s to the old one's, with a bootstrap 95% interval (standard library only).

    harness_compare.py OUT ROUNDS [SMI_CSV]

Reads OUT/harness-{old,new}-R.json (`avo eval --json`, R = 1..ROUNDS; each config carries
its per-call times in "samples"). A config's value in one run is the median of its
samples; a harness's value is the mean over its runs. The interval is a two-level
bootstrap: runs are drawn with replacement (the same draw for every config, since drift
is shared by a session), then each drawn run's samples; so run-to-run noise counts, not
only call-to-call noise. The overall ratio is the geometric mean over configs, as fitness.
With SMI_CSV (nvidia-smi samples, see harness_h200.sh) it also prints the mean SM clock,
power and temperature while each run was going."""
import json, math, random, statistics as st, sys

B = 2000


def load(out, kind, rounds):
    runs = []
    for r in range(1, rounds + 1):
        try:
            runs.append(json.load(open("%s/harness-%s-%d.json" % (out, kind, r))))
        except (OSError, ValueError) as e:
            print("round %d %s: no result (%s)" % (r, kind, e))
    return runs


def samples(run, name):
    for c in run["configs"]:
        if c["name"] == name and c.get("status") == "ok" and c.get("samples"):
            return c["samples"]
    return None


def value(runs_samples, rng=None, pick=None):
    """Mean over runs of the median time; with rng, a bootstrap draw (runs `pick`)."""
    meds = []
    for i in pick if pick is not None else range(len(runs_samples)):
        s = runs_samples[i]
        if rng:
            s = [s[rng.randrange(len(s))] for _ in s]
        meds.append(st.median(s))
    return st.mean(meds)


def drift(runs_samples_by_config):
    """Geomean over configs and runs of median(first 5 samples) / median(last 5): below 1,
    the first timed calls ran faster than the last (started with power to spare)."""
    logs = [math.log(st.median(s[:5]) / st.median(s[-5:])) for rs in runs_samples_by_config for s in rs
            if len(s) >= 10]
    return math.exp(sum(logs) / len(logs)) if logs else float("nan")


def interval(xs):
    xs = sorted(xs)
    return xs[int(0.025 * (len(xs) - 1))], xs[int(0.975 * (len(xs) - 1))]


def smi_summary(path, out, rounds):
    """Mean clock/power/temperature over each run's span (spans from OUT/spans.txt), and the
    mean clock and power under load: the samples drawing at least 60% of the span's peak
    power (the timed calls and the warm hold, not the gaps where avo compares outputs)."""
    try:
        spans = [l.split() for l in open("%s/spans.txt" % out)]
        rows = []
        for l in open(path):
            f = [x.strip() for x in l.split(",")]
            try:
                rows.append((float(f[0]), float(f[1]), float(f[2]), float(f[3])))
            except (ValueError, IndexError):
                continue
    except OSError as e:
        print("no GPU clock log (%s)" % e)
        return
    print("%-10s %10s %10s %8s %8s %9s %9s" % ("run", "SM MHz", "power W", "temp C", "samples", "load MHz",
                                               "load W"))
    for name, t0, t1 in spans:
        sel = [r for r in rows if float(t0) <= r[0] <= float(t1)]
        if sel:
            peak = max(r[2] for r in sel)
            load = [r for r in sel if r[2] >= 0.6 * peak]
            print("%-10s %10.0f %10.0f %8.1f %8d %9.0f %9.0f" % (
                name, st.mean(r[1] for r in sel), st.mean(r[2] for r in sel), st.mean(r[3] for r in sel), len(sel),
                st.mean(r[1] for r in load), st.mean(r[2] for r in load)))


def main():
    out, rounds = sys.argv[1], int(sys.argv[2])
    runs = {k: load(out, k, rounds) for k in ("old", "new")}
    if not runs["old"] or not runs["new"]:
        sys.exit("harness_compare: need at least one run of each harness")
    names = [c["name"] for c in runs["new"][0]["configs"]]
    data = {}
    for n in names:
        o = [s for s in (samples(r, n) for r in runs["old"]) if s]
        w = [s for s in (samples(r, n) for r in runs["new"]) if s]
        if o and w:
            data[n] = (o, w)
        else:
            print("%-24s missing (old %d, new %d runs with samples)" % (n, len(o), len(w)))
    if not data:
        sys.exit("harness_compare: no config has samples from both harnesses")
    rng = random.Random(14)
    boot = {n: [] for n in data}
    geo = []
    for _ in range(B):
        po = [rng.randrange(len(runs["old"])) for _ in runs["old"]]
        pw = [rng.randrange(len(runs["new"])) for _ in runs["new"]]
        logs = []
        for n, (o, w) in data.items():
            # TFLOP/s new / old = time old / time new
            r = value(o, rng, [i % len(o) for i in po]) / value(w, rng, [i % len(w) for i in pw])
            boot[n].append(r)
            logs.append(math.log(r))
        geo.append(math.exp(sum(logs) / len(logs)))
    print("%-24s %9s %9s %8s %17s %9s %9s" % ("config", "old ms", "new ms", "new/old", "95% interval",
                                              "old runs", "new runs"))
    logs = []
    for n, (o, w) in data.items():
        vo, vw = value(o), value(w)
        lo, hi = interval(boot[n])
        logs.append(math.log(vo / vw))
        spread = lambda rs: (max(map(st.median, rs)) / min(map(st.median, rs)) - 1) * 100 if len(rs) > 1 else 0.0
        print("%-24s %9.4f %9.4f %8.3f   [%6.3f, %6.3f] %8.1f%% %8.1f%%" % (n, vo, vw, vo / vw, lo, hi,
                                                                        spread(o), spread(w)))
    g = math.exp(sum(logs) / len(logs))
    lo, hi = interval(geo)
    print("(ratio: new TFLOP/s over old = old time over new; 'runs': spread of the run medians)")
    print("fitness old: %s" % " ".join("%.2f" % r["fitness"] for r in runs["old"]))
    print("fitness new: %s" % " ".join("%.2f" % r["fitness"] for r in runs["new"]))
    print("correct: old %s, new %s" % (all(r["correct"] for r in runs["old"]), all(r["correct"] for r in runs["new"])))
    print("first 5 / last 5 timed calls (geomean, 1.0 = no drift within a run): old %.4f, new %.4f" % (
        drift([o for o, _ in data.values()]), drift([w for _, w in data.values()])))
    verdict = "agree within noise" if lo <= 1.0 <= hi else "DISAGREE beyond noise"
    print("overall new/old (geomean of %d configs): %.4f, 95%% interval [%.4f, %.4f]: %s" % (
        len(data), g, lo, hi, verdict))
    if len(sys.argv) > 3:
        smi_summary(sys.argv[3], out, rounds)


if __name__ == "__main__":
    main()
