#!/usr/bin/env bash
# One call of issue 33 item 1's reference bench (scripts/gpu-reference-bench.sh: the study's reference against
# a user's plain PyTorch loop) at the commit exported by scripts/pin-commit.sh, one counterbalanced pass a
# call: the next pass this GPU model lacks in PACKDIR/MODEL/bench, and with the last one the summary over
# every pass there.
# Passes of one bench thus come from one code version whichever session runs them, as the study's do
# (scripts/gpu-pinned-study.sh).
#   here:  scripts/pin-commit.sh COMMIT  (.at/COMMIT carried with .deps/)
#   there: [GRID=...] [BLOCKS=20] [ROUNDS=2] scripts/gpu-pinned-bench.sh COMMIT PACKDIR "$OUT" [call seconds]
#   here:  copy "$OUT"/MODEL/ into PACKDIR/MODEL/ (a committed results folder) for the next call
# A pass cut by the call's limit leaves nothing (its files are dropped) and runs again next call.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
usage="usage: $0 COMMIT PACKDIR OUT [call seconds]"
COMMIT="${1:?$usage}" PACKS="$(realpath "${2:?$usage}")" BACK="$(realpath "${3:?$usage}")" CALL_S="${4:-600}"
export ROUNDS="${ROUNDS:-2}" BLOCKS="${BLOCKS:-20}" GRID="${GRID:-mlp:1x512,cnn:1x128,rnn:1x512,crnn:1x1:64x64}"
source scripts/gpu-pinned-common.sh
MODEL="$(gpu_model)" || exit 2
WORK="/tmp/refbench-$COMMIT-$MODEL"
rm -rf "$WORK" && mkdir -p "$WORK/bench"
[ ! -d "$PACKS/$MODEL/bench" ] || cp "$PACKS/$MODEL/bench/"train_step_*.jsonl "$WORK/bench/" 2>/dev/null
[ ! -f "$PACKS/$MODEL/machine.txt" ] || cp "$PACKS/$MODEL/machine.txt" "$WORK/"
# pass_done R: both sides of pass R hold a row for every configuration of GRID.
pass_done() {
  local side configs; configs=$(tr ',' '\n' <<< "$GRID" | grep -c .)
  for side in cpp pytorch; do
    [ "$(cat "$WORK/bench/train_step_${side}_pytorch-default_pass$1.jsonl" 2>/dev/null | grep -c '^{')" = "$configs" ] \
      || return 1
  done
}
PASS=1
while pass_done "$PASS"; do PASS=$((PASS + 1)); done
enter_pinned "$COMMIT" || exit 2
rc=0
if [ "$PASS" -le "$ROUNDS" ]; then
  echo "$MODEL: pass $PASS of $ROUNDS, GRID=$GRID BLOCKS=$BLOCKS"
  # The build's time counts against the call; 30 s kept for the copy back (timeout 0 would mean no limit).
  LIMIT=$((CALL_S - 30 - SECONDS))
  [ "$LIMIT" -ge 1 ] || { echo "only $LIMIT s left for the pass" >&2; exit 1; }
  PASSES="$PASS" timeout -s TERM -k 10 "$LIMIT" scripts/gpu-reference-bench.sh "$WORK" || rc=$?
  cp "$WORK/bench.log" "$WORK/bench-pass$PASS.log" 2>/dev/null
  if [ "$rc" = 124 ] || ! pass_done "$PASS"; then
    echo "pass $PASS did not finish (exit $rc): its files dropped, it runs again next call"
    rm -f "$WORK/bench/"train_step_*_pass"$PASS".jsonl
  fi
else
  echo "$MODEL: all $ROUNDS passes are there; the summary only"
fi
# The summary (seconds, no GPU) in the call that finishes the last pass, so no call is spent on it alone.
if pass_done "$ROUNDS"; then
  SUMMARY_ONLY=1 bench/train_step_vs_pytorch.sh "$WORK/bench" build-cuda > "$WORK/bench-summary.log" 2>&1 || rc=$?
  echo "summary of $ROUNDS passes: exit $rc (1: a family's energy is not shown within 5 % of PyTorch's)"
fi
mkdir -p "$BACK/$MODEL" && cp -r "$WORK"/. "$BACK/$MODEL/"
cat "$WORK/bench/energy_vs_pytorch.csv" 2>/dev/null
exit "$rc"
