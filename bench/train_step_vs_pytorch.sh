#!/usr/bin/env bash
# The C++ training step against PyTorch's Python eager loop, same models, same GPU, one after the other in
# one run; prints per-configuration times and the per-family median ratio (PyTorch time / C++ time: > 1
# means sedenergy's step is faster). Usage: bench/train_step_vs_pytorch.sh OUTDIR [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [build dir]}"
BUILD="${2:-build-cuda}"
mkdir -p "$OUT"
if [ -z "${PYTORCH_ONLY:-}" ]; then
  "$BUILD/bench_train_step" --grid paper43 > "$OUT/train_step_cpp.jsonl"
  "$BUILD/bench_train_step" --grid paper43 --optimizer libtorch > "$OUT/train_step_cpp_libtorch_adam.jsonl"
fi
python3 bench/pytorch_train_step.py > "$OUT/train_step_pytorch.jsonl"
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
load = lambda f: {r["config"]: r for r in map(json.loads, open(f"{out}/{f}"))}
cpp, lib, py = load("train_step_cpp.jsonl"), load("train_step_cpp_libtorch_adam.jsonl"), load("train_step_pytorch.jsonl")
lines = ["config,family,cpp_ms,cpp_libtorch_adam_ms,pytorch_ms,ratio_pytorch_over_cpp"]
fam = {}
for c, r in cpp.items():
    ratio = py[c]["step_ms"] / r["step_ms"]
    fam.setdefault(r["family"], []).append(ratio)
    lines.append(f'{c},{r["family"]},{r["step_ms"]:.4f},{lib[c]["step_ms"]:.4f},{py[c]["step_ms"]:.4f},{ratio:.3f}')
open(f"{out}/train_step_vs_pytorch.csv", "w").write("\n".join(lines) + "\n")
summary = {f: {"n": len(v), "median_ratio": statistics.median(v), "min_ratio": min(v)} for f, v in sorted(fam.items())}
json.dump(summary, open(f"{out}/train_step_summary.json", "w"), indent=1)
print("\n".join(lines)); print(json.dumps(summary, indent=1))
PY
