#!/usr/bin/env bash
# The layer table on one CUDA device, float32 and bfloat16 with integer padding, in about two
# minutes; JSON, reST and the printed log go to $OUT (default: benchmarks/results).
#
#   OUT=/some/dir bash benchmarks/gpu_check.sh
#
# Runs from the repository root without installing padmods (src/ goes on PYTHONPATH).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
PYTHON="${PYTHON:-python}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible"
print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))
PY
timeout 420 "$PYTHON" benchmarks/run.py --device cuda --dtype float32,bfloat16 --padding int \
    --rounds 15 --block 0.02 --json "$OUT/gpu.json" --rst "$OUT/gpu_table.rst" 2>&1 | tee "$OUT/gpu.log"
