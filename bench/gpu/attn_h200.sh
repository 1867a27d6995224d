#!/usr/bin/env bash
# Issue 18 on the GPU host: the agent's MCP session on kernels/attention/avo-sm90-shapes.json
# (bench/gpu/attn_agent_h200.py), then, when bench/attention/run_h200.sh exists and BENCH=1,
# the side-by-side benchmark of the shipped kernel against cuDNN, FA2 and FlexAttention.
# Here first: cmake --build build && bench/gpu/fetch_devdeps.sh; there: bench/gpu/attn_h200.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
source bench/gpu/env.sh || exit 4
rc=0
if [ "${AGENT:-1}" = 1 ]; then
    python3 bench/gpu/attn_agent_h200.py "$AVO" "$OUT" 2>&1 | tee "$OUT/attn-agent.log"
    rc=${PIPESTATUS[0]}
fi
if [ "${BENCH:-0}" = 1 ] && [ -x bench/attention/run_h200.sh ]; then
    bash bench/attention/run_h200.sh 2>&1 | tee "$OUT/attn-bench.log"
fi
exit $rc
