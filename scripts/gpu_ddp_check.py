"""One rank of the issue-32 GPU check (scripts/gpu-ddp-check.sh starts two under torchrun): a DDP model trained on
this rank's GPU with gloo, measured by the tracker as CodeCarbon's users call it, and by this process's own read
of the same GPU's NVML total-energy counter right after start() and right before stop(). At the end of training
it lists, on every GPU of the machine, the processes NVML says hold a context there.
Usage: gpu_ddp_check.py OUTDIR SECONDS"""
import json
import os
import sys
import time

import pynvml
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples", "python"))
import desed_data  # noqa: E402 (nvml_counter: the counter of the GPU torch uses)
from sedenergy import OfflineEmissionsTracker  # noqa: E402


def contexts():
    """{nvml index: [pids holding a compute context]} for every GPU of the machine."""
    out = {}
    for i in range(pynvml.nvmlDeviceGetCount()):
        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(pynvml.nvmlDeviceGetHandleByIndex(i))
        out[i] = sorted(p.pid for p in procs)
    return out


def main(out, seconds):
    dist.init_process_group("gloo")
    rank, local = dist.get_rank(), int(os.environ["LOCAL_RANK"])
    device = local % torch.cuda.device_count()  # more ranks than GPUs share them
    torch.cuda.set_device(device)
    counter = desed_data.nvml_counter(device)
    model = DistributedDataParallel(torch.nn.Sequential(torch.nn.Linear(1024, 4096), torch.nn.ReLU(),
                                                        torch.nn.Linear(4096, 1024)).cuda())
    opt = torch.optim.Adam(model.parameters())
    x = torch.randn(512, 1024, device="cuda")
    tracker = OfflineEmissionsTracker("ddp-gpu-check", output_dir=out, country_iso_code="FRA", log_level="warning",
                                      gather_timeout_s=60, database=os.path.join(out, f"rank{rank}.db"))
    tracker.start()
    nvml_start, t0 = counter(), time.monotonic()
    steps, go = 0, torch.ones(1)
    while go.item():
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        steps += 1
        if steps % 20 == 0:  # every rank stops at the same step: rank 0 says when
            go[0] = float(time.monotonic() - t0 < seconds)
            dist.broadcast(go, 0)
    held = contexts()
    props = torch.cuda.get_device_properties(device)
    bus = getattr(props, "pci_bus_id", None)
    if bus is not None and not isinstance(bus, str):
        bus = "%08x:%02x:%02x.0" % (getattr(props, "pci_domain_id", 0), bus, getattr(props, "pci_device_id", 0))
    nvml_index = pynvml.nvmlDeviceGetIndex(pynvml.nvmlDeviceGetHandleByPciBusId(bus)) if bus else device
    nvml_j = counter() - nvml_start
    tracker.stop()
    rec = {"rank": rank, "pid": os.getpid(), "cuda_device": device, "nvml_index": nvml_index, "steps": steps, "nvml_j": nvml_j,
           "tracker_gpu_j": tracker._total_gpu_energy.kWh * 3.6e6, "duration_s": tracker.final_emissions_data.duration,
           "contexts": held}
    with open(os.path.join(out, f"nvml-rank{rank}.json"), "w") as f:
        json.dump(rec, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
