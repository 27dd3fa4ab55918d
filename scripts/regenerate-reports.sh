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

# One report per line: its folder, then `report`'s options and databases.
REPORTS=(
  "results/h100-paper43-2026-11-27/report results/h100-paper43-2026-11-27/results.db"
  "results/h100-paper43-2026-11-27/report-net --energy net results/h100-paper43-2026-11-27/results.db"
  "results/h200-paper43-2026-11-30/study/report results/h200-paper43-2026-11-30/study/results.db"
  "results/h200-paper43-2026-11-30/joint-with-h100 results/h100-paper43-2026-11-27/results.db results/h200-paper43-2026-11-30/study/results.db results/h200-paper43-tf32-full-2026-11-30/study/results.db"
  "results/h200-paper43-2026-11-30/joint-with-h100-net --energy net results/h100-paper43-2026-11-27/results.db results/h200-paper43-2026-11-30/study/results.db results/h200-paper43-tf32-full-2026-11-30/study/results.db"
  "results/h200-implementations-2026-11-30/study/report results/h200-implementations-2026-11-30/study/results.db"
  "results/h200-implementations-2026-11-30/bench-07ec446/idle/report results/h200-implementations-2026-11-30/bench-07ec446/idle/results.db"
  "results/h200-implementations-2026-11-30/bench-ac90e41/idle/report results/h200-implementations-2026-11-30/bench-ac90e41/idle/results.db"
  "results/h200-learning-2026-11-30/first-frames/study/report results/h200-learning-2026-11-30/first-frames/study/results.db"
  "results/h200-learning-2026-11-30/whole-clip/study/report results/h200-learning-2026-11-30/whole-clip/study/results.db"
  "results/h200-learning-2026-11-30/whole-clip/report-map-0.55 --target-map 0.55 results/h200-learning-2026-11-30/whole-clip/study/results.db"
  "results/h200-learning-seeds-2026-11-30/whole-clip/study/report results/h200-learning-seeds-2026-11-30/whole-clip/study/results.db"
  "results/h200-precision-2026-11-30/study/report results/h200-precision-2026-11-30/study/results.db"
  "results/h200-paper43-tf32-2026-11-30/study/report results/h200-paper43-tf32-2026-11-30/study/results.db"
  "results/h200-paper43-tf32-full-2026-11-30/study/report results/h200-paper43-tf32-full-2026-11-30/study/results.db"
  "results/h200-paper43-tf32-full-2026-11-30/default-mlp-rnn/study/report results/h200-paper43-tf32-full-2026-11-30/default-mlp-rnn/study/results.db"
  "results/h200-paper43-tf32-full-2026-11-30/joint-with-default results/h200-paper43-2026-11-30/study/results.db results/h200-paper43-tf32-full-2026-11-30/study/results.db"
  "results/h200-paper43-tf32-full-2026-11-30/joint-with-default-mlp-rnn results/h200-paper43-tf32-full-2026-11-30/default-mlp-rnn/study/results.db results/h200-paper43-tf32-full-2026-11-30/study/results.db"
)
for line in "${REPORTS[@]}"; do
  read -r -a words <<< "$line"
  out="${words[0]}"
  "$BIN" report "${words[@]:1}" -o "$out" > /dev/null
  rm -f "$out/report.html"
  echo "regenerated $out"
done
