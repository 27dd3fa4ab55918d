#!/usr/bin/env python3
"""Counts FLOPs of sedenergy's models with PyTorch's own FlopCounterMode (torch >= 2.1) and writes
tests/data/flops_torch.json, which tests/unit/test_spec.cpp compares with the C++ accounting.

The models are rebuilt here in PyTorch from the same spec strings (docs/FACTS.md §1.2 and the variants of
src/models/spec.hpp). Counted on the CPU, where recurrent layers run as ordinary matrix products
(FlopCounterMode reports 0 for cuDNN's fused RNN kernels). FlopCounterMode counts 2 x MACs of matrix
products and convolutions only (no bias, no element-wise work).

Usage (on the GPU machine, whose PyTorch has FlopCounterMode):  python3 scripts/flops_golden.py OUT.json
"""
import json
import sys

import torch
from torch import nn

PAPER43 = [
    "mlp:1x512", "mlp:1x1024", "mlp:1x2048", "mlp:4x1024", "mlp:4x2048", "mlp:4x4096", "mlp:6x4096",
    "mlp:10x4096", "mlp:16x4096", "mlp:32x4096", "cnn:1x128", "cnn:1x256", "cnn:1x512", "cnn:1x1024",
    "cnn:2x128", "cnn:2x256", "cnn:2x384", "cnn:2x512", "cnn:2x768", "cnn:2x1024", "cnn:6x384", "cnn:6x768",
    "rnn:1x128", "rnn:1x512", "rnn:1x1024", "rnn:1x2048", "rnn:4x1024", "rnn:4x2048", "rnn:6x1024",
    "rnn:6x2048", "rnn:2x2048", "rnn:10x2048", "rnn:14x2048", "crnn:1x1:64x64", "crnn:2x1:64x64",
    "crnn:1x2:64x64", "crnn:1x1:256x64", "crnn:1x1:512x256", "crnn:1x2:512x256", "crnn:2x1:512x256",
    "crnn:1x2:1024x256", "crnn:2x2:728x256", "crnn:2x2:1024x256"]
VARIANTS = ["rnn:1x64+time", "rnn:2x32+time+bi", "rnn:2x32+time+lstm", "crnn:2x1:16x32+time",
            "crnn:1x2:16x16+bi+lstm", "cnn:2x16+bn"]


class Net(nn.Module):
    def __init__(self, spec, mels=128, frames=64):
        super().__init__()
        base, *mods = spec.split("+")
        parts = base.split(":")
        self.family = parts[0]
        self.time = "time" in mods
        bi, lstm, bn = "bi" in mods, "lstm" in mods, "bn" in mods
        if self.family in ("mlp", "cnn", "rnn"):
            layers, width = map(int, parts[1].split("x"))
        else:
            layers, rnn_layers = map(int, parts[1].split("x"))
            width, hidden = map(int, parts[2].split("x"))
        self.layers = nn.ModuleList()
        if self.family == "mlp":
            dims = [mels * frames] + [width] * layers
            for i, o in zip(dims, dims[1:]):
                self.layers += [nn.Linear(i, o), nn.ReLU()]
            self.head = nn.Linear(width, 10)
            return
        h, w, c = mels, frames, 1
        if self.family in ("cnn", "crnn"):
            for _ in range(layers):
                self.layers.append(nn.Conv2d(c, width, 3, padding=1))
                if bn:
                    self.layers.append(nn.BatchNorm2d(width))
                self.layers += [nn.ReLU(), nn.MaxPool2d(2)]
                c, h, w = width, h // 2, w // 2
        if self.family == "cnn":
            self.head = nn.Linear(c * h * w, 10)
            return
        if self.family == "rnn":
            hidden, rnn_layers = width, layers
            feats = mels if self.time else mels * frames
        else:
            feats = c * h if self.time else c
        cell = nn.LSTM if lstm else nn.GRU
        self.rnn = cell(feats, hidden, rnn_layers, batch_first=True, bidirectional=bi)
        self.head = nn.Linear(hidden * (2 if bi else 1), 10)

    def forward(self, x):
        b = x.shape[0]
        for layer in self.layers:
            x = layer(x)
        if self.family == "mlp":
            x = x.flatten(1) if x.dim() > 2 else x
        if self.family in ("rnn", "crnn"):
            if self.time:
                x = x.permute(0, 3, 1, 2).reshape(b, x.shape[3], -1)
            elif self.family == "rnn":
                x = x.reshape(b, 1, -1)
            else:
                x = x.contiguous().view(b, x.shape[2] * x.shape[3], x.shape[1])
            x = self.rnn(x)[0][:, -1]
        elif self.family == "cnn":
            x = x.flatten(1)
        return torch.softmax(self.head(x), dim=1)


def count(spec, batch):
    # Imported here: the models above serve bench/pytorch_train_step.py on PyTorch before 2.1 too.
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    net = Net(spec)
    x = torch.rand(batch, 1, 128, 64)
    if net.family == "mlp":
        x = x.flatten(1)
    with FlopCounterMode(display=False) as fc:
        y = net(x)
    fwd = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        y = net(x)
        y.sum().backward()
    return {"forward": fwd, "forward_backward": fc.get_total_flops(),
            "params": sum(p.numel() for p in net.parameters())}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/flops_torch.json"
    torch.set_num_threads(16)
    result = {"torch": torch.__version__, "device": "cpu", "input": [1, 128, 64], "configs": {}}
    for spec in PAPER43 + VARIANTS:
        result["configs"][spec] = {str(b): count(spec, b) for b in (1, 8)}
        print(spec, result["configs"][spec]["8"], flush=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
