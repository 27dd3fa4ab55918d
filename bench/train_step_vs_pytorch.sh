#!/usr/bin/env bash
# sedenergy's training and test steps (bench_train_step: runner::Trainer, the C++ loop, or runner::PythonLoop
# for implementations spelled .../python such as pytorch-default; its files are named _cpp_ either way)
# against PyTorch's Python loop (bench/pytorch_train_step.py), same models, same GPU, in one run, for each
# implementation of IMPLS (preset names of src/models/implementation.cpp; default: libtorch-default fastest
# device-data bf16).
# Per implementation: ROUNDS (default 3) passes of each, in counterbalanced order (C++ then PyTorch, then
# PyTorch then C++, ...), so a drift of the host or the GPU hits both alike. Per configuration the median over the passes counts; each
# C++ pass and the PyTorch pass right after it give one paired ratio, and a configuration is called faster
# (or slower) only when every paired ratio says so, else parity within the pass-to-pass noise. Writes
# per-configuration times and per-family median ratios (PyTorch time / C++ time: > 1 means sedenergy's
# step is faster), for training and test steps, and C++ against PyTorch eager foreach.
# On a GPU with an NVML energy counter, also the energy per epoch (bench/energy_vs_pytorch_summary.py: ratios
# with intervals, and whether each family is within TOLERANCE). PYTORCH_ARGS: more options of the PyTorch side
# (--dataloader: batches from torch.utils.data.DataLoader with pinned memory, as a user's loop has them).
# PASSES: which passes this call runs (default 1..ROUNDS); a later pass alone (PASSES=2, with pass 1's files
# already in OUTDIR) continues a run that one call's time limit cut, its GRID then a subset of pass 1's.
# BLOCKS: timed blocks per configuration and side in each pass (default 5; more give a tighter interval).
# DEVICE: cuda (default) or cpu, for both sides; PYTHON: the interpreter with
# PyTorch, for the PyTorch side and sedenergy's Python loop (default python3).
# Usage: [ROUNDS=3] [PASSES="1 2 3"] [BLOCK_S=0.3] [BLOCKS=5] [CLIPS=1578] [GRID=paper43] [IMPLS="..."]
#        [PYTORCH_ARGS=...] [DEVICE=cuda] [PYTHON=python3] bench/train_step_vs_pytorch.sh OUTDIR [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [build dir]}"
BUILD="${2:-build-cuda}"
ROUNDS="${ROUNDS:-3}"
BLOCK_S="${BLOCK_S:-0.3}"  # seconds per timed block (each median of BLOCKS blocks of whole epochs)
BLOCKS="${BLOCKS:-5}"
CLIPS="${CLIPS:-1578}"
DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python3}"
GRID="${GRID:-paper43}"
IMPLS="${IMPLS:-libtorch-default fastest device-data bf16}"
mkdir -p "$OUT"
PASSES="${PASSES:-$(seq 1 "$ROUNDS")}"
[ -n "${SUMMARY_ONLY:-}" ] || [[ " $PASSES " != *" 1 "* ]] || rm -f "$OUT"/train_step_*.jsonl
# SUMMARY_ONLY=1: only the summary of the passes already in OUTDIR (of a run that was cut short).
run_cpp() {
  "$BUILD/bench_train_step" --grid "$GRID" --impl "$1" --clips "$CLIPS" --block-seconds "$BLOCK_S" --blocks "$BLOCKS" \
    --device "$DEVICE" --python "$PYTHON" > "$2"
}
run_pytorch() {  # the implementation spelled out and the configurations as the C++ side named them (those in GRID)
  local spelled configs
  spelled=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['spelled'])" "$3")
  configs=$(python3 -c "
import json,sys
grid = set(sys.argv[2].split(',')) if ':' in sys.argv[2] else None  # a named grid (paper43): every configuration
print(','.join(c for c in (json.loads(l)['config'] for l in open(sys.argv[1])) if grid is None or c in grid))" "$3" "$GRID")
  "$PYTHON" bench/pytorch_train_step.py --impl "$spelled" --name "$1" --configs "$configs" --clips "$CLIPS" \
    --block-seconds "$BLOCK_S" --blocks "$BLOCKS" --device "$DEVICE" ${PYTORCH_ARGS:-} > "$2"
}
# Odd passes run C++ first, even passes PyTorch first: a GPU that warms (or cools) across a pair biases
# neither side. A PyTorch-first pass reads the names from the previous C++ pass.
[ -n "${SUMMARY_ONLY:-}" ] || for impl in $IMPLS; do
  for r in $PASSES; do
    CPP="$OUT/train_step_cpp_${impl}_pass$r.jsonl" PY="$OUT/train_step_pytorch_${impl}_pass$r.jsonl"
    if [ $((r % 2)) = 1 ]; then
      run_cpp "$impl" "$CPP" && run_pytorch "$impl" "$PY" "$CPP"
    else
      run_pytorch "$impl" "$PY" "$OUT/train_step_cpp_${impl}_pass$((r - 1)).jsonl" && run_cpp "$impl" "$CPP"
    fi
  done
done
python3 bench/train_step_summary.py "$OUT"
python3 bench/energy_vs_pytorch_summary.py "$OUT"
