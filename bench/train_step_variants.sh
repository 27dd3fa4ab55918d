#!/usr/bin/env bash
# Where the C++ step and PyTorch's differ, which setting explains it: ROUNDS (default 3) alternating passes
# over CONFIGS of the C++ step (implementation libtorch-default, as PyTorch eager below; cuDNN TF32 forced on;
# forced off; cuDNN autotuning on)
# and of PyTorch eager (TF32 set as bench/pytorch_train_step.py does; PyTorch's untouched defaults).
# Prints each variant's median over the passes per configuration, and each variant's flags.
# Usage: bench/train_step_variants.sh OUTDIR CONFIGS [build dir]   (CONFIGS: spec,spec,...)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR CONFIGS [build dir]}"
CONFIGS="${2:?usage: $0 OUTDIR CONFIGS [build dir]}"
BUILD="${3:-build-cuda}"
ROUNDS="${ROUNDS:-3}"
mkdir -p "$OUT"
rm -f "$OUT"/variant_*.jsonl
declare -A cpp=([cpp]="" [cpp-tf32-on]="--cudnn-tf32 on" [cpp-tf32-off]="--cudnn-tf32 off" [cpp-cudnn-benchmark]="--cudnn-benchmark 1")
declare -A py=([pytorch]="" [pytorch-defaults]="--default-precision")
for r in $(seq 1 "$ROUNDS"); do
  for v in cpp pytorch cpp-tf32-on pytorch-defaults cpp-tf32-off cpp-cudnn-benchmark; do
    if [ -n "${cpp[$v]+x}" ]; then
      # shellcheck disable=SC2086
      "$BUILD/bench_train_step" --impl libtorch-default --grid "$CONFIGS" --block-seconds 0.25 ${cpp[$v]} | sed "s/^{/{\"variant\":\"$v\",\"pass\":$r,/" >> "$OUT/variant_$v.jsonl"
    else
      # shellcheck disable=SC2086
      python3 bench/pytorch_train_step.py --configs "$CONFIGS" --block-seconds 0.25 ${py[$v]} | sed "s/^{/{\"variant\":\"$v\",\"pass\":$r,/" >> "$OUT/variant_$v.jsonl"
    fi
  done
done
python3 - "$OUT" <<'PY' | tee "$OUT/variants_summary.txt"
import glob, json, statistics, sys
rows = [json.loads(l) for f in sorted(glob.glob(sys.argv[1] + "/variant_*.jsonl")) for l in open(f)]
variants = sorted({r["variant"] for r in rows})
configs = list(dict.fromkeys(r["config"] for r in rows))
print("config".ljust(22) + "".join(v.rjust(22) for v in variants))
for c in configs:
    cells = []
    for v in variants:
        ms = sorted(r["step_ms"] for r in rows if r["config"] == c and r["variant"] == v)
        cells.append(f"{statistics.median(ms):.3f} [{ms[0]:.2f}-{ms[-1]:.2f}]".rjust(22))
    print(c.ljust(22) + "".join(cells))
for v in variants:
    r = next(r for r in rows if r["variant"] == v)
    print(v, {k: r[k] for k in ("cudnn_tf32", "cublas_tf32", "cudnn_benchmark")})
PY
