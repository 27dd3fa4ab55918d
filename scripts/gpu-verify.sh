#!/usr/bin/env bash
# Verifies the energy instrument and the training loop on a GPU node; builds first when build-cuda is
# missing (a fresh node). Parts (a comma-separated list; default sensors,meter,measure):
#   sensors   `sedenergy sensors --probe 3`: every sensor and the counter's update period
#   meter     meter_check: per-call costs, counter vs power integral over constant-load windows of 1/5/30 s
#   measure   `sedenergy measure -- python3 bench/train_probe.py` against the counter read inside that script
#   overhead  meter_check overhead: training-loop step time with the 10 Hz sampler vs without
#   steps     bench/train_step_vs_pytorch.sh: the C++ training step against PyTorch eager, every paper43 config
#   mlp-nan   mlp:32x4096 (NaN in the reference run) trained on the study's data with each Adam implementation
#   adam      adam_agreement: the three Adam implementations step by step on identical models and batches
#   unit      the LibTorch unit tests (build-cuda/tests/torch_tests), CUDA cases included
# Usage: scripts/gpu-verify.sh OUTDIR [parts]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [parts]}"
PARTS=",${2:-sensors,meter,measure},"
B=build-cuda
mkdir -p "$OUT"
[ -x $B/sedenergy ] || scripts/gpu-build.sh > "$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; exit 1; }
want() { [[ "$PARTS" == *",$1,"* ]]; }
scripts/gpu-machine.sh "parts${PARTS%,}" >> "$OUT/machine.txt" 2>&1
if want sensors; then
  echo "== sensors"; $B/sedenergy sensors --probe 3 > "$OUT/sensors.txt" 2>&1; cat "$OUT/sensors.txt"
fi
if want meter; then
  echo "== meter_check"; $B/meter_check "$OUT/meter_check.json" > "$OUT/meter_check.log" 2>&1; tail -3 "$OUT/meter_check.log"
fi
if want overhead; then
  echo "== sampler overhead"
  $B/meter_check "$OUT/sampler_overhead.json" overhead > "$OUT/sampler_overhead.log" 2>&1
  python3 - "$OUT/sampler_overhead.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["sampler_overhead"]:
    print(r["model"], "| pinned:", r["pinned"], "| noise floor %.2f %%" % r["noise_floor_pct_median_abs"])
    for k, v in r["paired_slowdown"].items():
        print("   %-32s %+.2f %% [%+.2f, %+.2f]" % (k, v["median_pct"], v["ci95_lo_pct"], v["ci95_hi_pct"]))
PY
fi
if want measure; then
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
fi
if want mlp-nan; then
  # The study's data and features (1578 generated clips), one repetition of windows >= 5 s per optimizer.
  echo "== mlp:32x4096 with each Adam implementation"
  d="$OUT/mlp-nan"
  rm -rf "$d"
  for opt in fused foreach libtorch; do
    data=(); [ -d "$d/fused/data/synth-1578-seed1" ] && data=(--data "$d/fused/data/synth-1578-seed1")
    $B/sedenergy study --config paper43 --grid mlp:32x4096 --repetitions 1 --idle 0 --cooldown 0 \
      --optimizer $opt "${data[@]}" --out "$d/$opt" > "$d-$opt.log" 2>&1
    echo "-- $opt (exit $?)"; grep -E 'train |failed|NaN|nan' "$d-$opt.log" | head -5
  done
  rm -rf "$d"/*/data "$d"/*/cache
fi
if want unit; then
  echo "== LibTorch unit tests on the GPU"; $B/tests/torch_tests 2>&1 | tail -3 | tee "$OUT/torch_tests.txt"
fi
if want adam; then
  echo "== Adam implementations on identical models"; $B/adam_agreement | tee "$OUT/adam_agreement.jsonl"
fi
if want steps; then
  echo "== training step: C++ vs PyTorch eager"; bench/train_step_vs_pytorch.sh "$OUT/steps" $B | tail -25
fi
echo "== done $(date -u +%FT%TZ)"
