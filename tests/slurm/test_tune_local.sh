#!/usr/bin/env bash
# `avo tune --backend local` on the CPU example: knob proposals go in batches of 2 (two CPU
# workers) and the run's records must obey the commit gate exactly as a serial run's do.
# Usage: test_tune_local.sh AVO SOURCE_DIR.
set -u
AVO=$1 SRC=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v cc >/dev/null 2>&1 || { echo "no C compiler; skipping"; exit 77; }
"$AVO" tune --help 2>/dev/null | grep -q -- --backend || { echo "avo tune is not built yet; skipping"; exit 77; }
T=$(mktemp -d /tmp/avo-tune-local-XXXXXX)
trap 'rm -rf "$T"' EXIT
cp "$SRC/kernels/cpu/"*.c "$SRC/kernels/cpu/"*.h "$T/"
python3 - "$SRC/kernels/cpu/avo.json" "$T/avo.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["local"] = {"workers": 2}
json.dump(s, open(sys.argv[2], "w"), indent=1)
PY
export AVO_CACHE_DIR=$T/cache AVO_CACHE_REMOTE=
"$AVO" tune "$T/avo.json" --backend local --evals 7 --no-progress --run-dir "$T/run" || exit 1
python3 "$here/check_run.py" "$T/run" 7
