#!/usr/bin/env bash
# Here, after each GPU call of scripts/gpu-pinned-next.sh: every pack the call brought back (FILES_AT: the
# call's files, packs.txt naming each one's folder) copied into its results folder, so the next call resumes
# it (the folder travels with the tree) and a lost checkout loses no run once it is committed. Says where each
# task stands; a complete one is then ended by scripts/pinned-finish.sh FOLDER.
# Usage: scripts/pinned-bring-back.sh FILES_AT
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
AT="${1:?usage: $0 FILES_AT}"
[ -f "$AT/packs.txt" ] || { echo "$AT/packs.txt: no packs came back" >&2; exit 1; }
source scripts/gpu-pinned-common.sh
rc=0
while read -r folder pack; do
  [ -f "$AT/$pack" ] || { echo "$AT/$pack: named in packs.txt but not there" >&2; rc=1; continue; }
  mkdir -p "$folder" && cp "$AT/$pack" "$folder/" || { rc=1; continue; }
  state="$(pack_state "$folder/$pack")" && state="complete ($state): scripts/pinned-finish.sh $folder"
  echo "$folder/$pack: $state"
done < "$AT/packs.txt"
exit "$rc"
