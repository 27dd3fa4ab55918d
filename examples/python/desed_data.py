"""Shared by the examples: DESED-format features exported by `sedenergy features --export npy` with their weak
labels, and a small CRNN (conv blocks, a GRU over time, a linear tagger) as DCASE systems use.

    sedenergy synth --out data --clips 64
    sedenergy features --data data --export npy --out feats
"""
import csv
import os

import numpy as np
import torch

CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush", "Frying",
           "Running_water", "Speech", "Vacuum_cleaner"]


def arguments(description):
    """The examples' common options: the features, their labels, where energy records go, epochs."""
    import argparse
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--features", required=True, help="folder of .npy features (sedenergy features --export npy)")
    ap.add_argument("--tsv", required=True, help="weak labels of the clips (metadata/train/weak.tsv)")
    ap.add_argument("--out", default="energy", help="folder for emissions_*.csv and energy.db")
    ap.add_argument("--epochs", type=int, default=2)
    return ap


def load(features_dir, tsv, frames=64):
    """(x, y): log-compressed mel features (N, 1, mels, frames) and multi-hot labels (N, 10)."""
    xs, ys = [], []
    with open(tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = os.path.join(features_dir, os.path.splitext(row["filename"])[0] + ".npy")
            mel = np.load(path)[:, :frames]
            xs.append(np.log1p(mel.astype(np.float32)))
            labels = [c for c in (row.get("event_labels") or row.get("event_label") or "").split(",") if c]
            ys.append([1.0 if c in labels else 0.0 for c in CLASSES])
    if not xs:
        raise SystemExit(f"no clip listed in {tsv}")
    return torch.tensor(np.stack(xs)).unsqueeze(1), torch.tensor(ys)


class CRNN(torch.nn.Module):
    def __init__(self, mels=128, channels=32, hidden=64):
        super().__init__()
        self.conv = torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d((4, 1)),
            torch.nn.Conv2d(channels, channels, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d((4, 1)))
        self.gru = torch.nn.GRU(channels * (mels // 16), hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, len(CLASSES))

    def forward(self, x):
        z = self.conv(x)                                   # (B, C, mels/16, T)
        z = z.flatten(1, 2).transpose(1, 2)                # (B, T, C * mels/16)
        h, _ = self.gru(z)
        return self.out(h.mean(dim=1))                     # clip-level logits


def nvml_counter(cuda_index=0):
    """For verification on GPU machines: a function reading this GPU's NVML total-energy counter in joules,
    after waiting for queued work (nvidia-ml-py's pynvml; the GPU found by its PCI bus id where torch gives it)."""
    import pynvml
    pynvml.nvmlInit()
    props = torch.cuda.get_device_properties(cuda_index)
    bus = getattr(props, "pci_bus_id", None)
    if bus is not None and not isinstance(bus, str):
        bus = "%08x:%02x:%02x.0" % (getattr(props, "pci_domain_id", 0), bus, getattr(props, "pci_device_id", 0))
    handle = pynvml.nvmlDeviceGetHandleByPciBusId(bus) if bus else pynvml.nvmlDeviceGetHandleByIndex(cuda_index)

    def read():
        torch.cuda.synchronize()
        return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0
    return read
