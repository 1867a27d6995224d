#!/usr/bin/env bash
# Proves (issue 17 point 6, through CMake): avo_tune() in CACHED mode builds a kernel given
# as a header (through a wrapper translation unit beside the generated header) and a kernel
# file with its own main() (the app keeps that main; the spec defines AVO_KERNEL_ONLY so the
# harness's main links); the spec of each tunes on the CPU, and the build then compiles the
# best variant, still through the wrapper.
# usage: forms_project.sh AVO AVO_APPLY AVO_SOURCE_DIR CACHE_PUT (tests/cmake/cache_put.c)
set -euo pipefail
avo=$1 apply=$2 src=$3 cache_put=$4
tmp=$(mktemp -d); [ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT; echo "$tmp"
export AVO_CACHE_DIR=$tmp/cache AVO_CACHE_REMOTE=""
fail() { echo "FAIL: $*"; exit 1; }
cp -r "$src/tests/realcode/forms_project" "$tmp/p"
cmake -S "$tmp/p" -B "$tmp/b" -G Ninja -DAVO_EXE="$avo" -DAVO_APPLY_EXE="$apply" -DAVO_SOURCE_DIR="$src" \
	>"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail configure; }
cmake --build "$tmp/b" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail build; }
"$tmp/b/hdr" | grep -q "hdr built" || fail "header app"
"$tmp/b/sample" | grep -q "^0.66" || fail "the sample's own main"
grep -q '"AVO_KERNEL_ONLY"' "$tmp/b/avo/sample/avo.json" || fail "sample spec lacks AVO_KERNEL_ONLY"
! grep -q 'AVO_KERNEL_ONLY' "$tmp/b/avo/hdr/avo.json" || fail "hdr spec has AVO_KERNEL_ONLY"
grep -q '#include "header_kernel.h"' "$tmp/b/avo/hdr/avo_kernel_tu.c" || fail "no wrapper"
cmp -s "$src/tests/realcode/cpu/header_kernel.h" "$tmp/b/avo/hdr/header_kernel.h" || fail "untuned build: not the original header"
# tune both on the CPU, then the build compiles what the cache holds
cmake --build "$tmp/b" --target avo-tune >"$tmp/tune.log" 2>&1 || { cat "$tmp/tune.log"; fail tune; }
for t in hdr sample; do
	grep -q '"operator":"baseline","status":"committed"' "$tmp/b/avo/$t"/.avo/*/attempts.jsonl 2>/dev/null ||
		grep -rq '"operator":"baseline","status":"committed"' "$tmp/b/avo/$t" ||
		{ cat "$tmp/tune.log"; fail "$t: no correct baseline"; }
done
# a tuned result in the cache (CHUNK 8) is what the next build compiles, through the wrapper
key=$("$avo" apply "$tmp/b/avo/hdr/avo.json" -o "$tmp/probe.h" --json | sed -n 's/.*"tuning_key":"\([0-9a-f]*\)".*/\1/p')
[ ${#key} = 32 ] || fail "no tuning key from apply --json"
sed 's|^#define CHUNK 4 // avo:knob|#define CHUNK 8 // avo:knob|' "$src/tests/realcode/cpu/header_kernel.h" >"$tmp/variant.h"
"$cache_put" "$key" "$tmp/variant.h" 2.0 1.0 >/dev/null
cmake --build "$tmp/b" >"$tmp/build2.log" 2>&1 || { cat "$tmp/build2.log"; fail rebuild; }
grep -q "^#define CHUNK 8 " "$tmp/b/avo/hdr/header_kernel.h" || { cat "$tmp/build2.log"; fail "the tuned header is not built"; }
grep -q "avo_kernel_tu.c" "$tmp/build2.log" || { cat "$tmp/build2.log"; fail "the wrapper was not recompiled"; }
grep -q "avo_kernel_tu.c" "$tmp/b/build.ninja" || fail "wrapper not compiled"
"$tmp/b/hdr" | grep -q "hdr built" || fail "header app after tuning"
"$tmp/b/sample" | grep -q "^0.66" || fail "sample after tuning"
echo "ok: a header kernel and a sample with its own main build and tune through avo_tune()"
