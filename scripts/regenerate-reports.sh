#!/usr/bin/env bash
# Every committed report under results/, regenerated from its committed database(s) by the current
# analysis (after the analysis changes, so that the committed tables and summaries stay what the code
# says). The HTML is regenerable and stays uncommitted. The databases are committed settled (one file, out of
# WAL mode: Store::settle), so reading them leaves nothing beside them.
# Usage: scripts/regenerate-reports.sh [path/to/sedenergy]   (default: build-notorch/sedenergy)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-build-notorch/sedenergy}"
[ -x "$BIN" ] || { echo "no $BIN: build first (cmake --preset notorch && cmake --build build-notorch)" >&2; exit 2; }

# One report per line of results/reports.txt: its folder, then `report`'s options and databases.
grep -v '^#' results/reports.txt | while read -r -a words; do
  [ ${#words[@]} -gt 0 ] || continue
  out="${words[0]}"
  "$BIN" report "${words[@]:1}" -o "$out" > /dev/null
  rm -f "$out/report.html"
  echo "regenerated $out"
done
