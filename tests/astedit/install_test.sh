#!/bin/sh
# Proves: after `cmake --install`, the installed avo finds its CUDA 13 stand-in headers under
# <prefix>/share/avo/cuda13 (next to <prefix>/bin) and parses a CUDA fixture with them.
set -eu
build=$1
fixture=$2
[ -e /usr/local/cuda/include/cuda_runtime.h ] || exit 77
tmp=$(mktemp -d /tmp/avo-astedit-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp" >/dev/null
test -f "$tmp/share/avo/cuda13/texture_fetch_functions.h"
"$tmp/bin/avo" regions --json "$fixture" >"$tmp/out.json"
if [ -e /usr/local/cuda/include/texture_fetch_functions.h ]; then
  exit 0 # a CUDA that still has the header: no stand-in needed
fi
grep -q "\"$tmp/share/avo/cuda13\"" "$tmp/out.json" || {
  echo "installed avo did not use $tmp/share/avo/cuda13:" >&2
  cat "$tmp/out.json" >&2
  exit 1
}
