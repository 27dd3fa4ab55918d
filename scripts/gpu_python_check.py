"""Reads what scripts/gpu-python-check.sh produced and states the checks with their numbers.
Usage: python3 scripts/gpu_python_check.py WORKDIR OUT.json [PARTS, e.g. ,lightning,tracker,]"""
import glob
import json
import sys

work, out_path = sys.argv[1], sys.argv[2]
parts = sys.argv[3] if len(sys.argv) > 3 else ",lightning,tracker,"
result = {"checks": []}


def check(name, ok, **numbers):
    result["checks"].append(dict(numbers, check=name, ok=bool(ok)))
    print(("PASS " if ok else "FAIL ") + name + ": " + ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in numbers.items()))


def lines_json(path):
    with open(path) as f:
        return json.loads([line for line in f if line.startswith("{")][-1])


def lightning():
    phases = lines_json(f"{work}/lightning.json")
    nvml = json.load(open(f"{work}/lightning_nvml.json"))
    for phase in ("fit", "test"):
        rec = phases[phase][-1]
        ref = nvml[f"{phase}_end"][-1] - nvml[f"{phase}_start"][-1]
        err = 100.0 * (rec["gpu_energy_j"] / ref - 1.0)
        check(f"lightning {phase}: callback GPU energy vs in-process NVML counter (target within 1 % on >= 5 s)",
              abs(err) <= 1.0 and rec["duration_s"] >= 5, callback_j=rec["gpu_energy_j"], nvml_j=ref,
              error_pct=err, duration_s=rec["duration_s"], method=[d["method"] for d in rec["domains"]])
    measured = json.load(open(glob.glob(f"{work}/measure/sedenergy-measure-*.json")[0]))["window"]
    phase_sum = sum(phases[p][-1]["energy_j"] for p in ("fit", "test"))
    check("lightning: fit + test <= whole-process measure (all domains)", phase_sum <= measured["total_energy_j"],
          phases_j=phase_sum, measure_j=measured["total_energy_j"], measure_s=measured["duration_s"],
          share_pct=100.0 * phase_sum / measured["total_energy_j"])
    result["lightning_records"] = {p: [{k: r[k] for k in ("duration_s", "energy_j", "gpu_energy_j", "cpu_energy_j",
                                                          "ram_energy_j", "flags")} for r in rs]
                                   for p, rs in phases.items()}


def tracker():
    tracker = json.load(open(f"{work}/tracker_nvml.json"))
    for phase, t in tracker.items():
        err = 100.0 * (t["tracker_gpu_j"] / t["nvml_j"] - 1.0)
        check(f"tracker {phase}: OfflineEmissionsTracker GPU energy vs in-process NVML counter (target within 1 %)",
              abs(err) <= 1.0, tracker_j=t["tracker_gpu_j"], nvml_j=t["nvml_j"], error_pct=err,
              duration_s=t["duration_s"])


for name, run in (("lightning", lightning), ("tracker", tracker)):
    if f",{name}," not in parts:
        continue
    try:
        run()
    except Exception as e:  # a missing file is a failed check, said as such
        check(f"{name} run", False, error=repr(e))

with open(out_path, "w") as f:
    json.dump(result, f, indent=1)
