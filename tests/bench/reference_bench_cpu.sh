#!/usr/bin/env bash
# The reference bench of issue 33 item 1 (bench/train_step_vs_pytorch.sh) end to end on the CPU: sedenergy's
# Python loop (pytorch-default) and C++ loop (libtorch-default) against the plain PyTorch loop with a
# DataLoader, two counterbalanced passes, BLOCKS timed blocks. Asserts what the GPU run relies on: each side
# trains the same model (the parameter counts of the study's modules, the C++ modules and the accounting
# agree), every configuration has its blocks on both sides, the summaries run, and bad options are refused
# by name. No energy counter here: the energy summary says so and exits 1.
# Usage: tests/bench/reference_bench_cpu.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
PY=/usr/bin/python3; [ -x $PY ] || PY=python3   # Debian's interpreter, with its PyTorch
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
GRID=mlp:1x16,cnn:1x4,rnn:1x16,crnn:1x1:2x4
cd "$SRC"
rc=0
DEVICE=cpu PYTHON=$PY ROUNDS=2 BLOCKS=3 BLOCK_S=0.01 CLIPS=16 GRID=$GRID IMPLS="pytorch-default libtorch-default" \
  PYTORCH_ARGS=--dataloader bench/train_step_vs_pytorch.sh "$T/out" "$BUILD" > "$T/log" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/log"; echo "FAIL: the bench exited $rc, expected 1 (no energy counter)"; exit 1; }
grep -q "no block carries energy on both sides" "$T/log" || { cat "$T/log"; echo "FAIL: no word of the counter"; exit 1; }
$PY - "$T/out" "$GRID" "$BUILD/sedenergy" <<'PYEOF'
import glob, json, os, subprocess, sys
out, grid, cli = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
files = sorted(glob.glob(os.path.join(out, "train_step_*_pass*.jsonl")))
assert len(files) == 8, files  # 2 sides x 2 implementations x 2 passes
params = {}
for f in files:
    rows = [json.loads(line) for line in open(f)]
    assert [r["config"] for r in rows] == grid, (f, rows)
    for r in rows:
        assert len(r["train_j_per_epoch_blocks"]) == 3 and len(r["test_j_per_epoch_blocks"]) == 3, (f, r)
        assert r["step_ms"] > 0 and r["test_step_ms"] > 0, (f, r)
        params.setdefault(r["config"], set()).add(r["params"])
    side = rows[0]["side"]
    if "_pytorch_" in os.path.basename(f):
        assert "DataLoader" in side, side
    elif "pytorch-default" in f:
        assert "Python loop" in side, side
    else:
        assert "C++" in side, side
for config in grid:
    counted = json.loads(subprocess.run([cli, "flops", config, "--json"], capture_output=True, text=True,
                                        check=True).stdout)
    accounting = counted[0]["params"]
    assert params[config] == {accounting}, (config, params[config], accounting)
summary = json.load(open(os.path.join(out, "train_step_summary.json")))
assert set(summary["implementations"]) == {"pytorch-default", "libtorch-default"}, summary.keys()
print("reference bench on the CPU: 8 files, same models on every side, summaries written")
PYEOF
for bad in "--blocks 0" "--blocks 2.5" "--clips x" "--block-seconds -1"; do
  set +e; msg=$("$BUILD/bench_train_step" --grid mlp:1x16 $bad 2>&1); code=$?; set -e
  [ "$code" = 2 ] && [[ "$msg" == *"${bad%% *}"* ]] || { echo "FAIL: bench_train_step $bad: exit $code, $msg"; exit 1; }
  set +e; msg=$($PY bench/pytorch_train_step.py --device cpu --configs mlp:1x16 $bad 2>&1); code=$?; set -e
  [ "$code" != 0 ] && [[ "$msg" == *"${bad%% *}"* ]] || { echo "FAIL: pytorch_train_step $bad: exit $code, $msg"; exit 1; }
done
echo "bad options refused by name on both sides"
