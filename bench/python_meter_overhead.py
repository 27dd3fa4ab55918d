"""Overhead of the Python meter on a training loop: step time with a sedenergy.Meter open (its 10 Hz sampler
reading NVML in a C++ thread, a window around each block) against no meter, in alternating rounds, paired per
round, as bench/meter_check.cpp does for the C++ meter.

    python3 bench/python_meter_overhead.py OUT.json [--rounds 30] [--block-s 0.5]

Prints and writes the median paired slowdown with a bootstrap 95 % interval.
"""
import argparse
import json
import random
import statistics
import time

import torch

import sedenergy


def make_step(device):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 256, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Conv2d(256, 256, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(256 * 32 * 16, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # Batch 64: a GPU-bound step (~15 ms on an H200), as the C++ check's; a launch-bound Python loop's
    # block-to-block noise (a few %) hides any 0.1 % effect.
    x = torch.randn(64, 1, 128, 64, device=device)
    y = torch.randint(0, 2, (64, 10), device=device).float()

    def step():
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
        opt.step()
    return step


def block(step, steps, sync):
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--block-s", type=float, default=1.0)
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    step = make_step(device)
    for _ in range(20):
        step()
    per_step = block(step, 20, sync)
    steps = max(4, int(args.block_s / per_step))
    gpus = {"cuda_devices": [torch.cuda.current_device()]} if device.type == "cuda" else {}
    pairs = []
    for r in range(args.rounds):
        arms = ["free", "metered"]
        random.Random(r).shuffle(arms)  # which arm goes first alternates at random
        t = {}
        for arm in arms:
            if arm == "metered":  # the sampler runs only while this arm's meter is open
                with sedenergy.Meter(**gpus) as meter, meter.window(f"block{r}"):
                    t[arm] = block(step, steps, sync)
            else:
                t[arm] = block(step, steps, sync)
        pairs.append(100.0 * (t["metered"] / t["free"] - 1.0))
    rng = random.Random(1)
    boots = sorted(statistics.median(rng.choices(pairs, k=len(pairs))) for _ in range(2000))
    result = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "steps_per_block": steps,
              "step_ms": per_step * 1e3, "rounds": args.rounds, "paired_slowdown_pct": pairs,
              "median_pct": statistics.median(pairs), "ci95_lo_pct": boots[50], "ci95_hi_pct": boots[1949]}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print("python meter overhead: %.3f %% [%.3f, %.3f] (median of %d paired rounds, %d steps of %.2f ms per block)"
          % (result["median_pct"], result["ci95_lo_pct"], result["ci95_hi_pct"], args.rounds, steps, per_step * 1e3))


if __name__ == "__main__":
    main()
