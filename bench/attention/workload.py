# The attention benchmark's workload and statistics. No torch here: bench.py's
# --dry-run and the CI test (kernels.bench_workload) use this module on a machine
# without a GPU.
import collections, json, math, os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
AVO_SPEC = os.path.join(ROOT, "kernels", "attention", "avo-sm90.json")
HEAD_DIMS = (64, 128, 256)
TOKENS = 32768  # every AVO config has b*s = 32768; the 'real' configs keep about that
# Head layouts of the 'real' configs: MHA 16/16 and one GQA 32/8 (named like the AVO ones,
# by the number of KV heads).
LAYOUTS = (("mha", 16, 16), ("gqa8", 32, 8))

Config = collections.namedtuple("Config", "name b hq hkv s d causal")


def flops(c):
    """The standard count: 4*b*hq*s*s*d forward, halved when causal (GQA counts query heads)."""
    return 4.0 * c.b * c.hq * c.s * c.s * c.d / (2 if c.causal else 1)


def _slen(s):
    return "%dk" % (s // 1024) if s % 1024 == 0 else str(s)


def _make(kind, b, hq, hkv, s, d, causal, prefix=""):
    name = "%s%s-s%s-%s" % (kind, prefix, _slen(s), "causal" if causal else "full")
    return Config(name, b, hq, hkv, s, d, causal)


def avo_configs(path=AVO_SPEC):
    """The configs of an avo spec (kernels/attention/avo-sm90.json): each one's args are
    harness flags (--b N --hq N --hkv N --s N --d N --causal 0|1)."""
    with open(path) as fh:
        spec = json.load(fh)
    if not isinstance(spec, dict) or not isinstance(spec.get("configs"), list):
        raise ValueError("%s: no \"configs\" array" % path)
    out = []
    for i, c in enumerate(spec["configs"]):
        where = "%s: configs[%d]" % (path, i)
        a = c.get("args") if isinstance(c, dict) else None
        if not isinstance(a, list) or len(a) % 2 or not all(isinstance(x, str) for x in a):
            raise ValueError("%s: \"args\" must be pairs of strings" % where)
        kv = {}
        for flag, val in zip(a[::2], a[1::2]):
            try:
                kv[flag.lstrip("-")] = int(val)
            except ValueError:
                raise ValueError("%s: %s %r is not an integer" % (where, flag, val)) from None
        missing = [k for k in ("b", "hq", "hkv", "s", "d", "causal") if k not in kv]
        if missing:
            raise ValueError("%s: missing %s" % (where, ", ".join("--" + m for m in missing)))
        name = c.get("name") or "config%d" % i
        out.append(Config(name, kv["b"], kv["hq"], kv["hkv"], kv["s"], kv["d"], bool(kv["causal"])))
    return out


def real_configs():
    """Shapes users have that the AVO workload lacks: lengths that are not multiples of
    128, head dims 64 and 256, short sequences in big batches. MHA and GQA, causal and
    full each."""
    out = []
    for s in (1000, 4000, 8000):  # b*s ~ 32k tokens like the AVO configs
        for kind, hq, hkv in LAYOUTS:
            for causal in (False, True):
                out.append(_make(kind, TOKENS // s, hq, hkv, s, 128, causal))
    for d in (64, 256):
        for s in (4096, 8192, 16384):
            for kind, hq, hkv in LAYOUTS:
                for causal in (False, True):
                    out.append(_make(kind, TOKENS // s, hq, hkv, s, d, causal, "-d%d" % d))
    for b in (32, 64):
        for s in (512, 1024):
            for kind, hq, hkv in LAYOUTS:
                for causal in (False, True):
                    out.append(_make(kind, b, hq, hkv, s, 128, causal, "-b%d" % b))
    return out


def workload(which, spec=AVO_SPEC):
    if which not in ("avo24", "real", "all"):
        raise ValueError("unknown workload %r (avo24, real, all)" % which)
    avo = avo_configs(spec) if which != "real" else []
    try:
        validate(avo)
    except ValueError as e:
        raise ValueError("%s: %s" % (spec, e)) from None
    out = avo + (real_configs() if which != "avo24" else [])
    validate(out)
    return out


def validate(configs):
    """Raises ValueError naming the first config the benchmark cannot run."""
    seen = set()
    for c in configs:
        if c.name in seen:
            raise ValueError("config %s: name used twice" % c.name)
        seen.add(c.name)
        if min(c.b, c.hq, c.hkv, c.s) < 1:
            raise ValueError("config %s: b, hq, hkv and s must be >= 1" % c.name)
        if c.hq % c.hkv:
            raise ValueError("config %s: hq %d is not a multiple of hkv %d" % (c.name, c.hq, c.hkv))
        if c.d not in HEAD_DIMS:
            raise ValueError("config %s: head dim %d not in %s" % (c.name, c.d, HEAD_DIMS))


def describe(configs):
    """The dry-run listing: one line per config and the totals."""
    lines = ["%-26s %4s %4s %4s %6s %4s %-6s %10s" % ("config", "b", "hq", "hkv", "s", "d", "mask", "GFLOP")]
    for c in configs:
        lines.append("%-26s %4d %4d %4d %6d %4d %-6s %10.1f" % (c.name, c.b, c.hq, c.hkv, c.s, c.d,
                                                                "causal" if c.causal else "full", flops(c) / 1e9))
    total = sum(flops(c) for c in configs)
    lines.append("%d configs, %.1f TFLOP per round over all configs (one call each)" % (len(configs), total / 1e12))
    return "\n".join(lines)


# ---- statistics (standard library only) ----

def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def speedup_ci(t_ours, t_peer, rng, resamples=1000, level=0.95):
    """Speed of ours over a peer from paired per-round times (ms; round i timed both):
    the point is median(peer) / median(ours); the interval is a percentile bootstrap
    over rounds (rounds resampled with replacement, pairs kept together)."""
    n = len(t_ours)
    if n == 0 or n != len(t_peer):
        raise ValueError("speedup_ci: need the same number (> 0) of rounds for both")
    point = median(t_peer) / median(t_ours)
    stats = []
    for _ in range(resamples):
        idx = rng.choices(range(n), k=n)
        stats.append(median([t_peer[i] for i in idx]) / median([t_ours[i] for i in idx]))
    stats.sort()
    lo = stats[int(math.floor((1 - level) / 2 * (resamples - 1)))]
    hi = stats[int(math.ceil((1 + level) / 2 * (resamples - 1)))]
    return point, lo, hi


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None
