#!/usr/bin/env bash
# The main job: tune the CPU example kernel with the built-in knob search (any machine, no
# GPU, no network), then show the result in the terminal and as an HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
# On a fresh clone (or with packages missing) run the set-up first; else bring build/ up to date.
bash scripts/setup.sh --check || bash scripts/setup.sh
cmake --build build -j "$(nproc)"
AVO=./build/avo
RUN=build/runs/cpu
mkdir -p build/runs
# Resume when a previous main job left a run; otherwise start one.
if [ -f "$RUN/run.json" ]; then resume=--resume; else resume=; fi
$AVO tune kernels/cpu/avo.json --run-dir "$RUN" --evals "${AVO_EVALS:-40}" $resume
$AVO status kernels/cpu/avo.json --run-dir "$RUN"
$AVO report kernels/cpu/avo.json --run-dir "$RUN" -o build/runs/cpu-report.html
echo "main: report written to build/runs/cpu-report.html"
