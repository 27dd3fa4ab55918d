# Sourced by scripts/gpu-pinned-study.sh and scripts/gpu-pinned-bench.sh (run from the checkout's root).
# gpu_model: the node's GPU model, lower case (h100, h200), from nvidia-smi; each model has its own pack.
gpu_model() {
  nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -oE '[HABLV][0-9]{2,3}' | head -1 \
    | tr '[:upper:]' '[:lower:]'
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
