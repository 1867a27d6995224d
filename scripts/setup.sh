#!/usr/bin/env bash
# Install avo's Debian dependencies and build it twice: build/ (release) and build-asan/
# (AddressSanitizer + UndefinedBehaviorSanitizer, clang, with the libFuzzer targets).
# `setup.sh --check` only says whether anything is missing (exit 0: nothing; 1: something),
# which scripts/main.sh and scripts/test.sh use to run the set-up on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
PKGS=(cmake ninja-build pkg-config gcc clang-19 libclang-19-dev libclang-rt-19-dev
      libcjson-dev libxxhash-dev libcurl4-openssl-dev libssl-dev nginx-light curl python3
      chromium slurmctld slurmd slurm-client munge bubblewrap nodejs)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${1:-}" = --check ]; then
  [ ${#missing[@]} -eq 0 ] && [ -f build/build.ninja ] && [ -f build-asan/build.ninja ] && exit 0
  echo "setup: missing: ${missing[*]:-}$([ -f build/build.ninja ] || echo ' build/')$([ -f build-asan/build.ninja ] || echo ' build-asan/')"
  exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Test-only clients from npm, pinned in tests/package.json and installed into
# tests/node_modules: the official MCP SDK client and the MCP Inspector CLI
# (@modelcontextprotocol/inspector) drive `avo mcp` (tests/mcp). Node comes from Debian when
# it is missing; without it those tests skip.
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm || echo "setup: no Node; the tests that need it will skip"
fi
if command -v npm >/dev/null 2>&1; then
  (cd tests && npm install --no-audit --no-fund --no-package-lock --loglevel=error) ||
    echo "setup: npm install failed; the tests that need the Node clients will skip"
  (cd tests/agent/sdk && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "setup: npm ci in tests/agent/sdk failed: the SDK type checks will skip" >&2
fi
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
CC=clang-19 cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAVO_SANITIZE=ON -DAVO_FUZZ=ON
cmake --build build-asan -j "$jobs"
echo "setup: built build/avo and build-asan/avo"
