#!/usr/bin/env bash
# Run the test suites: the release build, then the same tests under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# On a fresh clone (or with packages missing) run the set-up first; else rebuild what changed.
bash scripts/setup.sh --check || bash scripts/setup.sh
cmake --build build -j "$jobs"
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build --output-on-failure -j "$jobs" "$@"
ctest --test-dir build-asan --output-on-failure -j "$jobs" "$@"
