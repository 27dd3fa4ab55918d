#!/usr/bin/env bash
# Issue 32 on a GPU node: two torchrun ranks (gloo; on one GPU when the machine has one, each on its own when it
# has two or more) measured by the tracker, the job's row against each rank's in-process NVML counter, the NVML
# process list read by each rank (no rank holds a context on a GPU it does not use), and the whole job measured
# from outside by `sedenergy measure` beside the ranks' sum from inside; then the distributed tests
# (Lightning's own DDP launcher, strategy="ddp", among them).
# Usage: scripts/gpu-ddp-check.sh OUTDIR      (SECONDS_EACH: the window's length, 20 s by default)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR}"
scripts/gpu-prepare.sh "$OUT" ddp-check || exit 1
# shellcheck source=gpu-python-env.sh
source scripts/gpu-python-env.sh
W=/tmp/ddpcheck && rm -rf $W && mkdir -p $W/job
echo "== torchrun, 2 ranks, gloo: tracker vs each rank's NVML counter; the whole job measured from outside too"
sedenergy measure --out $W/outside --gpus 0 --project-name ddp-outside -- python3 -m torch.distributed.run \
  --standalone --nproc_per_node 2 scripts/gpu_ddp_check.py $W/job "${SECONDS_EACH:-20}" > $W/torchrun.log 2>&1
echo "exit $?"; tail -3 $W/torchrun.log
python3 scripts/gpu_ddp_check_summary.py $W/job "$OUT/ddp_check.json" $W/outside/emissions.csv
echo "== python tests (distributed)"
SEDENERGY_BIN="$PREFIX/bin/sedenergy" timeout "${PYTEST_LIMIT_S:-240}" python3 -m pytest -q -rs tests/python/test_distributed.py > "$OUT/pytest.log" 2>&1
tail -6 "$OUT/pytest.log"
cp $W/torchrun.log "$OUT/" && tar czf "$OUT/ddp-check-files.tgz" -C $W job outside
