#!/usr/bin/env python3
"""Does a GRU over one step on a zero initial state cost its hidden products? (docs/FACTS.md §6.4)

The study's RNNs run a GRU over a single step with no initial state (h0 = 0). The accounting counts the
hidden products W_hh h0 as every step's; the kernels may skip them. This times, on the GPU, one step of a
GRU layer at batch 8 without an initial state and with a random one, beside the two matrix products it
could be (the input products alone, 3H x I; input and hidden, 3H x (I + H)), and lists the kernels each
launches (torch.profiler). Inference (no_grad), float32, as the study's test phase.
Usage: python3 scripts/gpu-probe-gru.py [--reps 200]
"""
import argparse
import statistics

import torch


def timed(fn, reps):
    """Median time of one call in microseconds over 15 batches of `reps` calls (CUDA events)."""
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(15):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop) * 1000 / reps)
    return statistics.median(times)


def kernels(fn):
    """The CUDA kernels one call launches: name (shortened) -> count."""
    from torch.profiler import ProfilerActivity, profile
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    out = {}
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            out[e.name[:70]] = out.get(e.name[:70], 0) + 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}")
    print("I, H: case: median us per call; kernels")
    for inputs, hidden in [(8192, 2048), (2048, 2048), (8192, 512), (1024, 1024)]:
        gru = torch.nn.GRU(inputs, hidden, batch_first=True).to(dev)
        x = torch.randn(8, 1, inputs, device=dev)
        h0 = torch.randn(1, 8, hidden, device=dev)
        in_only = torch.nn.Linear(inputs, 3 * hidden).to(dev)
        both = torch.nn.Linear(inputs + hidden, 3 * hidden).to(dev)
        xh = torch.randn(8, inputs + hidden, device=dev)
        cases = {
            "GRU, no initial state": lambda: gru(x),
            "GRU, random initial state": lambda: gru(x, h0),
            "Linear I -> 3H (input products only)": lambda: in_only(x[:, 0]),
            "Linear I+H -> 3H (input and hidden)": lambda: both(xh),
        }
        with torch.no_grad():
            for name, fn in cases.items():
                us = timed(fn, args.reps)
                ks = kernels(fn)
                listing = "; ".join(f"{n} x{c}" for n, c in sorted(ks.items()))
                print(f"{inputs}, {hidden}: {name}: {us:.1f} us; {sum(ks.values())} kernels: {listing}")


if __name__ == "__main__":
    main()
