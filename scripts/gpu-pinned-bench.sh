#!/usr/bin/env bash
# One call of issue 33 item 1's reference bench (scripts/gpu-reference-bench.sh: the study's reference against
# a user's plain PyTorch loop) at the commit exported by scripts/pin-commit.sh: the counterbalanced passes this
# GPU model lacks, as many as the call has time for, and once all ROUNDS are there the summary over them.
# Passes of one bench thus come from one code version whichever session runs them, as a pinned study's runs do
# (scripts/gpu-pinned-study.sh); both sides of a pass run in one call.
#   here:  scripts/pin-commit.sh COMMIT  (.at/COMMIT carried with .deps/)
#   there: [GRID=...] [BLOCKS=20] [ROUNDS=2] scripts/gpu-pinned-bench.sh COMMIT PACKDIR "$OUT" [call seconds]
#   here:  copy "$OUT"/refbench-COMMIT-MODEL.tgz into PACKDIR for the next call (scripts/pinned-bring-back.sh);
#          once it holds the summary, scripts/pinned-finish.sh PACKDIR
# The pack holds bench/ (each pass's files, then the summary), one log a pass, passes.txt (each pass's
# seconds), build.log and machine.txt; bench-summary.log once the summary is made (a finished bench). A pass
# cut by the call's limit leaves nothing and runs again next call; one is not started when the call has less
# time left than the longest pass before took.
# Exit: 0 a pass ran or the summary was made; 3 no time for the next pass; 124 a pass was cut.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
usage="usage: $0 COMMIT PACKDIR OUT [call seconds]"
COMMIT="${1:?$usage}" PACKS="$(realpath "${2:?$usage}")" BACK="$(realpath "${3:?$usage}")" CALL_S="${4:-600}"
export ROUNDS="${ROUNDS:-2}" BLOCKS="${BLOCKS:-20}" GRID="${GRID:-mlp:1x512,cnn:1x128,rnn:1x512,crnn:1x1:64x64}"
source scripts/gpu-pinned-common.sh
MODEL="$(gpu_model)" || exit 2
NAME="refbench-$COMMIT-$MODEL"
WORK="$(work_folder "$NAME")"
# A warm node resumes from its work folder (the latest state, whether or not its pack was brought back yet),
# a fresh one from the pack.
if [ ! -d "$WORK" ]; then
  mkdir -p "$WORK/bench" && { [ ! -f "$PACKS/$NAME.tgz" ] || tar xzf "$PACKS/$NAME.tgz" -C "$WORK"; } \
    || { rm -rf "$WORK"; exit 2; }
fi
# pass_done R: both sides of pass R hold a row for every configuration of GRID.
pass_done() {
  local side configs; configs=$(tr ',' '\n' <<< "$GRID" | grep -c .)
  for side in cpp pytorch; do
    [ "$(cat "$WORK/bench/train_step_${side}_pytorch-default_pass$1.jsonl" 2>/dev/null | grep -c '^{')" = "$configs" ] \
      || return 1
  done
}
next_pass() {
  local r=1
  while pass_done "$r"; do r=$((r + 1)); done
  echo "$r"
}
enter_pinned "$COMMIT" || exit 2
rc=0
while PASS=$(next_pass) && [ "$PASS" -le "$ROUNDS" ]; do
  # 30 s kept for the pack and the copy back (timeout 0 would mean no limit); the builds count against the call.
  LIMIT=$((CALL_S - 30 - SECONDS))
  NEED=$(awk '$2 > m { m = $2 } END { print int(m * 1.1) + 1 }' "$WORK/passes.txt" 2>/dev/null || echo 1)
  if [ "$LIMIT" -lt "$NEED" ]; then
    echo "$MODEL: pass $PASS of $ROUNDS needs about $NEED s, $LIMIT s left: it runs next call"
    rc=3; break
  fi
  echo "$MODEL: pass $PASS of $ROUNDS, GRID=$GRID BLOCKS=$BLOCKS, $LIMIT s left"
  start=$SECONDS prc=0
  PASSES="$PASS" timeout -s TERM -k 10 "$LIMIT" scripts/gpu-reference-bench.sh "$WORK" || prc=$?
  cp "$WORK/bench.log" "$WORK/bench-pass$PASS.log" 2>/dev/null
  if [ "$prc" = 124 ] || ! pass_done "$PASS"; then
    echo "pass $PASS did not finish (exit $prc): its files dropped, it runs again next call"
    rm -f "$WORK/bench/"train_step_*_pass"$PASS".jsonl
    rc=124; break
  fi
  echo "$PASS $((SECONDS - start))" >> "$WORK/passes.txt"
done
# The summary (seconds, no GPU) in the call that finishes the last pass, so no call is spent on it alone;
# bench-summary.log marks a finished bench (pack_done). A pass's own summary covers the passes so far only.
if pass_done "$ROUNDS" && [ ! -f "$WORK/bench-summary.log" ]; then
  src=0
  SUMMARY_ONLY=1 bench/train_step_vs_pytorch.sh "$WORK/bench" build-cuda > "$WORK/bench-summary.log" 2>&1 || src=$?
  echo "summary of $ROUNDS passes: exit $src (1: a family's energy is not shown within 5 % of PyTorch's)"
  cat "$WORK/bench/energy_vs_pytorch.csv" 2>/dev/null
elif ! pass_done "$ROUNDS"; then
  rm -f "$WORK/bench/"{train_step_vs_pytorch.csv,train_step_summary.json,energy_vs_pytorch.csv,energy_vs_pytorch.json}
fi
rm -f "$WORK/bench.log"  # the last pass's, kept as bench-passN.log
tar czf "$BACK/$NAME.tgz" -C "$WORK" . || rc=2
echo "$NAME: passes $(awk '{ printf "%s%s (%s s)", (NR > 1 ? ", " : ""), $1, $2 }' "$WORK/passes.txt" 2>/dev/null)"
exit "$rc"
