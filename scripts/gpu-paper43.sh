#!/usr/bin/env bash
# The reference results: the study's 43 configurations with the full protocol (presets/paper43.json:
# 3 repetitions in random interleaved order, 5 s windows, cooldown to idle) on the GPUs given, one worker
# per GPU, after scripts/gpu-build.sh. Usage: scripts/gpu-paper43.sh OUTDIR [GPU ids, default 0] [study args]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [gpu ids] [study args]}"
GPUS="${2:-0}"
shift $(( $# >= 2 ? 2 : 1 ))
mkdir -p "$OUT"
{
  echo "== $(date -u +%FT%TZ) $(hostname)"
  nvidia-smi --query-gpu=index,name,driver_version,pci.bus_id,power.limit,power.draw,temperature.gpu --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} > "$OUT/machine.txt" 2>&1
build-cuda/sedenergy study --config paper43 --devices "$GPUS" --out "$OUT/study" "$@" 2>&1 | tee "$OUT/study.log"
echo "== done $(date -u +%FT%TZ)"
