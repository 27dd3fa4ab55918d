#!/usr/bin/env python3
"""Training- and test-step time of the same models in a PyTorch Python loop, under the implementations
sedenergy's runner has (src/models/implementation.hpp), written as a PyTorch user would write them:
  optimizer  torch.optim.Adam default (foreach), fused=True, or foreach=False (per-tensor)
  graphs     eager, or the whole step captured with torch.cuda.graph (capturable fused Adam; the test
             forward likewise; one graph per batch size, the last partial batch included)
  precision  fp32, or torch.autocast("cuda", torch.bfloat16) around the forward pass
  data       host: each batch gathered on the host and copied (a DataLoader without pinned memory);
             device: the dataset resident on the GPU, batches indexed there
BCE on softmax outputs, batch 8, whole epochs over a random 1578-clip set (the study's size), as
bench/bench_train_step.cpp times sedenergy's runner. One JSON line per configuration: median of 5 blocks, and
each block's energy per epoch from the GPU's NVML total-energy counter (nvidia-ml-py; null without it).
--dataloader: host batches from torch.utils.data.DataLoader(TensorDataset, batch_size=8, shuffle=True for
training, pin_memory=True), as a PyTorch user writes the loop (eager only).
The models are the study's own modules (python/sedenergy/study_models.py, which the reference's Python loop
trains), so a comparison with sedenergy holds the model fixed and varies the loop; the variants those do not
build (+time, +bi, +lstm, +bn) are scripts/flops_golden.py's rebuilds.
Usage: python3 bench/pytorch_train_step.py [--impl foreach/eager/fp32/host] [--name pytorch-default]
       [--block-seconds 0.3] [--blocks 5] [--configs a,b] [--clips 1578] [--default-precision] [--dataloader]
       [--device cuda]
(--impl is spelled out; the preset names live in sedenergy, whose bench_train_step prints each one's
spelling: bench/train_step_vs_pytorch.sh passes it on)
(--default-precision: leave PyTorch's TF32 settings as they are instead of setting them as below)"""
import ctypes
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from flops_golden import PAPER43, Net  # noqa: E402
from sedenergy.errors import SedenergyError  # noqa: E402
from sedenergy.study_models import build  # noqa: E402


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def number(name, default, least, kind=float):
    text = arg(name, default)
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value < least:
        what = "a whole number" if kind is int else "a number"
        raise SystemExit(f"pytorch_train_step: {name} {text}: expected {what} of at least {least}")
    return value


def model(spec):
    """The study's module of a plain spec; a variant's flops_golden rebuild (there is no MLP variant: those
    take flat input)."""
    try:
        return build(spec)
    except SedenergyError:
        return Net(spec)


class Loop:
    """One model trained and tested as an implementation says."""

    def __init__(self, spec, impl, x, y, dev, dataloader=False):
        self.optimizer, graphs, precision, data = impl.split("/")[:4]  # sedenergy's spelling may end in /python
        self.graph, self.bf16, self.device_data = graphs == "graph", precision == "bf16", data == "device"
        if dataloader and (self.graph or self.device_data):
            raise SystemExit("--dataloader: host data and eager steps only, not " + impl)
        self.loaders = {train: torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8,
                                                           shuffle=train, pin_memory=dev.type == "cuda")
                        for train in (True, False)} if dataloader else None
        self.net = model(spec).to(dev)
        kw = {"fused": True} if self.optimizer == "fused" else {"foreach": self.optimizer == "foreach"}
        if self.graph:
            kw["capturable"] = True
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3, **kw)
        self.dev, self.x, self.y = dev, x, y
        self.xd, self.yd = (x.to(dev), y.to(dev)) if self.device_data else (None, None)
        self.train_graphs, self.test_graphs = {}, {}

    def forward(self, x):
        with torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=not self.graph):
            out = self.net(x)
        return out.float()

    def step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy(self.forward(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def batch(self, idx, idx_dev):
        if self.device_data:
            return self.xd.index_select(0, idx_dev), self.yd.index_select(0, idx_dev)
        return self.x[idx].to(self.dev, non_blocking=True), self.y[idx].to(self.dev, non_blocking=True)

    def captured(self, graphs, fn, x, y):
        """A graph of fn(static x, static y), after warm-up on a side stream (PyTorch's recipe); its kernel
        nodes counted before instantiation, as sedenergy counts its own (runner/cuda_graph.cpp)."""
        g = {"x": x.clone(), "y": y.clone(), "graph": torch.cuda.CUDAGraph(keep_graph=True)}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                fn(g["x"], g["y"])
        torch.cuda.current_stream().wait_stream(side)
        with torch.cuda.graph(g["graph"]):
            g["out"] = fn(g["x"], g["y"])
        g["kernels"] = kernel_nodes(g["graph"].raw_cuda_graph())
        g["graph"].instantiate()
        graphs[x.shape[0]] = g
        return g

    def run(self, graphs, fn, order, order_dev):
        if self.loaders:
            for x, y in self.loaders[self.net.training]:  # shuffled for training, in order for testing
                fn(x.to(self.dev, non_blocking=True), y.to(self.dev, non_blocking=True))
            return
        n = order.shape[0]
        for i in range(0, n, 8):
            idx, idx_dev = order[i:i + 8], order_dev[i:i + 8] if order_dev is not None else None
            if not self.graph:
                fn(*self.batch(idx, idx_dev))
                continue
            g = graphs.get(idx.shape[0])
            if g is None:
                g = self.captured(graphs, fn, *self.batch(idx, idx_dev))
            if self.device_data:
                torch.index_select(self.xd, 0, idx_dev, out=g["x"])
                torch.index_select(self.yd, 0, idx_dev, out=g["y"])
            else:
                g["x"].copy_(self.x[idx], non_blocking=True)
                g["y"].copy_(self.y[idx], non_blocking=True)
            g["graph"].replay()

    def train_epoch(self):
        self.net.train()
        order = torch.randperm(self.x.shape[0])
        self.run(self.train_graphs, self.step, order, order.to(self.dev) if self.device_data else None)

    def test_epoch(self):
        self.net.eval()
        order = torch.arange(self.x.shape[0])
        with torch.no_grad():
            self.run(self.test_graphs, lambda x, y: self.forward(x), order,
                     order.to(self.dev) if self.device_data else None)


def kernel_nodes(graph):
    """Kernel nodes of a captured cudaGraph_t, through the driver API (cuGraphGetNodes, cuGraphNodeGetType);
    -1 where the driver library cannot be loaded."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return -1
    handle, n = ctypes.c_void_p(graph), ctypes.c_size_t(0)
    if cuda.cuGraphGetNodes(handle, None, ctypes.byref(n)) != 0:
        return -1
    nodes = (ctypes.c_void_p * n.value)()
    if cuda.cuGraphGetNodes(handle, nodes, ctypes.byref(n)) != 0:
        return -1
    kind = ctypes.c_int(-1)
    kernel_type = 0  # CU_GRAPH_NODE_TYPE_KERNEL
    return sum(1 for node in nodes if cuda.cuGraphNodeGetType(ctypes.c_void_p(node), ctypes.byref(kind)) == 0
               and kind.value == kernel_type)


class EnergyCounter:
    """The GPU's NVML total-energy counter (CUDA device 0, found by PCI bus id); read() is None without it."""

    def __init__(self):
        try:
            import pynvml
            pynvml.nvmlInit()
            bus = torch.cuda.get_device_properties(0).pci_bus_id if hasattr(
                torch.cuda.get_device_properties(0), "pci_bus_id") else None
            self.handle = (pynvml.nvmlDeviceGetHandleByPciBusId(bus) if bus
                           else pynvml.nvmlDeviceGetHandleByIndex(0))
            self.nvml = pynvml
            self.read()
        except Exception as e:  # no nvidia-ml-py, no driver, no counter: times only
            print(f"pytorch_train_step: no NVML energy counter ({e}); energy left null", file=sys.stderr)
            self.handle = None

    @classmethod
    def absent(cls):
        """No counter (a CPU run: times only)."""
        counter = cls.__new__(cls)
        counter.handle = None
        return counter

    def read(self):
        return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3 if self.handle else None


def blocks(epoch, steps, block_s, count, counter, sync):
    """`count` blocks of whole epochs lasting block_s each: the median seconds per step (the upper one of an
    even count, as bench_train_step), each block's J per epoch."""
    seconds, joules = [], []
    for _ in range(count):
        sync()
        t0, j0, n = time.perf_counter(), counter.read(), 0
        while True:
            epoch()
            n += 1
            if time.perf_counter() - t0 >= block_s:
                break
        sync()
        seconds.append((time.perf_counter() - t0) / (n * steps))
        joules.append((counter.read() - j0) / n if j0 is not None else None)
    return sorted(seconds)[count // 2], joules


def main():
    block_s = number("--block-seconds", "0.3", 0)
    count = number("--blocks", "5", 1, int)
    impl = arg("--impl", "foreach/eager/fp32/host")
    name = arg("--name", impl)
    clips = number("--clips", "1578", 1, int)
    dev = torch.device(arg("--device", "cuda"))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    configs = arg("--configs", ",".join(PAPER43)).split(",")
    if "--default-precision" not in sys.argv:
        # The implementation's float32 math, as sedenergy's Float32Math sets it (fp32 and bf16: LibTorch's
        # defaults), so both sides do the same arithmetic.
        precision = impl.split("/")[2]
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision != "ieee"
    torch.manual_seed(1)
    x = torch.rand(clips, 1, 128, 64)
    y = torch.zeros(clips, 10)
    y[:, 2] = 1
    steps = (clips + 7) // 8
    counter = EnergyCounter() if dev.type == "cuda" else EnergyCounter.absent()
    dataloader = "--dataloader" in sys.argv
    for spec in configs:
        torch.manual_seed(1)
        loop = Loop(spec, impl, x, y, dev, dataloader)
        loop.train_epoch()  # warm-up (and capture)
        loop.test_epoch()
        train_s, train_j = blocks(loop.train_epoch, steps, block_s, count, counter, sync)
        test_s, test_j = blocks(loop.test_epoch, steps, block_s, count, counter, sync)
        kernels = {k: max((g["kernels"] for g in graphs.values()), default=-1)  # the full batch's graph
                   for k, graphs in (("train", loop.train_graphs), ("test", loop.test_graphs))}
        print(json.dumps({"config": spec, "family": spec.split(":")[0].upper(), "impl": name, "spelled": impl,
                          "params": sum(p.numel() for p in loop.net.parameters()),
                          "side": "PyTorch %s%s" % (torch.__version__, " DataLoader" if dataloader else ""),
                          "step_ms": 1e3 * train_s, "test_step_ms": 1e3 * test_s,
                          "train_j_per_epoch_blocks": train_j, "test_j_per_epoch_blocks": test_j, "train_kernels_per_step": kernels["train"],
                          "test_kernels_per_step": kernels["test"], "cudnn_tf32": torch.backends.cudnn.allow_tf32,
                          "cublas_tf32": torch.backends.cuda.matmul.allow_tf32,
                          "cudnn_benchmark": torch.backends.cudnn.benchmark}), flush=True)
        del loop
        if dev.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
