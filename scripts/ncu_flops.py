#!/usr/bin/env python3
"""One forward pass of a model on CUDA inside a profiler range, for scripts/ncu_flops.sh (Nsight Compute
counts the floating-point instructions executed there). TF32 is off so that FP32 work runs as FFMA/FADD/FMUL
rather than on tensor cores. Usage: python3 scripts/ncu_flops.py SPEC BATCH"""
import importlib.util
import os
import sys

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
here = os.path.dirname(os.path.abspath(__file__))
spec_ = importlib.util.spec_from_file_location("flops_golden", os.path.join(here, "flops_golden.py"))
golden = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(golden)

spec, batch = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
net = golden.Net(spec).cuda().eval()
x = torch.rand(batch, 1, 128, 64, device="cuda")
if net.family == "mlp":
    x = x.flatten(1)
with torch.no_grad():
    net(x)  # warm-up: library initialisation stays out of the range
    torch.cuda.synchronize()
    torch.cuda.profiler.start()
    net(x)
    torch.cuda.synchronize()
    torch.cuda.profiler.stop()
