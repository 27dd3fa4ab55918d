# Sourced by scripts/gpu-pinned-study.sh, scripts/gpu-pinned-bench.sh and scripts/pinned-study-finish.sh.
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
# enter_pinned COMMIT: into .at/COMMIT (scripts/pin-commit.sh, carried), linked to the checkout's .deps and to
# a build kept in /tmp/build-COMMIT (a carried path is replaced on each call, and a build inside it with it),
# with the revision its build records and the one GPU its runs use.
enter_pinned() {
  local root="$PWD"
  [ -d ".at/$1" ] || { echo "no .at/$1: run scripts/pin-commit.sh $1 here and carry it" >&2; return 2; }
  mkdir -p "/tmp/build-$1" && cd ".at/$1" || return 2
  ln -sfn "$root/.deps" .deps && ln -sfn "/tmp/build-$1" build-cuda
  export SEDENERGY_GIT_REVISION="$1" CUDA_VISIBLE_DEVICES=0
}
