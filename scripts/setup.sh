#!/usr/bin/env bash
# Install avo's Debian dependencies and build it twice: build/ (release) and build-asan/
# (AddressSanitizer + UndefinedBehaviorSanitizer, clang, with the libFuzzer targets).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
PKGS=(cmake ninja-build pkg-config gcc clang-19 libclang-19-dev libclang-rt-19-dev
      libcjson-dev libxxhash-dev libcurl4-openssl-dev libssl-dev nginx-light curl python3
      chromium slurmctld slurmd slurm-client munge bubblewrap nodejs)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Test-only npm packages, pinned by tests/agent/sdk/package-lock.json: the official OpenAI and
# Anthropic SDKs (and tsc) that the llm operator's requests are type-checked against.
if command -v npm >/dev/null; then
  (cd tests/agent/sdk && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "setup: npm ci in tests/agent/sdk failed: the SDK type checks will skip" >&2
fi
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
CC=clang-19 cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAVO_SANITIZE=ON -DAVO_FUZZ=ON
cmake --build build-asan -j "$jobs"
echo "setup: built build/avo and build-asan/avo"
