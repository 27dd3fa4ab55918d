#!/usr/bin/env bash
# A study across the nodes of a Slurm cluster: a job array with one shard of the grid per task, each into
# its own database, and a job that waits for all of them, merges the shards and writes the report.
#
#   scripts/slurm/study-array.sh --tasks 8 --out /scratch/study [--sbatch "--partition=gpu --gres=gpu:1"] \
#       -- --grid paper43 --repetitions 3 --data /data/DESED
#
# Task K of N runs `sedenergy study ARGS --shard K/N --out OUT/shard-K --resume`, so a task that is
# requeued (a preempted node, or after scancel) continues its shard where it stopped. The merge job runs
# `sedenergy merge OUT/results.db OUT/shard-*/results.db` and `sedenergy report` once every task succeeded.
# The job scripts are written to OUT/slurm/ (shard.sbatch, merge.sbatch, jobs.env) before they are submitted.
#
#   scripts/slurm/study-array.sh --requeue OUT K [K ...]
#
# puts cancelled or failed tasks back in the queue now and re-arms the merge job: Slurm marks a dependency on
# a cancelled task as failed for good, so `scontrol requeue` alone would leave the merge waiting for ever.
# Options: --tasks N (array size), --out DIR, --sbatch "ARGS" (more sbatch options for both jobs),
# --bin PATH (the sedenergy program the nodes run; default: the one on PATH here), --dry-run (write, do not submit).
set -euo pipefail
die() { echo "study-array.sh: $*" >&2; exit 2; }

# afterok on every task of the array (task by task: a requeued attempt's success then counts).
task_dependency() { printf 'afterok'; for k in $(seq 1 "$2"); do printf ':%s_%s' "$1" "$k"; done; }

requeue() {
  local out="${1-}" k; shift || true
  [ -f "$out/slurm/jobs.env" ] || die "--requeue: no $out/slurm/jobs.env (give the --out of the submission)"
  # shellcheck source=/dev/null
  source "$out/slurm/jobs.env"
  [ $# -gt 0 ] || die "--requeue $out: which tasks? (1..$TASKS)"
  for k in "$@"; do
    { [[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le "$TASKS" ]; } || die "--requeue: task '$k' is not in 1..$TASKS"
  done
  for k in "$@"; do
    scontrol requeue "${ARRAY}_$k" || die "scontrol requeue ${ARRAY}_$k failed"
    scontrol update JobId="${ARRAY}_$k" StartTime=now || true  # Slurm otherwise delays a requeued job ~2 min
  done
  scontrol update JobId="$MERGE" Dependency="$(task_dependency "$ARRAY" "$TASKS")" ||
    die "could not re-arm the merge job $MERGE (submit it again: sbatch --dependency=$(task_dependency "$ARRAY" "$TASKS") $out/slurm/merge.sbatch)"
  echo "requeued task(s) $* of array $ARRAY; merge $MERGE waits for them"
}
if [ "${1-}" = "--requeue" ]; then shift; requeue "$@"; exit 0; fi
tasks="" out="" extra="" bin="" dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) tasks="${2-}"; shift 2 || die "--tasks needs a value" ;;
    --out) out="${2-}"; shift 2 || die "--out needs a value" ;;
    --sbatch) extra="${2-}"; shift 2 || die "--sbatch needs a value" ;;
    --bin) bin="${2-}"; shift 2 || die "--bin needs a value" ;;
    --dry-run) dry=1; shift ;;
    --) shift; break ;;
    *) die "unknown option '$1' (the study's own options go after --)" ;;
  esac
done
[[ "$tasks" =~ ^[1-9][0-9]*$ ]] || die "--tasks '$tasks': expected a whole number >= 1"
[ "$tasks" -le 10000 ] || die "--tasks $tasks: more array tasks than a grid has configurations to share"
[ -n "$out" ] || die "--out is required (a folder every node can reach)"
for a in "$@"; do
  case "$a" in
    --shard|--shard=*|--out|--out=*|--resume|--devices|--devices=*)
      die "'$a' is set by this script (one shard per task, OUT/shard-K, --resume); leave it out" ;;
  esac
done
if [ -z "$bin" ]; then bin="$(command -v sedenergy)" || die "no sedenergy on PATH: give --bin"; fi
[ -x "$bin" ] || die "--bin '$bin' is not an executable"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
mkdir -p "$out/slurm" "$out/logs" || die "cannot create $out"
out="$(cd "$out" && pwd)"
study_args=$(printf '%q ' "$@")
q() { printf '%q' "$1"; }

cat > "$out/slurm/shard.sbatch" <<SH
#!/usr/bin/env bash
#SBATCH --job-name=sedenergy-shard
#SBATCH --array=1-$tasks
#SBATCH --requeue
#SBATCH --output=$out/logs/shard-%a.log
#SBATCH --open-mode=append
# One shard of the grid per array task; --resume continues it after a requeue.
set -euo pipefail
K=\${SLURM_ARRAY_TASK_ID:?not an array task}
N=\${SLURM_ARRAY_TASK_COUNT:?not an array task}
echo "== task \$K of \$N on \$(hostname), restart \${SLURM_RESTART_COUNT:-0}"
exec $(q "$bin") study $study_args--shard "\$K/\$N" --out $(q "$out")/shard-"\$K" --resume
SH

cat > "$out/slurm/merge.sbatch" <<SH
#!/usr/bin/env bash
#SBATCH --job-name=sedenergy-merge
#SBATCH --output=$out/logs/merge.log
# After every shard succeeded: one database and its report.
set -euo pipefail
shards=()
for k in \$(seq 1 $tasks); do shards+=($(q "$out")/shard-\$k/results.db); done
$(q "$bin") merge $(q "$out")/results.db "\${shards[@]}"
$(q "$bin") report $(q "$out")/results.db -o $(q "$out")/report
SH

if [ "$dry" = 1 ]; then
  echo "wrote $out/slurm/shard.sbatch and $out/slurm/merge.sbatch (not submitted)"
  exit 0
fi
# shellcheck disable=SC2086  # --sbatch holds several options
array=$(sbatch --parsable $extra "$out/slurm/shard.sbatch") || die "sbatch of the shard array failed"
array=${array%%;*}
# On each task, not on the array as a whole: Slurm judges a whole-array dependency by the worst exit of any
# attempt, so a task cancelled and requeued would leave the merge waiting for ever.
# shellcheck disable=SC2086
merge=$(sbatch --parsable $extra --dependency="$(task_dependency "$array" "$tasks")" --kill-on-invalid-dep=no \
  "$out/slurm/merge.sbatch") \
  || die "sbatch of the merge job failed (the array $array is queued: scancel $array)"
merge=${merge%%;*}
printf 'ARRAY=%s\nMERGE=%s\nTASKS=%s\n' "$array" "$merge" "$tasks" > "$out/slurm/jobs.env"
echo "array $array ($tasks tasks), merge $merge (after the array succeeds)"
echo "results: $out/results.db, report: $out/report/ (logs: $out/logs/)"
