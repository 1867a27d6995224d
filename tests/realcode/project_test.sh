#!/usr/bin/env bash
# Proves (issue 17 points 2, 3, 5, 6): avo_tune() on a CUDA target whose compile options use
# $<$<COMPILE_LANGUAGE:...>:...> configures (one avo.json, with the CUDA options only),
# takes CMAKE_CUDA_FLAGS and the -std of cuda_std_17, picks the highest listed arch and
# says so, builds in CACHED mode with nvcc (no GPU needed), and the kernel parses with the
# spec's flags (avo gets past the parse to the evaluation). A .cuh header kernel builds for
# sm_90a through a wrapper translation unit.
# usage: project_test.sh AVO AVO_APPLY AVO_SOURCE_DIR
set -euo pipefail
avo=$1 apply=$2 src=$3
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { echo "no nvcc: skip"; exit 77; }
export PATH=$PATH:/usr/local/cuda/bin
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export AVO_CACHE_DIR=$tmp/cache AVO_CACHE_REMOTE=""
fail() { echo "FAIL: $*"; exit 1; }
cp -r "$src/tests/realcode/project" "$tmp/p"
cmake -S "$tmp/p" -B "$tmp/b" -G Ninja -DAVO_EXE="$avo" -DAVO_APPLY_EXE="$apply" -DAVO_SOURCE_DIR="$src" \
	-DCMAKE_CUDA_FLAGS="-DFROM_CUDA_FLAGS=1" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail configure; }
grep -q "avo_tune(gx): tuning for sm_120 (the highest of \"75;90;120\"; pass ARCH to choose)" "$tmp/configure.log" ||
	{ cat "$tmp/configure.log"; fail "no arch choice printed"; }
grep -q "avo_tune(hx): tuning for sm_90a" "$tmp/configure.log" || { cat "$tmp/configure.log"; fail "hx: arch"; }
# the local GPU's arch when it is listed (an nvidia-smi that reports compute capability 9.0)
mkdir -p "$tmp/smi" && printf '#!/bin/sh\necho 9.0\n' >"$tmp/smi/nvidia-smi" && chmod +x "$tmp/smi/nvidia-smi"
PATH=$tmp/smi:$PATH cmake -S "$tmp/p" -B "$tmp/b-local" -G Ninja -DAVO_EXE="$avo" -DAVO_APPLY_EXE="$apply" \
	-DAVO_SOURCE_DIR="$src" -DCMAKE_CUDA_FLAGS="-DFROM_CUDA_FLAGS=1" >"$tmp/configure-local.log" 2>&1 ||
	{ cat "$tmp/configure-local.log"; fail "configure with a local GPU"; }
grep -q "avo_tune(gx): tuning for sm_90 (the local GPU's, listed in \"75;90;120\"; pass ARCH to choose)" "$tmp/configure-local.log" ||
	{ cat "$tmp/configure-local.log"; fail "the local GPU's arch was not chosen"; }
grep -q '"arch": "sm_90"' "$tmp/b-local/avo/gx/avo.json" || fail "local arch not in the spec"
spec=$tmp/b/avo/gx/avo.json
[ -n "$spec" ] || fail "no avo.json"
python3 - "$spec" <<'PY' || fail "spec content"
import json, sys
s = json.load(open(sys.argv[1]))
f = s["flags"]
assert s["arch"] == "sm_120", s["arch"]
assert "-DFROM_GENEX=1" in f and "--expt-relaxed-constexpr" in f, f
assert "-DCXX_ONLY=1" not in f, f
assert "-DFROM_CUDA_FLAGS=1" in f and "-std=c++17" in f, f
print("spec ok:", f)
PY
cmake --build "$tmp/b" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail build; }
"$tmp/b/gx" | grep -q "gx built" || fail "app"
# the header kernel: compiled for sm_90a through the wrapper beside the generated header
"$tmp/b/hx" | grep -q "hx built" || fail "hx app"
grep -q '#include "scale_h.cuh"' "$tmp/b/avo/hx/avo_kernel_tu.cu" || fail "hx: no wrapper"
grep -q 'avo_kernel_tu.cu.o' "$tmp/build.log" || { cat "$tmp/build.log"; fail "hx: wrapper not compiled"; }
grep -q 'sm_90a' "$tmp/b/build.ninja" || fail "hx: not built for sm_90a"
"$avo" regions "$tmp/b/avo/hx/scale_h.cuh" -- --cuda-gpu-arch=sm_90a | grep -q "1 region, 1 knob" || fail "hx: the generated header does not parse"
# the kernel parses with the spec's flags: tuning reaches the evaluation (which needs a GPU)
"$avo" tune "$spec" --evals 1 --run-dir "$tmp/run" >"$tmp/tune.log" 2>&1 || true
grep -q "evaluating the original kernel" "$tmp/tune.log" || { cat "$tmp/tune.log"; fail "the kernel did not parse"; }
if grep -q "error: .*FROM_GENEX\|the project's CUDA flags" "$tmp/tune.log"; then cat "$tmp/tune.log"; fail "flags lost"; fi
echo "ok: genex project configured, built for 75;90;120 and parsed"
