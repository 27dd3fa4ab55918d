#!/usr/bin/env bash
# One GPU call of the pinned tasks (scripts/pinned-tasks.txt): the first task this node's GPU model has not
# finished, resumed from its pack, and while time is left after one finishes, the next. So a call does useful
# work whichever GPU model it lands on, and no call is spent on a finished task.
#   here:  scripts/pin-commit.sh COMMIT (the tasks' commit; carry .at/COMMIT and .deps)
#   there: scripts/gpu-pinned-next.sh "$OUT" [call seconds]
#   here:  scripts/pinned-bring-back.sh FILES_AT (each pack into its folder, for the next call)
# OUT gets each pack the call made and packs.txt, a line 'FOLDER PACK' for each. TASKS names another task list.
# Exit: the last task's (0: it finished or ran; 124: cut by the call's limit, call again); 0 with nothing
# left for this GPU model.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BACK="$(realpath "${1:?usage: $0 OUT [call seconds]}")" CALL_S="${2:-600}"
TASKS="${TASKS:-scripts/pinned-tasks.txt}"
source scripts/gpu-pinned-common.sh
MODEL="$(gpu_model)" || exit 2
COMMIT="$(awk '$1 == "commit" { print $2 }' "$TASKS")"
[ -n "$COMMIT" ] || { echo "$TASKS: no 'commit COMMIT' line" >&2; exit 2; }

# task_folder FOLDER MODELS: the task's results folder if this GPU model runs it, else status 1. A folder
# with MODEL and DATE belongs to the model that started it (the folder found), else this model starts it today.
task_folder() {
  local found named
  if [ "$2" != any ]; then [[ ",$2," == *",$MODEL,"* ]] && echo "$1"; return; fi
  found="$(compgen -G "$(task_glob "$1")" | head -1)"
  [ -z "$found" ] || { [ "$(basename "$found" | cut -d- -f1)" = "$MODEL" ] && echo "$found"; return; }
  named="${1/MODEL/$MODEL}"; echo "${named/DATE/$(date -u +%F)}"
}
# finished FOLDER PACK: the task is done for this model: already made into its folder, its pack complete, or
# on a warm node its work folder (ahead of the pack when the last pack was not brought back before this call).
finished() {
  pack_done "$1/$MODEL" || pack_done "$1/$2" || pack_done "$(work_folder "${2%.tgz}")"
}

rc=0 ran=0
while read -r task config name folder models; do
  folder="$(task_folder "$folder" "$models")" || continue
  pack="$name-$COMMIT-$MODEL.tgz"
  finished "$folder" "$pack" && continue
  # After a task, under 150 s would go to the next one's build and start: the next call does it.
  left=$((CALL_S - SECONDS))
  [ "$ran" = 0 ] || [ "$left" -ge 150 ] || { echo "$left s left: $task $config waits for the next call"; break; }
  echo "== $task $config on the $MODEL into $folder ($left s left)"
  rc=0 ran=$((ran + 1))
  case "$task" in  # stdin: /dev/null, not the rest of the task list
    study) SWEEP="$name" scripts/gpu-pinned-study.sh "$config" "$COMMIT" "$folder" "$BACK" "$left" < /dev/null || rc=$? ;;
    bench) scripts/gpu-pinned-bench.sh "$COMMIT" "$folder" "$BACK" "$left" < /dev/null || rc=$? ;;
    *) echo "$TASKS: unknown task '$task'" >&2; exit 2 ;;
  esac
  [ ! -f "$BACK/$pack" ] || echo "$folder $pack" >> "$BACK/packs.txt"
  pack_done "$BACK/$pack" || break   # only a finished task leaves time for the next
done < <(task_lines "$TASKS")
[ "$ran" -gt 0 ] || echo "nothing left for the $MODEL in $TASKS"
exit "$rc"
