#!/usr/bin/env python3
"""A PyTorch training script that reads the GPU's NVML energy counter itself, first thing at start and
last thing at exit, so `sedenergy measure -- python3 bench/train_probe.py` can be compared with it
(scripts/gpu-verify.sh). Prints {"in_script_gpu_j": ...} as its last line."""
import ctypes
import json
import os
import sys

_nvml = ctypes.CDLL("libnvidia-ml.so.1")
_nvml.nvmlInit_v2()
_dev = ctypes.c_void_p()
_nvml.nvmlDeviceGetHandleByIndex_v2(int(os.environ.get("PROBE_NVML_INDEX", "0")), ctypes.byref(_dev))


def energy_mj():
    v = ctypes.c_ulonglong()
    _nvml.nvmlDeviceGetTotalEnergyConsumption(_dev, ctypes.byref(v))
    return v.value


import time  # noqa: E402

start, t_start = energy_mj(), time.monotonic()
import torch  # noqa: E402  (after the first reading, as part of the measured work)

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(128 * 64, 4096), torch.nn.ReLU(),
                          torch.nn.Linear(4096, 4096), torch.nn.ReLU(), torch.nn.Linear(4096, 10)).cuda()
opt = torch.optim.Adam(net.parameters())
x, y = torch.rand(256, 1, 128, 64, device="cuda"), torch.randint(0, 10, (256,), device="cuda")
t0 = time.time()
while time.time() - t0 < seconds:
    for _ in range(20):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    torch.cuda.synchronize()
end, t_end = energy_mj(), time.monotonic()
print(json.dumps({"in_script_gpu_j": (end - start) / 1000.0, "covered_s": t_end - t_start}), flush=True)
