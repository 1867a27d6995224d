#!/usr/bin/env bash
# The main job: tune the CPU example kernel (runs on any machine) and show the result.
set -euo pipefail
cd "$(dirname "$0")/.."
./build/avo --version
