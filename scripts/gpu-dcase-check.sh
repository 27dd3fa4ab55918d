#!/usr/bin/env bash
# Issue 31 on a GPU node: the DCASE 2024 baseline's use of CodeCarbon, replicated with only the import changed
# (examples/python/dcase_baseline_replica.py), under a plain loop and under PyTorch Lightning, each phase's
# tracker energy against the same process's NVML counter read at the same hooks; then the Python tests on the
# node (complexity against PyTorch's FlopCounterMode on CUDA, the tracker, the replica under Lightning).
# Usage: scripts/gpu-dcase-check.sh OUTDIR      (EPOCHS, TEST_PASSES, CLIPS: the windows' length, by default
# chosen for at least 5 s on an H100, where 40 test passes gave 3.1 and 4.4 s; not yet run at 80; MODES: plain
# and/or lightning; PYTEST_FILES, PYTEST_LIMIT_S: the tests run after, and their time limit)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR}"
scripts/gpu-prepare.sh "$OUT" dcase-check || exit 1
# shellcheck source=gpu-python-env.sh
source scripts/gpu-python-env.sh
W=/tmp/dcasecheck && rm -rf $W && mkdir -p $W
sedenergy synth --out $W/data --clips ${CLIPS:-1024} > /dev/null && \
  sedenergy features --data $W/data --export npy --out $W/feats > /dev/null || exit 1
ARGS="--features $W/feats --tsv $W/data/metadata/train/weak.tsv --epochs ${EPOCHS:-16} --test-passes ${TEST_PASSES:-80}"
MODES=${MODES:-plain lightning}
for mode in $MODES; do
  echo "== replica ($mode): tracker vs in-process NVML counter"
  flag=$([ $mode = lightning ] && echo --lightning)
  python3 examples/python/dcase_baseline_replica.py $ARGS $flag --out $W/$mode --check-nvml $W/$mode-nvml.json \
    > $W/$mode.json 2> $W/$mode.err
  echo "exit $?"; tail -2 $W/$mode.err
  cp $W/$mode-nvml.json $W/$mode.json "$OUT/" 2>/dev/null  # each mode's figures kept as soon as it ends
done
MODES="$MODES" python3 - "$W" "$OUT/dcase_check.json" <<'PY'
import json, os, sys
work, out = sys.argv[1], sys.argv[2]
checks = []
for mode in os.environ.get("MODES", "plain lightning").split():
    for phase, rec in json.load(open(f"{work}/{mode}-nvml.json")).items():
        err = 100.0 * (rec["tracker_gpu_j"] / rec["nvml_j"] - 1.0)
        ok = abs(err) <= 1.0 and rec["duration_s"] >= 5
        checks.append(dict(rec, mode=mode, phase=phase, error_pct=err, ok=ok))
        print(("PASS" if ok else "FAIL"), mode, phase, f"tracker {rec['tracker_gpu_j']:.1f} J, NVML {rec['nvml_j']:.1f} J,",
              f"{err:+.3f} %, {rec['duration_s']:.1f} s")
    print(mode, "kWh files:", json.loads(open(f"{work}/{mode}.json").read().strip().splitlines()[-1]))
json.dump({"checks": checks}, open(out, "w"), indent=1)
PY
echo "== python tests"
SEDENERGY_BIN="$PREFIX/bin/sedenergy" timeout "${PYTEST_LIMIT_S:-240}" python3 -m pytest -q -rs \
  ${PYTEST_FILES:-tests/python/test_complexity.py tests/python/test_tracker.py tests/python/test_examples.py} \
  > "$OUT/pytest.log" 2>&1; tail -8 "$OUT/pytest.log"
mkdir -p $W/bundle && for mode in $MODES; do cp -r $W/$mode $W/bundle/; cp $W/$mode*.json $W/$mode.err $W/bundle/; done
tar czf "$OUT/dcase-check-files.tgz" -C $W bundle
