#!/usr/bin/env bash
# The C++ training step against PyTorch's Python eager loop, same models, same GPU, in one run: ROUNDS
# (default 3) alternating passes of each (C++, PyTorch, C++, PyTorch, ...) so a drift of the host or the
# GPU hits both alike; then, unless LIBTORCH_ADAM=0, one pass of the C++ step with LibTorch's per-tensor
# Adam. Per configuration and implementation the median over the passes counts; each pass of C++ and the
# PyTorch pass right after it give one paired ratio, and a configuration is called faster (or slower) only
# when every paired ratio says so, else parity within the pass-to-pass noise. Prints per-configuration
# times and the per-family median ratio (PyTorch time / C++ time: > 1 means sedenergy's step is faster).
# Usage: [ROUNDS=3] [BLOCK_S=0.3] [LIBTORCH_ADAM=1] bench/train_step_vs_pytorch.sh OUTDIR [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [build dir]}"
BUILD="${2:-build-cuda}"
ROUNDS="${ROUNDS:-3}"
BLOCK_S="${BLOCK_S:-0.3}"  # seconds per timed block (each median of 5 blocks)
mkdir -p "$OUT"
[ -n "${SUMMARY_ONLY:-}" ] || rm -f "$OUT"/train_step_*.jsonl
# SUMMARY_ONLY=1: only the summary of the passes already in OUTDIR (of a run that was cut short).
[ -n "${SUMMARY_ONLY:-}" ] || for r in $(seq 1 "$ROUNDS"); do
  "$BUILD/bench_train_step" --grid paper43 --block-seconds "$BLOCK_S" > "$OUT/train_step_cpp_pass$r.jsonl"
  python3 bench/pytorch_train_step.py --block-seconds "$BLOCK_S" > "$OUT/train_step_pytorch_pass$r.jsonl"
done
[ "${LIBTORCH_ADAM:-1}" = 0 ] || [ -n "${SUMMARY_ONLY:-}" ] || "$BUILD/bench_train_step" --grid paper43 --block-seconds "$BLOCK_S" --optimizer libtorch > "$OUT/train_step_cpp_libtorch_adam.jsonl"
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
def passes(prefix):
    # One row per pass; None where a pass did not reach the configuration.
    runs = [{r["config"]: r for r in map(json.loads, open(f))} for f in sorted(glob.glob(f"{out}/{prefix}_pass*.jsonl"))]
    return {c: [run.get(c) for run in runs] for c in runs[0]}
cpp, py = passes("train_step_cpp"), passes("train_step_pytorch")
lib_file = f"{out}/train_step_cpp_libtorch_adam.jsonl"
lib = {r["config"]: r for r in map(json.loads, open(lib_file))} if os.path.exists(lib_file) else {}
med = lambda rows: statistics.median(r["step_ms"] for r in rows if r)
lines = ["config,family,cpp_ms,pytorch_ms,ratio_pytorch_over_cpp,paired_passes,pass_ratio_min,pass_ratio_max,verdict,cpp_libtorch_adam_ms"]
fam, verdicts = {}, {}
for c, rows in cpp.items():
    # Pass k of each implementation ran back to back: their ratio is one paired observation.
    pair = [p["step_ms"] / q["step_ms"] for p, q in zip(py[c], rows) if p and q]
    ratio = med(py[c]) / med(rows)
    verdict = "faster" if min(pair) > 1 else "slower" if max(pair) < 1 else "parity within pass-to-pass noise"
    verdicts.setdefault(verdict, []).append(c)
    fam.setdefault(rows[0]["family"], []).append(ratio)
    lib_ms = f'{lib[c]["step_ms"]:.4f}' if c in lib else ""
    lines.append(f'{c},{rows[0]["family"]},{med(rows):.4f},{med(py[c]):.4f},{ratio:.4f},{len(pair)},{min(pair):.4f},{max(pair):.4f},{verdict},{lib_ms}')
open(f"{out}/train_step_vs_pytorch.csv", "w").write("\n".join(lines) + "\n")
summary = {"passes_per_implementation": len(next(iter(cpp.values()))),
           "cpp": cpp[next(iter(cpp))][0]["impl"], "pytorch": py[next(iter(py))][0]["impl"],
           "ratio": "PyTorch step time / C++ step time, medians over the passes (> 1: C++ faster)",
           "families": {f: {"n": len(v), "median_ratio": statistics.median(v), "min_ratio": min(v)} for f, v in sorted(fam.items())},
           "verdicts": {k: {"n": len(v), "configs": v} for k, v in sorted(verdicts.items())}}
json.dump(summary, open(f"{out}/train_step_summary.json", "w"), indent=1)
print("\n".join(lines)); print(json.dumps(summary, indent=1))
PY
