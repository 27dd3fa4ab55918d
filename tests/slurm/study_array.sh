#!/usr/bin/env bash
# scripts/slurm/study-array.sh on a real single-node Slurm (tests/slurm/cluster.sh): a 4-task array of a small
# CPU study, one task cancelled mid-shard and requeued, then the merge job. The merged database must hold
# exactly the runs of the same study run in one process. Usage: study_array.sh SEDENERGY_BIN SOURCE_DIR
set -euo pipefail
BIN=$(realpath "$1"); SRC=$(realpath "$2")
T=$(mktemp -d /tmp/sedenergy-slurm.XXXXXX)
# shellcheck source=cluster.sh
source "$SRC/tests/slurm/cluster.sh"
fail() {
  echo "FAIL: $*"
  for f in "$T"/array/logs/*.log "$CLUSTER_DIR"/log/slurmctld.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}
trap 'cluster_stop; rm -rf "$T"' EXIT
cluster_start "$T/cluster" || fail "the cluster did not start"

STUDY=(--grid mlp:1x16,mlp:1x32,mlp:2x16,cnn:1x4,cnn:1x8,rnn:1x8,rnn:1x16,crnn:1x1:8x8 --device cpu --clips 16
       --repetitions 2 --epochs 1 --min-window 2 --warmup-steps 0 --cooldown 0 --sample-period 0.05 --seed 7)
RUNS="SELECT config, variant, repetition, fraction, epochs_per_unit, status FROM runs WHERE status != 'interrupted'
      ORDER BY 1, 2, 3, 4, 5"

state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until the command succeeds (checked 5 times a second)
  local limit=$1 what=$2 i; shift 2
  for i in $(seq 1 $((limit * 5))); do "$@" && return 0; sleep 0.2; done
  fail "timed out after $limit s waiting for $what"
}
runs_in() { sqlite3 "$1" "SELECT count(*) FROM runs WHERE status = 'ok'" 2>/dev/null || echo 0; }
has_runs() { [ "$(runs_in "$1")" -ge 1 ]; }
in_state() { [ "$(state "$1")" = "$2" ]; }

echo "== bad input is refused before anything is submitted"
for bad in "--tasks 0" "--tasks x" "--tasks 4 --out $T/bad -- --shard 1/4" "--tasks 4 --out $T/bad -- --resume" "--tasks 4"; do
  # shellcheck disable=SC2086
  if "$SRC/scripts/slurm/study-array.sh" $bad --bin "$BIN" > "$T/bad.log" 2>&1; then fail "accepted: $bad"; fi
  grep -q "study-array.sh: " "$T/bad.log" || fail "no clear message for: $bad ($(cat "$T/bad.log"))"
done
[ -z "$(squeue -h)" ] || fail "a refused submission queued a job"
out=$(SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_COUNT=4 "$BIN" study --grid quick --shard 5/4 --out "$T/bad" 2>&1) && fail "shard 5/4 accepted"
grep -q "sbatch --array=1-N" <<< "$out" || fail "shard 5/4: unclear message: $out"

echo "== two Slurm tasks measured as one job (srun -n 2, the Python tracker)"
# Each task is a rank (SLURM_PROCID of SLURM_NTASKS); task 0 writes the job's row, each task its own.
TRACKED='
import sys, time
from sedenergy import EmissionsTracker
t = EmissionsTracker("srun", output_dir=sys.argv[1], gather_timeout_s=60)
t.start()
end = time.monotonic() + 1.0
while time.monotonic() < end:
    pass
t.stop()
'
PYTHONPATH="$SRC/python" SEDENERGY_LIBRARY="$(dirname "$BIN")/libsedenergy.so.0" \
  srun -n 2 --time 5 python3 -c "$TRACKED" "$T/srun" > "$T/srun.log" 2>&1 || { cat "$T/srun.log"; fail "srun -n 2"; }
[ "$(($(wc -l < "$T/srun/emissions.csv") - 1))" = 1 ] || fail "expected one job row: $(cat "$T/srun/emissions.csv")"
[ "$(($(wc -l < "$T/srun/emissions_ranks.csv") - 1))" = 2 ] || fail "expected two task rows"
python3 -c 'import json, glob, sys
job = json.load(open(glob.glob(sys.argv[1] + "/sedenergy-job-*.json")[0]))
assert sorted(job["ranks"]) == ["0", "1"] and job["ranks_missing"] == [], job["ranks"]
assert all(r["job_id"] == job["ranks"]["0"]["job_id"] != "" for r in job["ranks"].values())' "$T/srun" ||
  fail "the job record does not hold both tasks"

echo "== the same study in one process (the reference)"
"$BIN" study "${STUDY[@]}" --out "$T/single" > "$T/single.log" 2>&1 || { tail "$T/single.log"; fail "single study"; }

echo "== the array"
submitted=$("$SRC/scripts/slurm/study-array.sh" --tasks 4 --out "$T/array" --bin "$BIN" -- "${STUDY[@]}") || fail "submit"
echo "$submitted"
array=$(sed -n 's/^array \([0-9]*\).*/\1/p' <<< "$submitted")
merge=$(sed -n 's/.*merge \([0-9]*\).*/\1/p' <<< "$submitted")
[ -n "$array" ] && [ -n "$merge" ] || fail "no job ids in: $submitted"

echo "== task 2 cancelled after its first run, then requeued"
wait_for 240 "task 2's first run" has_runs "$T/array/shard-2/results.db"
scancel "${array}_2"
wait_for 90 "task 2 to end" in_state "${array}_2" CANCELLED
before=$(runs_in "$T/array/shard-2/results.db")
[ "$before" -lt 4 ] || fail "task 2 had finished its shard before the cancel (make its runs longer)"
"$SRC/scripts/slurm/study-array.sh" --requeue "$T/array" 2 || fail "--requeue $T/array 2"
if "$SRC/scripts/slurm/study-array.sh" --requeue "$T/array" 5 > "$T/bad.log" 2>&1; then fail "task 5 of 4 requeued"; fi
grep -q "task '5' is not in 1..4" "$T/bad.log" || fail "task 5 of 4: unclear message: $(cat "$T/bad.log")"

echo "== the merge job"
wait_for 400 "the merge job" in_state "$merge" COMPLETED
grep -q "restart 1" "$T/array/logs/shard-2.log" || fail "task 2 did not run again"
grep -q "resume: $before of 4 runs already finished" "$T/array/logs/shard-2.log" || fail "task 2 did not resume its shard"
diff <(sqlite3 "$T/single/results.db" "$RUNS") <(sqlite3 "$T/array/results.db" "$RUNS") > "$T/diff" ||
  { cat "$T/diff"; fail "the merged runs differ from the single-process study's"; }
[ "$(runs_in "$T/array/results.db")" = 16 ] || fail "expected 16 runs, found $(runs_in "$T/array/results.db")"
interrupted=$(sqlite3 "$T/array/results.db" "SELECT count(*) FROM runs WHERE status = 'interrupted'")
[ "$interrupted" -le 1 ] || fail "$interrupted interrupted runs: only task 2's run in progress could be"
[ -f "$T/array/report/report.html" ] || fail "no report"
echo "PASS: two srun tasks in one job row; 4 shards (one cancelled after $before runs and requeued) merged into the 16 runs of the single study"
