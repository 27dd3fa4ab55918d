#!/usr/bin/env bash
# Models that learn (issue 17, item 4) on a GPU node: `study --config learning`, resumed where a previous call
# stopped (run it again until it says it is complete), then its report. Set SEDENERGY_GIT_REVISION to the
# commit (the GPU node has no .git). Usage: [LIMIT_S=540] scripts/gpu-learning.sh OUTDIR [more study options]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [study options]}"
shift
scripts/gpu-prepare.sh "$OUT" "learning" || exit 1
RESUME=(); [ -f "$OUT/study/results.db" ] && RESUME=(--resume)
timeout -s INT "${LIMIT_S:-540}" build-cuda/sedenergy study --config learning --device cuda --out "$OUT/study" \
  "${RESUME[@]}" "$@" >> "$OUT/study.log" 2>&1
RC=$?; echo "exit $RC (0: the study is complete; 130: stopped at the time limit, run this step again)"
grep -E "^\[|FAILED|resume:|interrupted|idle" "$OUT/study.log" | tail -12
rm -rf "$OUT/study/cache" "$OUT/study/data"
grep -A3 -i "energy to reach" "$OUT/study/report/summary.md" | head -8
