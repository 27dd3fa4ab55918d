# Sourced by the pinned calls (scripts/gpu-pinned-next.sh, gpu-pinned-study.sh, gpu-pinned-bench.sh) and the
# steps here that take their packs (scripts/pinned-bring-back.sh, pinned-finish.sh).
# gpu_model: the node's GPU model, lower case (h100, h200), from nvidia-smi; each model has its own pack.
# Status 2, said, where nvidia-smi names none.
gpu_model() {
  local model
  model="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -oE '[HABLV][0-9]{2,3}' | head -1 \
    | tr '[:upper:]' '[:lower:]')"
  [ -n "$model" ] || { echo "no GPU model from nvidia-smi" >&2; return 2; }
  echo "$model"
}
# run_counts DB: a study store's runs by status ("63 ok, 2 interrupted"), or why it cannot be read.
run_counts() {
  python3 -c 'import sqlite3, sys; print(", ".join(f"{n} {s}" for s, n in sqlite3.connect(sys.argv[1])
    .execute("select status, count(*) from runs group by status")))' "$1" 2>&1
}
# A pinned task's state lives in its pack, NAME-COMMIT-MODEL.tgz, on the node that ran it last in its work
# folder (work_folder NAME-COMMIT-MODEL) too, and once finished in FOLDER/MODEL (scripts/pinned-finish.sh, which
# keeps study.log or bench-summary.log): the functions below read any of them (STATE: a pack or a folder).
work_folder() {
  echo "/tmp/$1"
}
# state_has STATE FILE, state_file STATE FILE: whether it holds FILE, and FILE's text.
state_has() {
  # grep -c reads to the end: with pipefail, grep -q's early exit would fail the pipeline by tar's SIGPIPE.
  if [ -d "$1" ]; then [ -e "$1/$2" ]; else [ "$(tar tzf "$1" 2>/dev/null | grep -cxF "./$2")" != 0 ]; fi
}
state_file() {
  if [ -d "$1" ]; then cat "$1/$2" 2>/dev/null; else tar xzf "$1" -O "./$2" 2>/dev/null; fi
}
# last_call STATE: the line a pinned study ends its last call with ('== DATE exit RC'), or nothing.
last_call() {
  state_file "$1" study.log | grep -E '^== .* exit [0-9]+$' | tail -1
}
# pack_done STATE: whether a pinned task is complete: a study whose last call exited 0, or a bench with its
# summary (bench-summary.log, made once every pass is there).
pack_done() {
  local last
  state_has "$1" bench-summary.log && return 0
  last="$(last_call "$1")"
  [ -n "$last" ] && [ "${last##* exit }" = 0 ]
}
# pack_state STATE: where a pinned task stands, in words (a study's last call and runs, a bench's passes);
# status 0 when it is complete (pack_done).
pack_state() {
  local dir last
  last="$(last_call "$1")"
  if [ -n "$last" ]; then
    dir="$(mktemp -d)"
    state_file "$1" study/results.db > "$dir/results.db"
    echo "last call: $last; runs so far: $(run_counts "$dir/results.db")"
    rm -rf "$dir"
  else
    echo "passes so far: $(state_file "$1" passes.txt | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }')"
  fi
  pack_done "$1"
}
# task_lines TASKS: the task lines of a task list (scripts/pinned-tasks.txt), without comments and its commit.
task_lines() {
  grep -vE '^(#|commit |[[:space:]]*$)' "$1"
}
# task_glob FOLDER: the folders a task's FOLDER may have become (MODEL and DATE filled in when it starts).
task_glob() {
  local glob="${1/MODEL/*}"
  echo "${glob/DATE/*}"
}
# enter_pinned COMMIT: into .at/COMMIT (scripts/pin-commit.sh, carried), linked to the checkout's .deps and to
# a build kept in /tmp/build-COMMIT (a carried path is replaced on each call, and a build inside it with it),
# with the revision its build records and the one GPU its runs use.
enter_pinned() {
  local root="$PWD"
  [ -d ".at/$1" ] || { echo "no .at/$1: run scripts/pin-commit.sh $1 here and carry it" >&2; return 2; }
  cd ".at/$1" && keep_build_if_same "/tmp/build-$1" || return 2
  ln -sfn "$root/.deps" .deps && ln -sfn "/tmp/build-$1" build-cuda
  export SEDENERGY_GIT_REVISION="$1" CUDA_VISIBLE_DEVICES=0
}
# keep_build_if_same BUILD, in a pinned tree: a warm node's next call finds the tree copied anew, every file
# newer than the build's outputs, so ninja would compile all of it again (72-82 s of a call on an H100,
# 2026-12-07). The sources are dated back to one fixed time instead, and BUILD is kept while the tree's
# contents and place are those it was built from (a checksum in BUILD); else it is emptied and built afresh.
keep_build_if_same() {
  local files sum
  files=(find . -path ./.deps -prune -o -path ./build-cuda -prune -o -type f)
  sum="$({ echo "$PWD"; "${files[@]}" -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$1/.sources.sha256" 2>/dev/null)" != "$sum" ]; then
    rm -rf "$1" && mkdir -p "$1" && echo "$sum" > "$1/.sources.sha256" || return 2
  fi
  "${files[@]}" -exec touch -d @946684800 {} +
}
