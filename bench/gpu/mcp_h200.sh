#!/usr/bin/env bash
# A scripted MCP session on the GPU host: bench/gpu/mcp_h200.py drives `avo mcp` on
# kernels/attention/avo-sm90-tune.json over stdio until a real edit of attention_sm90.cu is
# committed through the gate, then resumes the run in a second session. About 6 minutes.
# Here first (with network): cmake --build build && bench/gpu/fetch_devdeps.sh
# There: bench/gpu/mcp_h200.sh        (writes under $OUT: mcp-run/, mcp-report.html, ...)
set -uo pipefail
cd "$(dirname "$0")/../.."
source bench/gpu/env.sh || exit 4
python3 bench/gpu/mcp_h200.py "$AVO" "$OUT" "${MCP_SECONDS:-150}" 2>&1 | tee "$OUT/mcp-h200.log"
exit "${PIPESTATUS[0]}"
