#!/usr/bin/env bash
# Here, after each GPU call of scripts/gpu-pinned-next.sh: every pack the call brought back (FILES_AT: the
# call's files, packs.txt naming each one's folder) copied into its results folder, so the next call resumes
# it (the folder travels with the tree) and a lost checkout loses no run once it is committed. Says where each
# pack stands; a complete one is then ended by scripts/pinned-finish.sh FOLDER.
# Without FILES_AT (or after it): where every task of the list stands, its packs and its finished folders.
# Usage: scripts/pinned-bring-back.sh [FILES_AT]     (TASKS names another task list)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
AT="${1:-}" TASKS="${TASKS:-scripts/pinned-tasks.txt}"
source scripts/gpu-pinned-common.sh

# bring_back: each pack named in FILES_AT/packs.txt into its folder, and its state.
bring_back() {
  local rc=0 folder pack state
  [ -f "$AT/packs.txt" ] || { echo "$AT/packs.txt: no packs came back" >&2; return 1; }
  while read -r folder pack; do
    [ -f "$AT/$pack" ] || { echo "$AT/$pack: named in packs.txt but not there" >&2; rc=1; continue; }
    mkdir -p "$folder" && cp "$AT/$pack" "$folder/" || { rc=1; continue; }
    state="$(pack_state "$folder/$pack")" && state="complete ($state): scripts/pinned-finish.sh $folder"
    echo "$folder/$pack: $state"
  done < "$AT/packs.txt"
  return "$rc"
}

# task_states: each task of the list, per folder it became: the GPU models finished there, then its packs.
task_states() {
  local task config name folder models found f m p
  while read -r task config name folder models; do
    found="$(compgen -G "$(task_glob "$folder")")" || { echo "$task $config: not started ($folder, $models)"; continue; }
    for f in $found; do
      for m in "$f"/*/; do ! pack_done "${m%/}" || echo "$task $config: ${m%/} finished"; done
      for p in "$f/$name"-*.tgz; do [ ! -f "$p" ] || echo "$task $config: $p: $(pack_state "$p")"; done
    done
    [ "$models" = any ] || for m in ${models//,/ }; do
      compgen -G "$folder/$name-*-$m.tgz" > /dev/null || [ -d "$folder/$m" ] || echo "$task $config: not started on the $m"
    done
  done < <(task_lines "$TASKS")
}

rc=0
[ -z "$AT" ] || bring_back || rc=1
echo "-- the tasks of $TASKS:"
task_states
exit "$rc"
