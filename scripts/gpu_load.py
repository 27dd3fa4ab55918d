"""A steady GPU load for attribution checks: square matmuls on CUDA device 0 for --seconds.
Prints its PID and, at the end, how many matmuls it ran."""
import argparse
import os
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float, default=20)
p.add_argument("--size", type=int, default=8192)
a = p.parse_args()
x = torch.randn(a.size, a.size, device="cuda:0")
torch.cuda.synchronize()
print("pid", os.getpid(), "ready", flush=True)
n, t0 = 0, time.time()
while time.time() - t0 < a.seconds:
    for _ in range(10):
        y = x @ x
    torch.cuda.synchronize()
    n += 10
print("pid", os.getpid(), "matmuls", n, flush=True)
