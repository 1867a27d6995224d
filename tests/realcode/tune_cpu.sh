#!/usr/bin/env bash
# Proves (issue 17 point 1): a kernel that parses only with the spec's flags (-std=c++20)
# is tuned through the CLI: `avo tune` hands the flags to libclang (without them the parse
# fails, as the first check shows), evaluates on the CPU and commits a correct version.
# usage: tune_cpu.sh AVO SPEC KERNEL
set -euo pipefail
avo=$1 spec=$2 kernel=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export AVO_CACHE_DIR=$tmp/cache
if "$avo" regions "$kernel" >"$tmp/r.out" 2>&1; then echo "FAIL: parsed without -std=c++20"; exit 1; fi
grep -q "error: unknown type name 'concept'" "$tmp/r.out" || { cat "$tmp/r.out"; exit 1; }
"$avo" tune "$spec" --evals 3 --run-dir "$tmp/run" >"$tmp/t.out" 2>&1 || { cat "$tmp/t.out"; exit 1; }
grep -q "stopped (evaluation budget reached)" "$tmp/t.out" || { cat "$tmp/t.out"; exit 1; }
grep -q '"correct":true' "$tmp/run/attempts.jsonl" || { cat "$tmp/run/attempts.jsonl"; exit 1; }
echo "ok: tuned $(basename "$kernel") with its spec's flags"
