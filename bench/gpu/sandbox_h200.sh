#!/usr/bin/env bash
# On the GPU host: does the evaluation sandbox (bubblewrap) start there, pass the GPU through,
# and give the same verdicts as an unsandboxed run? Writes $OUT/sandbox.txt; exit 0 = all ok.
#   1. bwrap itself: `true`, then nvidia-smi inside (device nodes passed like avo passes them)
#   2. avo eval of tests/eval/cuda (axpy) sandboxed and with --no-sandbox: both correct
#   3. the same for one config of kernels/attention/avo-sm90.json (a real sm_90a kernel)
#   4. inside the sandbox the GPU is there but the host's network and /proc are not
# Run (lead): bash bench/gpu/sandbox_h200.sh   (after bench/gpu/fetch_devdeps.sh here; it
# carries bubblewrap's .deb in .devdeps/ for hosts without bwrap)
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
log=$OUT/sandbox.txt
: > "$log"
fail=0
say() { echo "$*" | tee -a "$log"; }
check() { local what=$1; shift; if "$@" >>"$log" 2>&1; then say "ok: $what"; else say "FAIL: $what"; fail=1; fi; }

say "bwrap: $(command -v bwrap || echo missing) $(bwrap --version 2>/dev/null); uid $(id -u); $(nvidia-smi -L | head -1)"
nodes=()
for n in /dev/nvidia* /dev/dri; do [ -e "$n" ] && nodes+=(--dev-bind "$n" "$n"); done
sb=(bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --ro-bind / / --dev /dev
    --proc /proc --tmpfs /tmp --tmpfs /run --tmpfs /dev/shm --setenv TMPDIR /tmp "${nodes[@]}")
check "bwrap starts" "${sb[@]}" true
check "nvidia-smi inside the sandbox" "${sb[@]}" nvidia-smi -L
check "no host network inside" bash -c "! ${sb[*]} bash -c 'exec 3<>/dev/tcp/127.0.0.1/22' 2>/dev/null"
check "no host /proc inside" bash -c "! ${sb[*]} cat /proc/$$/environ >/dev/null 2>&1"

cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader -i 0 | head -1 | tr -d ' .')
w=$OUT/sandbox-work; rm -rf "$w"; mkdir -p "$w"
d=$ROOT/tests/eval/cuda
cat > "$w/avo.json" <<JSON
{"name": "axpy", "kernel": "$d/axpy.cu", "harness": "$d/harness.cu", "arch": "sm_$cap",
 "flags": ["-std=c++17"], "tolerance": 1e-5, "objective": "tflops", "timeout": 60,
 "configs": [{"name": "n1m", "args": ["--n", 1048576]}]}
JSON
check "avo eval axpy, sandboxed" bash -c "'$AVO' eval '$w/avo.json' --no-cache --gpu 0 --json | tee '$w/sb.json' | grep -q '\"correct\":true'"
check "avo eval axpy, --no-sandbox" bash -c "'$AVO' eval '$w/avo.json' --no-cache --gpu 0 --no-sandbox --json | tee '$w/nosb.json' | grep -q '\"unsandboxed\":true'"
python3 - "$ROOT/kernels/attention/avo-sm90.json" "$w/sm90.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d = sys.argv[1].rsplit("/", 1)[0]
for k in ("kernel", "harness"):
    if not s[k].startswith("/"): s[k] = d + "/" + s[k]
s["include_dirs"] = [x if x.startswith("/") else d + "/" + x for x in s.get("include_dirs", [])]
s["configs"] = s["configs"][:1]
json.dump(s, open(sys.argv[2], "w"))
PY
for mode in "" --no-sandbox; do
  check "avo eval sm90 attention (1 config) ${mode:-sandboxed}" bash -c \
    "'$AVO' eval '$w/sm90.json' --no-cache --gpu 0 $mode --json | tee -a '$w/sm90-out.json' | grep -q '\"correct\":true'"
done
grep -o '"fitness":[^,]*' "$w/sm90-out.json" | tee -a "$log"
say "done: $([ $fail = 0 ] && echo all ok || echo FAILURES)"
exit $fail
