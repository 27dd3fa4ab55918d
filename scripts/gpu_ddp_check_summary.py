"""The verdicts of scripts/gpu-ddp-check.sh from its ranks' files: the job row's GPU energy against the ranks'
in-process NVML counters (once per GPU: ranks sharing one GPU each read all of it), each rank's tracker against
its own counter, the GPUs each rank's process held a context on; and the whole job as `sedenergy measure` saw it
from outside, beside the ranks' sum from inside. Usage: gpu_ddp_check_summary.py JOBDIR OUT.json OUTSIDE.csv"""
import glob
import json
import sys

import pandas as pd

job_dir, out, outside_csv = sys.argv[1], sys.argv[2], sys.argv[3]
ranks = sorted((json.load(open(p)) for p in glob.glob(f"{job_dir}/nvml-rank*.json")), key=lambda r: r["rank"])
job_row = pd.read_csv(f"{job_dir}/emissions.csv").iloc[-1]
record = json.load(open(sorted(glob.glob(f"{job_dir}/sedenergy-job-*.json"))[-1]))
by_gpu = {}
for r in ranks:  # the GPU's counter as the rank with the longest window read it (what the job counts)
    best = by_gpu.get(r["nvml_index"])
    if best is None or r["duration_s"] > best["duration_s"]:
        by_gpu[r["nvml_index"]] = r
expected_j = sum(r["nvml_j"] for r in by_gpu.values())
job_gpu_j = job_row.gpu_energy * 3.6e6
checks = [{"check": "job row GPU energy vs in-process NVML counters, once per GPU", "job_gpu_j": job_gpu_j,
           "nvml_j": expected_j, "error_pct": 100 * (job_gpu_j / expected_j - 1), "duration_s": job_row.duration,
           "gpus": sorted(by_gpu), "ranks_per_gpu": {g: [r["rank"] for r in ranks if r["nvml_index"] == g]
                                                     for g in by_gpu}}]
checks[0]["ok"] = abs(checks[0]["error_pct"]) <= 1.0 and job_row.duration >= 5
for r in ranks:
    err = 100 * (r["tracker_gpu_j"] / r["nvml_j"] - 1)
    checks.append({"check": f"rank {r['rank']} tracker vs its NVML counter", "tracker_gpu_j": r["tracker_gpu_j"],
                   "nvml_j": r["nvml_j"], "error_pct": err, "duration_s": r["duration_s"], "steps": r["steps"],
                   "ok": abs(err) <= 1.0 and r["duration_s"] >= 5})
    held = {int(g): pids for g, pids in r["contexts"].items()}
    elsewhere = [g for g, pids in held.items() if g != r["nvml_index"] and r["pid"] in pids]
    seen = r["pid"] in held.get(r["nvml_index"], [])
    checks.append({"check": f"rank {r['rank']} holds a context only on its own GPU (NVML process list)",
                   "own_gpu": r["nvml_index"], "gpus_on_machine": sorted(held), "other_gpus_held": elsewhere,
                   "own_pid_listed": seen, "ok": not elsewhere and seen,
                   "note": "" if len(held) > 1 else "one GPU on this machine: no other GPU to open a context on"})
outside = pd.read_csv(outside_csv).iloc[-1]
side_by_side = {  # what each saw: outside adds the start-up (interpreter, CUDA contexts, rendezvous) and the end
    "outside_measure": {"duration_s": outside.duration, "gpu_j": outside.gpu_energy * 3.6e6,
                        "energy_kwh": outside.energy_consumed},
    "inside_job_row": {"duration_s": job_row.duration, "gpu_j": job_gpu_j, "energy_kwh": job_row.energy_consumed}}
print("side by side:", side_by_side)
summary = {"side_by_side": side_by_side, "checks": checks, "job_flags": record["flags"], "ranks_missing": record["ranks_missing"],
           "job_energy_kwh": job_row.energy_consumed}
json.dump(summary, open(out, "w"), indent=1, default=lambda v: v.item())  # numpy scalars from pandas rows
for c in checks:
    print("PASS" if c["ok"] else "FAIL", c["check"], {k: v for k, v in c.items() if k not in ("check", "ok")})
print("job flags:", record["flags"])
