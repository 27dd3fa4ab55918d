#!/usr/bin/env bash
# The last step of a study pinned to one commit across GPU sessions (issue 33; scripts/gpu-pinned-study.sh
# makes the packs, SWEEP-COMMIT-MODEL.tgz): each GPU model's pack whose last call exited 0 becomes
# FOLDER/MODEL/ (results.db, study.log, machine.txt, build.log) with its report in FOLDER/MODEL/report; with
# two or more such models, FOLDER/joint (and FOLDER/joint-net, on net energy) reads those databases only. Every report made is registered in
# results/reports.txt, so scripts/regenerate-reports.sh remakes it and scripts/reader_check.py recomputes it.
# A sweep not finished stays a pack and is named with its runs so far (exit 1); the finished ones are done
# all the same. A finished pack is left in place: `git rm` it once its folder is committed.
# Usage: scripts/pinned-study-finish.sh FOLDER [sedenergy binary, default build/sedenergy] [reports.txt]
set -uo pipefail
FOLDER="${1:?usage: $0 FOLDER [sedenergy] [reports.txt]}"
BIN="${2:-build/sedenergy}"
REPORTS="${3:-results/reports.txt}"
[ -d "$FOLDER" ] || { echo "$FOLDER: no such folder" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN: no sedenergy binary (build first, or name one)" >&2; exit 2; }
[ -f "$REPORTS" ] || { echo "$REPORTS: no reports list" >&2; exit 2; }
FOLDER="${FOLDER%/}"
source "$(dirname "$0")/gpu-pinned-common.sh"  # run_counts
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

# finish PACK: its GPU model's folder and report when its last call exited 0; else 1, saying how far it got.
finish() {
  local pack="$1" model work last
  model="$(basename "$pack" .tgz)"; model="${model##*-}"
  work="$T/$model"; mkdir -p "$work"
  tar xzf "$pack" -C "$work" || { echo "$pack: not a readable pack" >&2; return 1; }
  last="$(grep -E '^== .* exit [0-9]+$' "$work/study.log" 2>/dev/null | tail -1)"
  if [ "${last##* exit }" != 0 ]; then
    echo "$pack: not finished (last call: ${last:-none}); runs so far:" \
      "$(run_counts "$work/study/results.db")" >&2
    return 1
  fi
  mkdir -p "$FOLDER/$model"
  cp "$work/study/results.db" "$work/study.log" "$work/machine.txt" "$work/build.log" "$FOLDER/$model/"
  report "$FOLDER/$model/report" "$FOLDER/$model/results.db"
}

shopt -s nullglob
packs=("$FOLDER"/*-*-*.tgz)
[ ${#packs[@]} -gt 0 ] || { echo "$FOLDER: no SWEEP-COMMIT-MODEL.tgz pack" >&2; exit 2; }
rc=0
for pack in "${packs[@]}"; do finish "$pack" || rc=1; done
dbs=("$FOLDER"/*/results.db)
if [ ${#dbs[@]} -ge 2 ]; then
  report "$FOLDER/joint" "${dbs[@]}" || rc=1
  report "$FOLDER/joint-net" --energy net "${dbs[@]}" || rc=1
fi
exit "$rc"
