#!/usr/bin/env bash
# Software choices on a GPU node (issue 16), in steps that each fit one call of a time-limited session:
#   scripts/gpu-implementations.sh OUTDIR smoke   build, then every implementation preset on two small
#                                                  configurations (a 64-clip study) and the plan's refusals
#   scripts/gpu-implementations.sh OUTDIR study   `study --config $STUDY_CONFIG` (default: implementations;
#                                                  e.g. STUDY_CONFIG=precision; STUDY_ARGS: more options, e.g.
#                                                  "--impl fused/eager/tf32/host --repetitions 1"), in OUTDIR/study
#                                                  (resumes where a previous call stopped: run it again until it
#                                                  says it is complete)
#   scripts/gpu-implementations.sh OUTDIR checks  build, then the trainer's and the loss's torch tests on the
#                                                  GPU, and a one-run study whose log shows both idle baselines
#                                                  (before and with the CUDA context)
#   scripts/gpu-implementations.sh OUTDIR bench   bench/train_step_vs_pytorch.sh (GRID, IMPLS, ROUNDS, CLIPS
#                                                  from the environment; defaults below)
#   scripts/gpu-implementations.sh OUTDIR profile kernel by kernel, sedenergy's step against PyTorch's for one
#                                                  configuration and implementation (CONFIG, IMPL; defaults
#                                                  crnn:1x1:64x64, fastest): Nsight Compute times each
#                                                  kernel (graph nodes one by one), per name on each side,
#                                                  and one step's kernel time (MARKER: a kernel once per step)
# Set SEDENERGY_GIT_REVISION to the commit (the GPU node has no .git).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR smoke|checks|study|bench|profile}"
STEP="${2:?usage: $0 OUTDIR smoke|checks|study|bench|profile}"
scripts/gpu-prepare.sh "$OUT" "implementations $STEP" || exit 1
BIN=build-cuda/sedenergy
case "$STEP" in
  smoke)
    ALL=$(python3 -c "import re; print(','.join(re.findall(r'\{\"([a-z0-9-]+)\", \"[a-z-]+/', open('src/models/implementation.cpp').read())))")
    echo "== every preset: $ALL"
    $BIN study --device cuda --grid mlp:1x512,crnn:1x1:64x64 --impl "$ALL" --clips 64 --repetitions 1 \
      --min-window 0.5 --idle 1 --cooldown 0 --out "$OUT/smoke" > "$OUT/smoke.log" 2>&1; echo "exit $?"
    grep -E "^\[|train |FAILED|kernels not counted" "$OUT/smoke.log"
    python3 - "$OUT/smoke/results.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute("SELECT r.config, r.impl, r.status, r.train_kernels_per_step, r.test_kernels_per_step, "
                      "round(p.energy_j, 2), round(p.duration_s, 4) FROM runs r JOIN phases p ON p.run_id = r.id "
                      "WHERE p.phase = 'train' ORDER BY r.config, r.impl"):
    print(*row, sep="\t")
PY
    echo "== refusals"
    $BIN study --device cuda --grid mlp:1x512 --impl foreach/graph/fp32/device --out "$OUT/refused" 2>&1 | tail -1
    $BIN study --device cuda --grid mlp:1x512 --impl fastest --feature-mode on-the-fly --out "$OUT/refused" 2>&1 | tail -1
    rm -rf "$OUT/smoke/cache" "$OUT/smoke/data" "$OUT/refused"
    ;;
  checks)
    build-cuda/tests/torch_tests --gtest_filter='Trainer.*:Models.Bce*' > "$OUT/torch_tests.txt" 2>&1
    echo "torch tests exit $?"; grep -E "^\[  (PASSED|FAILED|SKIPPED) " "$OUT/torch_tests.txt"
    $BIN study --device cuda --grid mlp:1x512 --clips 64 --repetitions 1 --min-window 0.5 --idle 3 --cooldown 0 \
      --out "$OUT/idle" > "$OUT/idle.log" 2>&1; echo "study exit $?"
    grep -E "idle|hardware probes" "$OUT/idle.log"
    rm -rf "$OUT/idle/cache" "$OUT/idle/data"
    ;;
  study)
    RESUME=(); [ -f "$OUT/study/results.db" ] && RESUME=(--resume)
    timeout -s INT "${LIMIT_S:-540}" $BIN study --config "${STUDY_CONFIG:-implementations}" ${STUDY_ARGS:-} --device cuda --out "$OUT/study" "${RESUME[@]}" \
      >> "$OUT/study.log" 2>&1
    RC=$?; echo "exit $RC (0: the study is complete; 130: stopped at the time limit, run this step again)"
    grep -E "^\[|FAILED|resume:|interrupted" "$OUT/study.log" | tail -8
    rm -rf "$OUT/study/cache" "$OUT/study/data"
    ;;
  bench)
    IMPLS="${IMPLS:-pytorch-default fastest device-data}" GRID="${GRID:-mlp:1x512,mlp:4x4096,cnn:1x128,cnn:2x512,rnn:1x512,rnn:4x2048,crnn:1x1:64x64}" ROUNDS="${ROUNDS:-2}" \
      CLIPS="${CLIPS:-64}" BLOCK_S="${BLOCK_S:-0.2}" bench/train_step_vs_pytorch.sh "$OUT/bench" > "$OUT/bench.log" 2>&1
    echo "exit $?"; tail -60 "$OUT/bench.log"
    ;;
  profile)
    CONFIG="${CONFIG:-crnn:1x1:64x64}" IMPL="${IMPL:-fastest}" KERNELS="${KERNELS:-1500}"
    NCU="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
    [ -n "$NCU" ] || { echo "no ncu on this machine"; exit 1; }
    SPELLED=$(build-cuda/bench_train_step --grid "$CONFIG" --impl "$IMPL" --clips 64 --block-seconds 0.05 |
      python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['spelled'])")
    for side in cpp pytorch; do
      CMD=(build-cuda/bench_train_step --grid "$CONFIG" --impl "$IMPL" --clips 64 --block-seconds 0.01)
      [ $side = pytorch ] && CMD=(python3 bench/pytorch_train_step.py --impl "$SPELLED" --configs "$CONFIG" --clips 64 --block-seconds 0.01)
      # Each kernel (a graph's kernel nodes one by one) timed alone: GPU time per kernel, without launch overlap.
      "$NCU" --graph-profiling node --metrics gpu__time_duration.sum --csv --page raw --launch-count "$KERNELS" \
        "${CMD[@]}" > "$OUT/${side}_kernels.csv" 2> "$OUT/$side.ncu.log" || tail -5 "$OUT/$side.ncu.log"
    done
    python3 bench/kernel_profile_compare.py "$OUT/cpp_kernels.csv" "$OUT/pytorch_kernels.csv" \
      --marker "${MARKER:-RNN_blockPersist_bp}" | tee "$OUT/kernels.txt"
    ;;
  *) echo "unknown step $STEP (smoke, checks, study, bench, profile)" >&2; exit 2 ;;
esac
