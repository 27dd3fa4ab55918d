#!/usr/bin/env bash
# The Python package on a GPU node (issue: measure the user's own PyTorch training from Python):
#   1. a real PyTorch Lightning run (small CRNN, generated DESED data) with EnergyCallback, against the same
#      process's own NVML counter readings at the same hooks, and against `sedenergy measure` of the command;
#   2. the DCASE-style tracker script against its in-process counter;
#   3. the meter's overhead on a training loop (paired rounds);
#   4. the Python tests on the node (CUDA present, Lightning installed).
# Builds first when build-cuda is missing; installs into a fresh prefix and uses the package from it.
# Usage: [PARTS=lightning,tracker,overhead,tests] scripts/gpu-python-check.sh OUTDIR   (default: all four)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR}"
scripts/gpu-prepare.sh "$OUT" python-check || exit 1
# shellcheck source=gpu-python-env.sh
source scripts/gpu-python-env.sh
readelf -d "$PREFIX/bin/sedenergy" | grep -i path >> "$OUT/install.log"
W=/tmp/pycheck && rm -rf $W && mkdir -p $W
sedenergy synth --out $W/data --clips ${CLIPS:-1024} > /dev/null && \
  sedenergy features --data $W/data --export npy --out $W/feats > /dev/null || exit 1
ARGS="--features $W/feats --tsv $W/data/metadata/train/weak.tsv"
PARTS=",${PARTS:-lightning,tracker,overhead,tests},"
want() { [[ "$PARTS" == *",$1,"* ]]; }
if want lightning; then
echo "== lightning: callback vs in-process NVML counter, and vs measure"
sedenergy measure --out $W/measure -- python3 examples/python/train_lightning.py $ARGS --out $W/lightning \
  --epochs ${EPOCHS:-12} --test-repeats ${TEST_REPEATS:-40} --check-nvml $W/lightning_nvml.json > $W/lightning.json 2> $W/lightning.err
echo "exit $?"; tail -3 $W/lightning.err
fi
if want tracker; then
echo "== tracker: OfflineEmissionsTracker vs in-process NVML counter"
python3 examples/python/train_dcase_tracker.py $ARGS --out $W/tracker --epochs ${EPOCHS:-12} --test-passes ${TEST_PASSES:-30} \
  --check-nvml $W/tracker_nvml.json \
  > $W/tracker.json 2> $W/tracker.err; echo "exit $?"; tail -3 $W/tracker.err
fi
python3 scripts/gpu_python_check.py $W "$OUT/python_check.json" "$PARTS"
if want overhead; then
  echo "== overhead"
  python3 bench/python_meter_overhead.py "$OUT/python_meter_overhead.json" --rounds ${ROUNDS:-40}
fi
if want tests; then
  echo "== python tests"
  SEDENERGY_BIN="$PREFIX/bin/sedenergy" python3 -m pytest -q tests/python > "$OUT/pytest.log" 2>&1; tail -5 "$OUT/pytest.log"
fi
# The rest in one bundle (what comes back from a node is a few files): CSVs, the records, logs, the report's summary.
[ -f $W/lightning/energy.db ] && sedenergy report $W/lightning/energy.db -o $W/report > /dev/null
mkdir -p $W/bundle && cp $W/lightning/emissions_*.csv $W/tracker/emissions_*.csv $W/lightning/energy.db \
  $W/report/summary.md $W/*.err $W/lightning_nvml.json $W/tracker_nvml.json $W/measure/*.json $W/bundle/ 2>/dev/null
tar czf "$OUT/python-check-files.tgz" -C $W bundle
