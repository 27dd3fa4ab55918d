#!/usr/bin/env python3
"""Training-step time of the same models in a PyTorch Python eager loop: torch.optim.Adam with its default
implementation (multi-tensor "foreach" on CUDA), BCE on softmax outputs, batch 8, inputs already on the
GPU. The models are scripts/flops_golden.py's PyTorch rebuilds of sedenergy's specs. One JSON line per
configuration, the median of 5 timed blocks, as bench/bench_train_step.cpp does.
Usage: python3 bench/pytorch_train_step.py [--block-seconds 0.3] [--configs a,b,...] [--default-precision]
(--default-precision: leave PyTorch's TF32 settings as they are instead of setting them as below)"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from flops_golden import PAPER43, Net  # noqa: E402


def main():
    block_s = float(sys.argv[sys.argv.index("--block-seconds") + 1]) if "--block-seconds" in sys.argv else 0.3
    dev = torch.device("cuda")
    configs = sys.argv[sys.argv.index("--configs") + 1].split(",") if "--configs" in sys.argv else PAPER43
    if "--default-precision" not in sys.argv:
        torch.backends.cuda.matmul.allow_tf32 = False  # LibTorch's default, so both do the same arithmetic
        torch.backends.cudnn.allow_tf32 = True
    for spec in configs:
        torch.manual_seed(1)
        net = Net(spec).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        x = torch.rand(8, 1, 128, 64, device=dev)
        if net.family == "mlp":
            x = x.flatten(1)  # the rebuild's MLP takes flat input (sedenergy's flattens inside the model)
        y = torch.zeros(8, 10, device=dev)
        y[:, 2] = 1

        def step():
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy(net(x), y).backward()
            opt.step()

        for _ in range(5):
            step()
        torch.cuda.synchronize()
        per_step = []
        for _ in range(5):
            t0, n = time.perf_counter(), 0
            while True:
                step()
                n += 1
                if n % 4 == 0:
                    torch.cuda.synchronize()
                if n >= 4 and time.perf_counter() - t0 >= block_s:
                    break
            torch.cuda.synchronize()
            per_step.append((time.perf_counter() - t0) / n)
        per_step.sort()
        print(json.dumps({"config": spec, "family": spec.split(":")[0].upper(),
                          "impl": "PyTorch %s eager (Adam foreach)" % torch.__version__,
                          "step_ms": 1e3 * per_step[2], "cudnn_tf32": torch.backends.cudnn.allow_tf32,
                          "cublas_tf32": torch.backends.cuda.matmul.allow_tf32,
                          "cudnn_benchmark": torch.backends.cudnn.benchmark}), flush=True)
        del net, opt
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
