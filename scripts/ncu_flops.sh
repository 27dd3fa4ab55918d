#!/usr/bin/env bash
# Executed vs counted FLOPs: Nsight Compute reads the FP32 instructions executed by one forward pass
# (2 x FFMA + FADD + FMUL, per thread) for one configuration of each family; sedenergy's counts sit beside.
# Usage on a GPU node: scripts/ncu_flops.sh OUTDIR [BATCH]   (writes OUTDIR/ncu_flops.csv)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [BATCH]}"
BATCH="${2:-8}"
mkdir -p "$OUT"
NCU="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
M=smsp__sass_thread_inst_executed_op_ffma_pred_on.sum,smsp__sass_thread_inst_executed_op_fadd_pred_on.sum,smsp__sass_thread_inst_executed_op_fmul_pred_on.sum
echo "config,batch,kernels,executed_flops" > "$OUT/ncu_flops.csv"
for spec in mlp:1x512 cnn:2x128 rnn:1x512 crnn:1x1:64x64; do
  "$NCU" --profile-from-start off --metrics "$M" --csv --page raw python3 scripts/ncu_flops.py "$spec" "$BATCH" \
    > "$OUT/ncu_$(echo "$spec" | tr ':' '_').csv" 2> "$OUT/ncu.err" || { tail -5 "$OUT/ncu.err"; continue; }
  python3 - "$OUT/ncu_$(echo "$spec" | tr ':' '_').csv" "$spec" "$BATCH" >> "$OUT/ncu_flops.csv" <<'PY'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
head = next(i for i, r in enumerate(rows) if "Kernel Name" in r or "ID" in r)
names = rows[head]
col = {n: names.index(n) for n in names}
total, kernels = 0.0, 0
for r in rows[head + 2:]:  # a units row follows the header
    try:
        ffma = float(r[col["smsp__sass_thread_inst_executed_op_ffma_pred_on.sum"]].replace(",", ""))
        fadd = float(r[col["smsp__sass_thread_inst_executed_op_fadd_pred_on.sum"]].replace(",", ""))
        fmul = float(r[col["smsp__sass_thread_inst_executed_op_fmul_pred_on.sum"]].replace(",", ""))
    except (ValueError, IndexError, KeyError):
        continue
    total += 2 * ffma + fadd + fmul
    kernels += 1
print(f"{sys.argv[2]},{sys.argv[3]},{kernels},{total:.0f}")
PY
done
cat "$OUT/ncu_flops.csv"
