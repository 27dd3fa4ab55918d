#!/usr/bin/env bash
# Attribution on a shared GPU (issue: where users run), on a GPU node:
#   alone:    `measure` of a program using GPU 0, CUDA_VISIBLE_DEVICES unset: its GPU found by process, no flag;
#   shared:   the same while another process (not measure's child) keeps GPU 0 busy: the record flags it;
#   gpus0:    the same sharing with --gpus 0 (GPUs chosen, sharing still checked);
#   python:   the Python meter's window on CUDA device 0 beside the other process.
# Usage: scripts/gpu-sharing-check.sh OUTDIR   (SECONDS_RUN: the measured program's seconds, default 20)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR}"
scripts/gpu-prepare.sh "$OUT" sharing-check || exit 1
unset CUDA_VISIBLE_DEVICES SLURM_STEP_GPUS SLURM_JOB_GPUS
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/python" SEDENERGY_LIBRARY="$PWD/build-cuda/libsedenergy.so.0"
S=${SECONDS_RUN:-20}
BIN=build-cuda/sedenergy
PROGRAM="python3 scripts/gpu_load.py --seconds $S"
other_start() {  # the other user's job: a load that outlasts the measured program
  python3 scripts/gpu_load.py --seconds $((S + 30)) > "$OUT/other-$1.log" 2>&1 &
  OTHER=$!
  until grep -q ready "$OUT/other-$1.log" 2>/dev/null; do sleep 0.5; done
}
other_stop() { kill "$OTHER" 2>/dev/null; wait "$OTHER" 2>/dev/null; }

echo "== alone"
$BIN measure --out "$OUT/alone" -- $PROGRAM > "$OUT/alone.log" 2>&1; echo "exit $?"
echo "== shared"
other_start shared
$BIN measure --out "$OUT/shared" -- $PROGRAM > "$OUT/shared.log" 2>&1; echo "exit $?"
other_stop
echo "== gpus0 (shared, GPUs chosen)"
other_start gpus0
$BIN measure --out "$OUT/gpus0" --gpus 0 -- $PROGRAM > "$OUT/gpus0.log" 2>&1; echo "exit $?"
other_stop
echo "== python meter (shared)"
other_start python
python3 - "$S" > "$OUT/python.json" 2> "$OUT/python.err" <<'PY'
import json, sys, time, torch, sedenergy
meter = sedenergy.Meter(cuda_devices=[0])
x = torch.randn(8192, 8192, device="cuda:0")
with meter.window("train"):
    t0 = time.time()
    while time.time() - t0 < float(sys.argv[1]) / 2:
        y = x @ x
r = meter.records[-1]
json.dump({"gpu_selection": r.gpu_selection, "gpu_sharing": r.gpu_sharing, "flags": r.flags,
           "gpu_energy_j": r.gpu_energy_j, "duration_s": r.duration_s}, sys.stdout, indent=1)
PY
echo "exit $?"
other_stop
python3 - "$OUT" > "$OUT/summary.json" <<'PY'
import glob, json, os, sys
out = {}
for case in ("alone", "shared", "gpus0"):
    rec = json.load(open(glob.glob(os.path.join(sys.argv[1], case, "sedenergy-measure-*.json"))[0]))
    w = rec["window"]
    out[case] = {"duration_s": w["duration_s"], "gpu_selection": w.get("gpu_selection"),
                 "gpus": [d["device"] for d in w["domains"] if d["domain"] == "gpu"],
                 "gpu_energy_j": sum(d["energy_j"] for d in w["domains"] if d["domain"] == "gpu"),
                 "gpu_utilization_pct": w.get("gpu_utilization_pct"), "gpu_sharing": w.get("gpu_sharing", {}),
                 "flags": w["flags"]}
out["python"] = json.load(open(os.path.join(sys.argv[1], "python.json")))
print(json.dumps(out, indent=1))
PY
cat "$OUT/summary.json"
# What comes back from a node is a few files: the records and CSVs in one bundle.
tar czf "$OUT/sharing-files.tgz" -C "$OUT" alone shared gpus0 && rm -rf "$OUT/alone" "$OUT/shared" "$OUT/gpus0"
