#!/usr/bin/env bash
# The reference run on a GPU node: build against PyTorch's LibTorch, run the test suite, list the
# sensors, then the study's 43 configurations on CUDA. Usage: scripts/gpu-study.sh OUTDIR [study args]
# Everything lands in OUTDIR: build/test/sensor logs, results.db, report/.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR="${1:?usage: $0 OUTDIR [study args]}"
shift
mkdir -p "$OUTDIR"
{
  echo "== $(date -u +%FT%TZ) $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,power.limit,power.draw,temperature.gpu --format=csv || true
} > "$OUTDIR/machine.txt" 2>&1
echo "== build"
scripts/gpu-build.sh > "$OUTDIR/build.log" 2>&1 || { tail -40 "$OUTDIR/build.log"; exit 1; }
echo "== tests"
(cd build-cuda && ctest --output-on-failure -j 8 > "$OUTDIR/ctest.log" 2>&1); tail -6 "$OUTDIR/ctest.log"
echo "== sensors"
build-cuda/sedenergy sensors --probe 3 | tee "$OUTDIR/sensors.txt"
echo "== study"
build-cuda/sedenergy study --grid paper43 --device cuda --out "$OUTDIR/study" "$@" 2>&1 | tee "$OUTDIR/study.log"
echo "== done $(date -u +%FT%TZ)"
