#!/usr/bin/env bash
# One call of a study that spans GPU sessions and GPU models at one code version (issue 33: paper43 on the
# H200 and an H100 at the same commit; the learning runs' 10 seeds). Builds the commit exported by
# scripts/pin-commit.sh, resumes this node's GPU model's sweep from its pack, stops the study by SIGINT before
# the call's end (the run in progress is recorded interrupted and run again on resume), and packs it to bring
# back. Each GPU model has its own pack, so a call that lands on the other model continues that model's sweep
# instead of opening a second session in the first one's database.
#   here:  scripts/pin-commit.sh COMMIT  (.at/COMMIT carried with .deps/)
#   there: [SWEEP=NAME] scripts/gpu-pinned-study.sh CONFIG COMMIT PACKDIR "$OUT" [seconds the call may last]
#   here:  copy "$OUT"/SWEEP-COMMIT-MODEL.tgz into PACKDIR for the next call (scripts/pinned-bring-back.sh); once
#          a sweep's call exits 0, scripts/pinned-finish.sh PACKDIR. scripts/gpu-pinned-next.sh makes these calls
#          from the task list scripts/pinned-tasks.txt.
# PACKDIR is a committed results folder (the sweep in progress survives a lost checkout; it travels with the
# tree). A pack holds the store, study.log (one '== DATE command' and '== DATE exit RC' line a call),
# build.log and machine.txt; not the regenerable report, the generated audio or the feature cache.
# SWEEP (default: the configuration's name) names the pack and the work folder /tmp/SWEEP-COMMIT-MODEL. A sweep
# keeps its name from call to call: the session records its generated data's path, so --resume in another
# folder would start a new session. A warm node keeps the work folder and resumes from it; a fresh one from the pack. It keeps the
# build too, outside the carried source (a carried path is replaced on each call, and the build with it), and
# compiles nothing while the pinned tree's contents are unchanged (enter_pinned, gpu-pinned-common.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
usage="usage: $0 CONFIG COMMIT PACKDIR OUT [call seconds]"
CONFIG="${1:?$usage}" COMMIT="${2:?$usage}"
PACKS="$(realpath "${3:?$usage}")" BACK="$(realpath "${4:?$usage}")"
CALL_S="${5:-600}"
# SIGINT cuts the run in progress (recorded interrupted, redone on resume) and the study exits within seconds
# (2026-12-07 on an H100: 2 s after the signal, its report written); a study that does not is killed 15 s
# later. The rest of the margin is the report, the pack and the copy back.
MARGIN_S=40
source scripts/gpu-pinned-common.sh
MODEL="$(gpu_model)" || exit 2
NAME="${SWEEP:-$(basename "$CONFIG" .json)}-$COMMIT-$MODEL"   # CONFIG: a committed configuration or a JSON file
WORK="$(work_folder "$NAME")"
mkdir -p "$WORK"
[ -f "$WORK/study/results.db" ] || [ ! -f "$PACKS/$NAME.tgz" ] || tar xzf "$PACKS/$NAME.tgz" -C "$WORK" || exit 2
enter_pinned "$COMMIT" || exit 2
export BUILD_TARGETS=sedenergy
scripts/gpu-build.sh > "$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; exit 1; }
scripts/gpu-machine.sh "$CONFIG" >> "$WORK/machine.txt" 2>&1
LIMIT=$((CALL_S - MARGIN_S - SECONDS))
[ "$LIMIT" -gt 60 ] || { echo "only $LIMIT s left after the build" >&2; exit 1; }
echo "$NAME: study for $LIMIT s (build took $SECONDS s)"
cmd=(timeout -s INT -k 15 "$LIMIT" build-cuda/sedenergy study --config "$CONFIG" --device cuda --out "$WORK/study")
[ -f "$WORK/study/results.db" ] && cmd+=(--resume)
echo "== $(date -u +%FT%TZ) ${cmd[*]}" >> "$WORK/study.log"
"${cmd[@]}" >> "$WORK/study.log" 2>&1
rc=$?
echo "== $(date -u +%FT%TZ) exit $rc" >> "$WORK/study.log"
tar czf "$BACK/$NAME.tgz" --exclude=data --exclude=cache --exclude=report -C "$WORK" . || rc=2
grep -E '^\[|resume:|interrupted|FAILED' "$WORK/study.log" | tail -4
echo "runs: $(run_counts "$WORK/study/results.db")"
echo "exit $rc (0: the sweep is complete; 124 or 130: stopped at the time limit, call again)"
exit "$rc"
