#!/usr/bin/env bash
# Verifies the energy instrument and the training loop on a GPU node (after scripts/gpu-build.sh):
#   sensors and the counter's update period; meter_check (per-call costs, counter vs power integral over
#   constant-load windows of 1/5/30 s, sampler overhead at 10 Hz); `sedenergy measure -- python3
#   bench/train_probe.py` against the counter read inside that script. (The training-step benchmark is
#   bench/train_step_vs_pytorch.sh.) Usage: scripts/gpu-verify.sh OUTDIR
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR}"
B=build-cuda
mkdir -p "$OUT"
{
  echo "== $(date -u +%FT%TZ) $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,pci.bus_id,power.limit,power.draw,temperature.gpu --format=csv
} > "$OUT/machine.txt" 2>&1
echo "== sensors"; $B/sedenergy sensors --probe 3 > "$OUT/sensors.txt" 2>&1; cat "$OUT/sensors.txt"
echo "== meter_check"; $B/meter_check "$OUT/meter_check.json" > "$OUT/meter_check.log" 2>&1; tail -3 "$OUT/meter_check.log"
echo "== measure vs in-script counter"
rm -rf "$OUT/measure"
$B/sedenergy measure --out "$OUT/measure" --idle 0 -- python3 bench/train_probe.py 20 > "$OUT/measure.log" 2>&1
python3 - "$OUT" <<'PY' | tee "$OUT/measure_vs_script.json"
import glob, json, sys
out = sys.argv[1]
rec = json.load(open(glob.glob(f"{out}/measure/sedenergy-measure-*.json")[0]))
w = rec["window"]
gpu = [d for d in w["domains"] if d["domain"] == "gpu"][0]
script = [json.loads(l) for l in open(f"{out}/measure.log") if l.startswith("{")][-1]
gap_s = w["duration_s"] - script["covered_s"]
print(json.dumps({"measure_gpu_j": gpu["energy_j"], "measure_method": gpu["method"], "measure_s": w["duration_s"],
                  "in_script_gpu_j": script["in_script_gpu_j"], "in_script_s": script["covered_s"],
                  "difference_j": gpu["energy_j"] - script["in_script_gpu_j"],
                  "difference_pct": 100 * (gpu["energy_j"] / script["in_script_gpu_j"] - 1),
                  "seconds_outside_the_script_readings": gap_s,
                  "counter_uncertainty_j": gpu.get("uncertainty_j")}, indent=1))
PY
echo "== done $(date -u +%FT%TZ)"
