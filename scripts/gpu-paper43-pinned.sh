#!/usr/bin/env bash
# One call of a paper43 sweep that spans GPU sessions and GPU models at one code version (issue 33 item 2:
# the H200 and an H100 at the same commit). Builds the commit exported by scripts/pin-commit.sh, resumes the
# sweep of this node's GPU model from its pack, stops the study before the call's end and packs it to bring
# back. Each GPU model has its own pack and folder, so a call that lands on the other model continues that
# model's sweep instead of opening a second session in the first one's database.
#   here:  scripts/pin-commit.sh COMMIT  (.at/COMMIT carried with .deps/)
#   there: scripts/gpu-paper43-pinned.sh COMMIT PACKDIR "$OUT" [seconds the call may last, default 600]
#   here:  copy "$OUT"/p43-COMMIT-MODEL.tgz into PACKDIR for the next call
# PACKDIR is a committed results folder (the sweep in progress survives a lost checkout; it travels with the
# tree). A pack holds the store, logs and machine description, not the regenerable report, audio or cache.
# A warm node keeps /tmp/p43-COMMIT-MODEL and resumes from it; a fresh one from the pack. It keeps the build
# too, outside the carried source (a carried path is replaced on each call, and the build with it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
COMMIT="${1:?usage: $0 COMMIT PACKDIR OUT [call seconds]}"
PACKS="$(realpath "${2:?usage: $0 COMMIT PACKDIR OUT [call seconds]}")"
BACK="$(realpath "${3:?usage: $0 COMMIT PACKDIR OUT [call seconds]}")"
CALL_S="${4:-600}"
# The study's run in progress may take this long to finish after SIGINT, plus the pack.
MARGIN_S=95
ROOT="$PWD"
SRC=".at/$COMMIT"
[ -d "$SRC" ] || { echo "no $SRC: run scripts/pin-commit.sh $COMMIT here and carry it" >&2; exit 2; }
MODEL="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -oE '[HABLV][0-9]{2,3}' | head -1 \
  | tr '[:upper:]' '[:lower:]')"
[ -n "$MODEL" ] || { echo "no GPU model from nvidia-smi" >&2; exit 2; }
NAME="p43-$COMMIT-$MODEL"
cd "$SRC" || exit 2
ln -sfn "$ROOT/.deps" .deps
ln -sfn "/tmp/build-$COMMIT" build-cuda && mkdir -p "/tmp/build-$COMMIT"
export SEDENERGY_GIT_REVISION="$COMMIT" BUILD_TARGETS=sedenergy
mkdir -p "/tmp/$NAME"
scripts/gpu-build.sh > "/tmp/$NAME/build.log" 2>&1 || { tail -20 "/tmp/$NAME/build.log"; exit 1; }
LIMIT=$((CALL_S - MARGIN_S - SECONDS))
[ "$LIMIT" -gt 60 ] || { echo "only $LIMIT s left after the build" >&2; exit 1; }
[ -f "$PACKS/$NAME.tgz" ] && export SEDENERGY_UNPACK="$PACKS/$NAME.tgz"
echo "$NAME: study for $LIMIT s (build took $SECONDS s)"
SEDENERGY_LIMIT_S="$LIMIT" scripts/gpu-paper43.sh "/tmp/$NAME"
rc=$?
tar czf "$BACK/$NAME.tgz" --exclude=data --exclude=cache --exclude=report -C "/tmp/$NAME" .
tail -4 "/tmp/$NAME/study.log"
python3 -c 'import sqlite3, sys; print(dict(sqlite3.connect(sys.argv[1]).execute(
  "select status, count(*) from runs group by status")))' "/tmp/$NAME/study/results.db"
exit "$rc"
