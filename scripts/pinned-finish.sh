#!/usr/bin/env bash
# The last step of a pinned task (issue 33; scripts/pinned-tasks.txt), here: each GPU model's complete pack in
# FOLDER (NAME-COMMIT-MODEL.tgz) becomes FOLDER/MODEL/.
# - A study's (scripts/gpu-pinned-study.sh; complete when its last call exited 0): results.db, study.log,
#   machine.txt, build.log, and its report in FOLDER/MODEL/report; with two or more such models, FOLDER/joint
#   (and FOLDER/joint-net, on net energy) reads those databases only. Every report made is registered in
#   results/reports.txt, so scripts/regenerate-reports.sh remakes it and scripts/reader_check.py recomputes it.
# - A bench's (scripts/gpu-pinned-bench.sh; complete with its summary): the pack's files as they are.
# A task not finished stays a pack and is named with how far it got (exit 1); the finished ones are done all
# the same. A finished pack is left in place: `git rm` it once its folder is committed.
# Usage: scripts/pinned-finish.sh FOLDER [sedenergy binary, default build/sedenergy] [reports.txt]
set -uo pipefail
FOLDER="${1:?usage: $0 FOLDER [sedenergy] [reports.txt]}"
BIN="${2:-build/sedenergy}"
REPORTS="${3:-results/reports.txt}"
[ -d "$FOLDER" ] || { echo "$FOLDER: no such folder" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN: no sedenergy binary (build first, or name one)" >&2; exit 2; }
[ -f "$REPORTS" ] || { echo "$REPORTS: no reports list" >&2; exit 2; }
FOLDER="${FOLDER%/}"
source "$(dirname "$0")/gpu-pinned-common.sh"  # pack_state
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT

# register OUT [report options and databases]: one line of the reports list, once.
register() {
  grep -qxF "$*" "$REPORTS" || echo "$*" >> "$REPORTS"
}

# report OUT [options and databases]: the report made, its HTML dropped (regenerable), registered.
report() {
  "$BIN" report "${@:2}" -o "$1" > "$T/report.log" 2>&1 || { cat "$T/report.log" >&2; return 1; }
  rm -f "$1/report.html"
  register "$@"
  echo "report: $1"
}

# finish PACK: its GPU model's folder (and a study's report) when it is complete; else 1, saying how far it got.
finish() {
  local pack="$1" model work state
  model="$(basename "$pack" .tgz)"; model="${model##*-}"
  work="$T/$model"; mkdir -p "$work"
  tar xzf "$pack" -C "$work" 2> /dev/null || { echo "$pack: not a readable pack" >&2; return 1; }
  state="$(pack_state "$work")" || { echo "$pack: not finished ($state)" >&2; return 1; }
  mkdir -p "$FOLDER/$model"
  if [ -f "$work/study/results.db" ]; then
    cp "$work/study/results.db" "$work/study.log" "$work/machine.txt" "$work/build.log" "$FOLDER/$model/"
    report "$FOLDER/$model/report" "$FOLDER/$model/results.db"
  else
    cp -r "$work/." "$FOLDER/$model/" && echo "bench: $FOLDER/$model"
  fi
}

shopt -s nullglob
packs=("$FOLDER"/*-*-*.tgz)
[ ${#packs[@]} -gt 0 ] || { echo "$FOLDER: no NAME-COMMIT-MODEL.tgz pack" >&2; exit 2; }
rc=0
for pack in "${packs[@]}"; do finish "$pack" || rc=1; done
dbs=("$FOLDER"/*/results.db)
if [ ${#dbs[@]} -ge 2 ]; then
  report "$FOLDER/joint" "${dbs[@]}" || rc=1
  report "$FOLDER/joint-net" --energy net "${dbs[@]}" || rc=1
fi
exit "$rc"
