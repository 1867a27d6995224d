#!/usr/bin/env python3
# Side-by-side benchmark of avo's attention kernels and the peers, in one process:
#   ours  - shared libraries exposing avo_attention_forward / avo_attention_variant
#           (kernels/attention/attention.h), loaded with ctypes (--lib NAME=PATH.so);
#   cudnn - PyTorch SDPA under sdpa_kernel(CUDNN_ATTENTION);
#   fa2   - PyTorch SDPA under sdpa_kernel(FLASH_ATTENTION) (FlashAttention-2);
#   flex  - FlexAttention under torch.compile, a causal block mask from create_block_mask.
# GQA: SDPA and Flex are called with enable_gqa=True (KV heads are not expanded).
#
#   python3 bench.py --lib ours=libours.so [--lib NAME=PATH ...] [--workload avo24|real|all]
#   python3 bench.py --dry-run [--workload ...]     # the workload only; torch not imported
#
# Correctness: every output, ours and the peers', against an fp32 reference on fresh
# torch.randn inputs, all query rows, computed in row chunks (~1 GiB of scores at a time).
# Timing: round-robin, every round runs each implementation once in a fresh random order;
# before each call the L2 is flushed (a >= 256 MiB buffer written) and a spin kernel holds
# the stream while the call is enqueued, so CUDA events time the GPU work, not the host's
# launch overhead. Warm-up first; the median of --reps rounds. ours/peer = the ratio of
# medians with a 95% bootstrap interval over the rounds. FLOPs: 4*b*hq*s*s*d, halved when
# causal. Results: a table on stdout (and --table), JSON to --out (rewritten after each
# config, "complete": false until the end).
import argparse, ctypes, json, math, os, random, re, subprocess, sys, time, warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload as wl  # noqa: E402  (torch-free)

TOL = 2e-2
CHECK_ELEMS = 1 << 28  # fp32 scores per reference chunk (1 GiB)
PEERS = ("cudnn", "fa2", "flex")
HEADER = os.path.join(wl.ROOT, "kernels", "attention", "attention.h")
torch = F = None  # imported by load_torch(), so that --dry-run needs no torch


def load_torch():
    global torch, F
    import torch as _torch
    import torch._dynamo  # noqa: F401  (lazy in torch; its config is set below)
    import torch.nn.functional as _F
    torch, F = _torch, _F
    warnings.filterwarnings("ignore", category=FutureWarning)
    torch.backends.cuda.matmul.allow_tf32 = False  # the reference is plain fp32
    torch.backends.cudnn.allow_tf32 = False
    # Flex recompiles for each new shape; the default limit (8) would fall back to eager.
    for knob in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        try:
            if hasattr(torch._dynamo.config, knob):
                setattr(torch._dynamo.config, knob, 4096)
        except (AttributeError, ValueError, TypeError):  # a renamed knob's old name
            pass


# ---- ours: ctypes against attention.h ----

_CTYPES = {"int": ctypes.c_int, "unsigned": ctypes.c_uint, "unsigned int": ctypes.c_uint,
           "float": ctypes.c_float, "double": ctypes.c_double, "size_t": ctypes.c_size_t,
           "long": ctypes.c_long, "long long": ctypes.c_longlong, "unsigned long": ctypes.c_ulong,
           "unsigned long long": ctypes.c_ulonglong, "uint32_t": ctypes.c_uint32, "int64_t": ctypes.c_int64,
           "int32_t": ctypes.c_int32, "uint64_t": ctypes.c_uint64}
REQUIRED = ("q", "k", "v", "o", "b", "hq", "hkv", "s", "d", "causal")


def params_type(header):
    """The ctypes mirror of avo_attention_params, read from attention.h, so that a field
    added there (fp16, a scale, ...) keeps the layout right. Fields the bench does not
    know are passed as zero and named at the top of the output."""
    with open(header) as fh:
        text = fh.read()
    m = re.search(r"typedef\s+struct\s+avo_attention_params\s*\{(.*?)\}\s*avo_attention_params\s*;", text, re.S)
    if not m:
        raise ValueError("%s: no 'typedef struct avo_attention_params { ... }'" % header)
    body = re.sub(r"/\*.*?\*/|//[^\n]*", " ", m.group(1), flags=re.S)
    fields = []
    for decl in body.split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        dm = re.match(r"((?:(?:const|volatile|unsigned|long)\s+)*[A-Za-z_]\w*)\b\s*([*\s]*[A-Za-z_].*)$", decl)
        if not dm:
            raise ValueError("%s: cannot read the field declaration '%s'" % (header, decl))
        base = " ".join(w for w in dm.group(1).split() if w not in ("const", "volatile"))
        for part in dm.group(2).split(","):
            name = part.replace("*", " ").replace("const", " ").strip()
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise ValueError("%s: cannot read the field '%s' of '%s'" % (header, part, decl))
            if "*" in part or base == "cudaStream_t":
                fields.append((name, ctypes.c_void_p))
            elif base in _CTYPES:
                fields.append((name, _CTYPES[base]))
            else:
                raise ValueError("%s: field %s has type %s, which the bench cannot pass" % (header, name, base))
    missing = [f for f in REQUIRED if f not in dict(fields)]
    if missing:
        raise ValueError("%s: avo_attention_params lacks %s" % (header, ", ".join(missing)))
    params = type("Params", (ctypes.Structure,), {"_fields_": fields})
    # The return codes with their comments, for the n/a reasons.
    params.codes = {int(m.group(2)): "%s: %s" % (m.group(1), m.group(3).strip()) for m in re.finditer(
        r"#define\s+(AVO_ATTENTION_E\w+)\s+\(?\s*(-?\d+)\s*\)?[ \t]*(?:/\*\s*(.*?)\s*\*/)?", text)}
    return params


class Ours:
    def __init__(self, name, path, params):
        self.name, self.path, self.params = name, path, params
        self.lib = ctypes.CDLL(path)
        self.lib.avo_attention_forward.argtypes = [ctypes.POINTER(params), ctypes.c_void_p]
        self.lib.avo_attention_forward.restype = ctypes.c_int
        self.lib.avo_attention_variant.restype = ctypes.c_char_p
        self.variant = (self.lib.avo_attention_variant() or b"?").decode(errors="replace")
        # Which kernel the entry point picks for a shape (attention.h; older libraries lack it).
        self.kernel_for = getattr(self.lib, "avo_attention_kernel_for", None)
        if self.kernel_for is not None:
            self.kernel_for.argtypes = [ctypes.POINTER(params), ctypes.c_int]
            self.kernel_for.restype = ctypes.c_char_p

    def fn(self, q, k, v, causal):
        b, hq, s, d = q.shape
        o = torch.full_like(q, float("nan"))  # rows it does not write fail the check
        p = self.params(q=q.data_ptr(), k=k.data_ptr(), v=v.data_ptr(), o=o.data_ptr(), b=b, hq=hq,
                        hkv=k.shape[1], s=s, d=d, causal=int(causal))
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        codes = self.params.codes

        def f():
            rc = self.lib.avo_attention_forward(ctypes.byref(p), stream)
            if rc != 0:
                raise RuntimeError("avo_attention_forward returned %d (%s)" % (rc, codes.get(rc, "?")))
            return o
        if self.kernel_for is not None:
            major, minor = torch.cuda.get_device_capability()
            f.kernel = (self.kernel_for(ctypes.byref(p), major * 10 + minor) or b"none").decode(errors="replace")
        return f


# ---- peers ----

def sdpa_fn(backend, q, k, v, causal):
    from torch.nn.attention import sdpa_kernel
    gqa = q.shape[1] != k.shape[1]

    def f():
        with sdpa_kernel([backend]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
    return f


def _causal_mask(b, h, q_idx, kv_idx):  # one function object: a new one would recompile
    return q_idx >= kv_idx


class Flex:
    """FlexAttention compiled by torch.compile. mode 'auto': one torch.compile, which
    turns shapes dynamic after the first recompile (fewer compiles); a config whose
    compile fails there gets a fresh static compile of its own (noted in the row).
    'static': a fresh compile specialized to every config (slower to start, each kernel
    sees its shapes as constants)."""

    def __init__(self, mode):
        from torch.nn.attention import flex_attention as fa
        self.fa, self.mode, self.compiled = fa, mode, None

    def _compile(self, static):
        torch._dynamo.reset()
        self.compiled = torch.compile(self.fa.flex_attention, dynamic=False if static else None)

    def fn(self, q, k, v, causal):
        if self.compiled is None or self.mode == "static":
            self._compile(self.mode == "static")
        s = q.shape[2]
        bm = self.fa.create_block_mask(_causal_mask, None, None, s, s, device=q.device) if causal else None
        gqa = q.shape[1] != k.shape[1]
        flex, first = [self.compiled], [self.mode == "auto"]

        def f():
            if first[0]:  # the first call compiles
                first[0] = False
                try:
                    return flex[0](q, k, v, block_mask=bm, enable_gqa=gqa)
                except Exception as e:  # noqa: BLE001
                    if _fatal(e):
                        raise
                    f.kernel = "static compile (auto failed: %s)" % str(e).strip().splitlines()[0][:120]
                    self._compile(True)
                    flex[0] = self.compiled
                    self.compiled = None  # the next config starts a fresh auto compile
            return flex[0](q, k, v, block_mask=bm, enable_gqa=gqa)
        return f


# ---- correctness ----

def check(outs, q, k, v, causal):
    """Errors of each output against an fp32 reference over all query rows."""
    b, hq, s, d = q.shape
    group = hq // k.shape[1]
    stats = {n: [0.0, 0.0, 0.0, 0.0, 0] for n in outs}  # sq_diff, sq_ref, max_diff, max_ref, nonfinite
    rows = max(64, min(s, CHECK_ELEMS // (hq * s)))
    scale = d ** -0.5
    for bi in range(b):
        kf = k[bi].float().repeat_interleave(group, dim=0)  # [hq, s, d]
        vf = v[bi].float().repeat_interleave(group, dim=0)
        for r0 in range(0, s, rows):
            r1 = min(s, r0 + rows)
            sc = torch.matmul(q[bi, :, r0:r1].float(), kf.transpose(1, 2)).mul_(scale)
            if causal:
                qi = torch.arange(r0, r1, device=q.device).view(-1, 1)
                kj = torch.arange(s, device=q.device).view(1, -1)
                sc.masked_fill_(kj > qi, float("-inf"))
            ref = torch.matmul(torch.softmax(sc, dim=-1), vf)
            del sc
            ref_sq, ref_max = ref.pow(2).sum().item(), ref.abs().max().item()
            for n, o in outs.items():
                got = o[bi, :, r0:r1].float()
                st = stats[n]
                st[4] += (~torch.isfinite(got)).sum().item()
                diff = (got - ref).abs()
                st[0] += diff.pow(2).sum().item()
                st[1] += ref_sq
                st[2] = max(st[2], diff.max().item())
                st[3] = max(st[3], ref_max)
    res = {}
    for n, st in stats.items():
        max_rel = st[2] / st[3] if st[3] > 0 else float("inf")
        rel_l2 = (st[0] / st[1]) ** 0.5 if st[1] > 0 else float("inf")
        ok = st[4] == 0 and max_rel <= TOL and rel_l2 <= TOL  # NaN compares false: not ok
        res[n] = {"correct": bool(ok), "max_rel_err": float("%.4e" % max_rel),
                  "rel_l2_err": float("%.4e" % rel_l2), "nonfinite": int(st[4])}
    return res


# ---- timing ----

class Timer:
    def __init__(self):
        l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 0) or (50 << 20)
        self.flush = torch.empty(max(256 << 20, 4 * l2), dtype=torch.uint8, device="cuda")
        self.spin = 2_000_000  # cycles (~1 ms): longer than any call's host-side enqueue

    def once(self, f, i):
        self.flush.fill_(i & 0xff)
        torch.cuda._sleep(self.spin)
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        f()
        e1.record()
        e1.synchronize()
        return e0.elapsed_time(e1)

    def rounds(self, fns, reps, warmup, rng):
        """Per-round ms of each function: every round runs each once in a fresh random
        order, so that clock and power drift hit all alike."""
        for f in fns.values():
            for _ in range(warmup):
                f()
        torch.cuda.synchronize()
        names = list(fns)
        t = {n: [] for n in names}
        for i in range(reps):
            rng.shuffle(names)
            for n in names:
                t[n].append(self.once(fns[n], i))
        return t


def _fatal(e):
    """A CUDA fault leaves the context broken: nothing measured after it would be valid."""
    return any(m in str(e) for m in ("illegal", "unspecified launch failure", "misaligned address"))


def first_call(make, q, k, v, causal):
    """Builds the call and runs it once: (f, output copy, None), or (None, None, reason)
    when the implementation refuses the shape (a peer with no kernel for it, ours
    returning EINVAL): a reason to report as n/a, not a crash."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            f = make(q, k, v, causal)
            out = f().clone()
            torch.cuda.synchronize()
            return f, out, None
        except Exception as e:  # noqa: BLE001  (any refusal becomes n/a)
            if _fatal(e):
                raise
            why = [str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__]
            why += [str(w.message).splitlines()[0][:160] for w in caught
                    if "kernel" in str(w.message).lower() or "support" in str(w.message).lower()]
            return None, None, "; ".join(dict.fromkeys(why))


# ---- one config ----

def run_config(c, impls, timer, args, rng):
    seed = int.from_bytes(os.urandom(4), "little")
    torch.manual_seed(seed)
    q = torch.randn(c.b, c.hq, c.s, c.d, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(c.b, c.hkv, c.s, c.d, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(c.b, c.hkv, c.s, c.d, device="cuda", dtype=torch.bfloat16)
    fl = wl.flops(c)
    row = dict(c._asdict(), config=c.name, seed=seed, gflop=round(fl / 1e9, 2))
    del row["name"]
    fns, outs = {}, {}
    for n, make in impls.items():
        t0 = time.time()
        try:
            f, out, why = first_call(make, q, k, v, c.causal)
        except Exception as e:  # noqa: BLE001  (name who broke the context)
            raise RuntimeError("%s: %s" % (n, str(e).strip().splitlines()[0])) from e
        if out is None:
            row[n] = {"error": why}
            continue
        fns[n], outs[n] = f, out
        row[n] = {"first_call_s": round(time.time() - t0, 2)}
        if hasattr(f, "kernel"):
            row[n]["kernel"] = f.kernel
    t0 = time.time()
    for n, r in check(outs, q, k, v, c.causal).items():
        row[n].update(r)
    row["check_s"] = round(time.time() - t0, 2)
    del outs
    times = timer.rounds(fns, args.reps, args.warmup, rng)
    for n, t in times.items():
        ms = wl.median(t)
        row[n].update(ms=round(ms, 4), tflops=round(fl / ms / 1e9, 1), ms_rounds=[round(x, 4) for x in t])
    ours = [n for n in impls if n not in PEERS]
    for o in ours:
        if "ms" not in row[o]:
            continue
        for p in PEERS:
            if "ms" in row.get(p, {}):
                pt, lo, hi = wl.speedup_ci(times[o], times[p], rng)
                row[o]["over_" + p] = [round(pt, 3), round(lo, 3), round(hi, 3)]
    del q, k, v, fns
    torch.cuda.empty_cache()
    return row


# ---- output ----

def _cell(row, n):
    x = row.get(n, {})
    if "tflops" in x:
        return "%8.1f%s" % (x["tflops"], " " if x["correct"] else "*")
    return "%9s" % "n/a"


def _ratio(row, o, p, ci=False):
    r = row.get(o, {}).get("over_" + p)
    if not r:
        return "%19s" % "-" if ci else "%7s" % "-"
    return "%6.3f [%.3f,%.3f]" % tuple(r) if ci else "%7.3f" % r[0]


def table(rows, ours, impls):
    head = "%-24s" % "config" + "".join("%9s" % n[:8] for n in impls)
    for o in ours:
        head += "%21s%8s%8s" % ((o + "/cudnn [95%]")[:19], "/fa2", "/flex")
    lines = ["TFLOP/s (median of rounds, L2 flushed); * = output failed the fp32 check", head]
    for r in rows:
        line = "%-24s" % r["config"] + "".join(_cell(r, n) for n in impls)
        for o in ours:
            line += "  " + _ratio(r, o, "cudnn", True) + _ratio(r, o, "fa2") + " " + _ratio(r, o, "flex")
        lines.append(line)
    na = ["  %s %s: %s" % (r["config"], n, r[n]["error"]) for r in rows for n in impls if "error" in r.get(n, {})]
    if na:
        lines += ["n/a (refused):"] + na
    bad = ["  %s %s: max_rel %.2e rel_l2 %.2e nonfinite %d" % (r["config"], n, r[n]["max_rel_err"],
                                                               r[n]["rel_l2_err"], r[n]["nonfinite"])
           for r in rows for n in impls if r.get(n, {}).get("correct") is False]
    if bad:
        lines += ["failed the check:"] + bad
    return "\n".join(lines)


def summary(rows, ours, avo_names):
    """Per variant of ours: how it stands against the issue's bar (>= 1.05x cuDNN on the
    AVO configs, >= 1.0x elsewhere), and where a peer wins."""
    out, lines = {}, []
    for o in ours:
        s = {"correct": 0, "wrong": [], "refused": [], "below_bar": [], "peer_wins": [], "kernels": {}}
        groups = {"avo24": [], "real": []}
        for r in rows:
            x = r.get(o, {})
            if "error" in x:
                s["refused"].append(r["config"])
                continue
            if "kernel" in x:
                s["kernels"].setdefault(x["kernel"], []).append(r["config"])
            if not x.get("correct"):
                s["wrong"].append(r["config"])
                continue
            s["correct"] += 1
            avo = r["config"] in avo_names
            if "over_cudnn" in x:
                pt, lo, hi = x["over_cudnn"]
                groups["avo24" if avo else "real"].append(pt)
                if pt < (1.05 if avo else 1.0):
                    s["below_bar"].append("%s %.3f [%.3f,%.3f]" % (r["config"], pt, lo, hi))
            for p in PEERS:  # a peer whose output is wrong does not win
                if x.get("over_" + p) and x["over_" + p][0] < 1.0 and r[p].get("correct"):
                    s["peer_wins"].append("%s: %s %.3f" % (r["config"], p, x["over_" + p][0]))
        for g, v in groups.items():
            if v:
                s[g] = {"min": min(v), "geomean": round(wl.geomean(v), 3), "n": len(v)}
        out[o] = s
        lines.append("%s: %d correct, %d wrong, %d refused" % (o, s["correct"], len(s["wrong"]), len(s["refused"])))
        for kname, cs in s["kernels"].items():
            lines.append("  kernel %s on %d configs%s" % (kname, len(cs), ": " + ", ".join(cs) if len(cs) <= 12 else ""))
        for g in ("avo24", "real"):
            if g in s:
                lines.append("  %s/cudnn on %s: min %.3f, geomean %.3f over %d" % (o, g, s[g]["min"], s[g]["geomean"], s[g]["n"]))
        for key, title in (("below_bar", "below the bar (1.05x cuDNN on avo24, 1.0x elsewhere)"),
                           ("peer_wins", "a peer faster (ratio < 1)"), ("wrong", "wrong"), ("refused", "refused")):
            if s[key]:
                lines.append("  %s: %s" % (title, ", ".join(s[key])))
    return out, "\n".join(lines)


def _finite(x):
    """JSON has no NaN or Infinity: a failed check's non-finite error becomes null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def write_json(path, doc):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as fh:
        json.dump(_finite(doc), fh, indent=1)
    os.replace(tmp, path)  # never a partial file


def environment(ours, flex_mode, args):
    props = torch.cuda.get_device_properties(0)
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        driver = None
    try:
        import triton
        triton_v = triton.__version__
    except ImportError:
        triton_v = None
    return {"gpu": props.name, "cc": "%d.%d" % (props.major, props.minor), "sms": props.multi_processor_count,
            "driver": driver, "cuda_runtime": torch.version.cuda, "torch": torch.__version__,
            "cudnn": torch.backends.cudnn.version(), "triton": triton_v,
            "ours": {o.name: {"variant": o.variant, "path": o.path} for o in ours},
            "params_fields": [f[0] for f in ours[0].params._fields_] if ours else None,
            "gqa": "enable_gqa=True for SDPA and Flex (KV heads not expanded)",
            "flex_compile": flex_mode, "reps": args.reps, "warmup": args.warmup, "workload": args.workload}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", action="append", default=[], help="NAME=PATH of a shared library of ours")
    ap.add_argument("--workload", default="all", choices=("avo24", "real", "all"))
    ap.add_argument("--configs", default=wl.AVO_SPEC, help="avo spec whose configs are the avo24 part")
    ap.add_argument("--only", default=None, help="regex: run only the configs whose name matches")
    ap.add_argument("--header", default=HEADER, help="attention.h that the libraries were built with")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--flex", default="auto", choices=("auto", "static", "off"))
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--time-limit", type=float, default=0, help="seconds; start no config after this")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "attention.json"))
    ap.add_argument("--table", default=None, help="also write the table here (default: beside --out)")
    ap.add_argument("--dry-run", action="store_true", help="print the workload and exit (no torch)")
    args = ap.parse_args()
    try:
        configs = wl.workload(args.workload, args.configs)
        if args.only:
            configs = [c for c in configs if re.search(args.only, c.name)]
    except (OSError, ValueError) as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    if args.dry_run:
        print(wl.describe(configs))
        return 0
    t_start = time.time()
    load_torch()
    if not torch.cuda.is_available():
        print("bench: no CUDA device", file=sys.stderr)
        return 2
    params = params_type(args.header)
    ours = []
    for spec in args.lib:
        name, _, path = spec.partition("=")
        if not path or name in PEERS:
            print("bench: --lib wants NAME=PATH with a name other than %s" % ", ".join(PEERS), file=sys.stderr)
            return 2
        ours.append(Ours(name, os.path.abspath(path), params))
    impls = {o.name: o.fn for o in ours}
    if not args.no_peers:
        from torch.nn.attention import SDPBackend
        impls["cudnn"] = lambda q, k, v, c: sdpa_fn(SDPBackend.CUDNN_ATTENTION, q, k, v, c)
        impls["fa2"] = lambda q, k, v, c: sdpa_fn(SDPBackend.FLASH_ATTENTION, q, k, v, c)
        if args.flex != "off":
            impls["flex"] = Flex(args.flex).fn
    env = environment(ours, args.flex, args)
    print("gpu %(gpu)s (sm %(cc)s, %(sms)d SMs), driver %(driver)s, CUDA runtime %(cuda_runtime)s, "
          "torch %(torch)s, cuDNN %(cudnn)s, triton %(triton)s" % env)
    for o in ours:
        print("ours %s: variant '%s' (%s)" % (o.name, o.variant, o.path))
    unknown = [f[0] for f in params._fields_ if f[0] not in REQUIRED]
    if unknown:
        print("attention.h fields passed as 0: %s" % ", ".join(unknown))
    print("gqa: %s; flex: torch.compile (%s); %d configs, %d rounds + %d warm-up" %
          (env["gqa"], args.flex, len(configs), args.reps, args.warmup), flush=True)
    rng = random.Random(int.from_bytes(os.urandom(8), "little"))
    timer = Timer()
    doc = {"env": env, "complete": False, "rows": []}
    skipped = []
    for i, c in enumerate(configs):
        if args.time_limit and time.time() - t_start > args.time_limit:
            skipped = [x.name for x in configs[i:]]
            print("bench: time limit reached, %d configs not run" % len(skipped), flush=True)
            break
        t0 = time.time()
        try:
            row = run_config(c, impls, timer, args, rng)
        except Exception as e:  # noqa: BLE001  (a CUDA fault: report what was measured)
            if not _fatal(e):
                raise
            doc["aborted"] = "%s: %s" % (c.name, str(e).strip().splitlines()[0])
            skipped = [x.name for x in configs[i:]]
            print("bench: CUDA fault in %s, the context is lost; %d configs not run" % (doc["aborted"], len(skipped)),
                  flush=True)
            break
        doc["rows"].append(row)
        write_json(args.out, doc)
        cells = " ".join("%s%s %s" % (n, "[%s]" % row[n]["kernel"] if "kernel" in row[n] else "",
                                      ("%.1f%s" % (row[n]["tflops"], "" if row[n]["correct"] else "(WRONG)"))
                                    if "tflops" in row[n] else "n/a") for n in impls)
        slow = ", ".join("%s first call %.1f s" % (n, row[n]["first_call_s"]) for n in impls
                         if row[n].get("first_call_s", 0) > 2)  # compiles (flex) show here
        print("[%d/%d] %s: %s (%.1f s; check %.1f s%s)" % (i + 1, len(configs), c.name, cells, time.time() - t0,
                                                         row["check_s"], "; " + slow if slow else ""), flush=True)
    names = [o.name for o in ours]
    text = table(doc["rows"], names, list(impls))
    doc["summary"], sums = summary(doc["rows"], names, {c.name for c in wl.avo_configs(args.configs)}
                                   if args.workload != "real" else set())
    doc["skipped"], doc["complete"] = skipped, not skipped
    doc["wall_s"] = round(time.time() - t_start, 1)
    write_json(args.out, doc)
    text += "\n\n" + sums + "\nwall %.0f s%s" % (doc["wall_s"], ", %d configs not run (%s)" % (
        len(skipped), "aborted: " + doc["aborted"] if "aborted" in doc else "time limit") if skipped else "")
    print("\n" + text, flush=True)
    tpath = args.table or os.path.splitext(args.out)[0] + "-table.txt"
    tmp = tpath + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text + "\n")
    os.replace(tmp, tpath)
    failed = any(s["wrong"] or s["refused"] for s in doc["summary"].values())
    return 1 if failed or skipped else 0


if __name__ == "__main__":
    sys.exit(main())
