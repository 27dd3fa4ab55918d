#!/usr/bin/env bash
# A short check of the CUDA build on a GPU node after changes to the runner: a two-configuration study on
# the GPU (NVML counter windows), then a study stopped by SIGTERM in a long window (it must end within
# seconds, exit 130 and record the run in progress as interrupted), then --resume redoing it; the study's
# results.db read alone (the write-ahead log copied in after each run).
# Usage: scripts/gpu-smoke.sh OUTDIR
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR}"
scripts/gpu-prepare.sh "$OUT" smoke || exit 1
BIN=build-cuda/sedenergy
COMMON=(--grid mlp:1x512,cnn:1x128 --device cuda --repetitions 1 --idle 2 --cooldown 0 --clips 256)
echo "== study on the GPU"
$BIN study "${COMMON[@]}" --min-window 2 --out "$OUT/study" > "$OUT/study.log" 2>&1; echo "exit $?"
sqlite3 "$OUT/study/results.db" "SELECT r.config, r.status, p.phase, round(p.energy_j, 2), p.gpu_method FROM runs r
  JOIN phases p ON p.run_id = r.id ORDER BY r.id, p.phase" 2>/dev/null || grep -E "train|test" "$OUT/study.log"
echo "== kill -9 during the second run: results.db alone (its -wal left behind) holds the first"
$BIN study "${COMMON[@]}" --min-window 30 --out "$OUT/killed" > "$OUT/killed.log" 2>&1 &
PID=$!
until grep -q "\[2/2\]" "$OUT/killed.log"; do sleep 0.5; done
kill -KILL $PID; wait $PID 2>/dev/null
mkdir -p "$OUT/alone" && cp "$OUT/killed/results.db" "$OUT/alone/"
python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) || ' runs, ' || sum(status = 'ok') || ' ok' FROM runs\").fetchone()[0])" "$OUT/alone/results.db"
echo "== SIGTERM in a 120 s window"
$BIN study "${COMMON[@]}" --min-window 120 --out "$OUT/stop" > "$OUT/stop.log" 2>&1 &
PID=$!
until grep -q "\[1/2\]" "$OUT/stop.log"; do sleep 0.5; done
sleep 3
T0=$(date +%s.%N); kill -TERM $PID; wait $PID; RC=$?; T1=$(date +%s.%N)
echo "exit $RC after $(python3 -c "print(round($T1 - $T0, 2))") s"
grep -E "INTERRUPTED|interrupted" "$OUT/stop.log"
echo "== --resume redoes it (then stopped again)"
$BIN study "${COMMON[@]}" --min-window 120 --out "$OUT/stop" --resume > "$OUT/resume.log" 2>&1 &
PID=$!
until grep -q "\[1/2\]" "$OUT/resume.log"; do sleep 0.5; done
kill -TERM $PID; wait $PID
grep -E "resume:" "$OUT/resume.log"
rm -rf "$OUT/study/cache" "$OUT/stop/cache" "$OUT/study/data" "$OUT/stop/data" "$OUT/study/report" "$OUT/stop/report" "$OUT/alone" "$OUT/killed"
