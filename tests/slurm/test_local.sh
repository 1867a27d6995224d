#!/usr/bin/env bash
# The local backend: CPU workers evaluate variants of the CPU example side by side; every
# verdict must match inline evaluation. Usage: test_local.sh TEST_BIN SOURCE_DIR.
set -u
TB=$1 SRC=$2
command -v cc >/dev/null 2>&1 || { echo "no C compiler; skipping"; exit 77; }
T=$(mktemp -d /tmp/avo-local-XXXXXX)
trap 'rm -rf "$T"' EXIT
cp "$SRC/kernels/cpu/"*.c "$SRC/kernels/cpu/"*.h "$T/"
python3 - "$SRC/kernels/cpu/avo.json" "$T/avo.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["backend"] = "local"
s["local"] = {"workers": 2}
json.dump(s, open(sys.argv[2], "w"), indent=1)
PY
sed -e 's/^#define TILE_Q 16/#define TILE_Q 8/' "$T/attention.c" >"$T/a.c"
sed -e 's/^#define TILE_K 64/#define TILE_K 32/' "$T/attention.c" >"$T/b.c"
sed -e 's|1.0f / sqrtf|2.0f / sqrtf|' "$T/attention.c" >"$T/bad.c"
sed -e 's|^#define UNROLL 4|#define UNROLL 4 +|' "$T/attention.c" >"$T/broken.c"
export AVO_CACHE_DIR=$T/cache AVO_CACHE_REMOTE=
"$TB" "$T/avo.json" --backend local --compare --cached "$T/a.c" "$T/b.c" "$T/bad.c" "$T/broken.c" || exit 1
# A bad backend section is refused with the spec file and the field named.
python3 - "$T/avo.json" "$T/bad.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["slurm"] = {"retries": -1}
json.dump(s, open(sys.argv[2], "w"))
PY
"$TB" "$T/bad.json" --backend slurm --expect-open-error 'bad.json: field "slurm.retries": must be a number >= 0' || exit 1
"$TB" "$T/avo.json" --backend nosuch --expect-open-error 'unknown backend "nosuch"' || exit 1
