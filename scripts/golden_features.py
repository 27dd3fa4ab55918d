#!/usr/bin/env python3
"""Writes the golden feature files the C++ tests compare against (tests/data/golden_*.npy).

References, as docs/FACTS.md defines them:
  paper   torchaudio.transforms.MelSpectrogram with the study's settings (44.1 kHz, n_fft 2048, hop 256,
          Hamming periodic=False, power 1, 128 HTK mels, f_max 22050, no log), 64 frames kept.
  dcase   the DCASE task 4 baseline: same at 16 kHz, f_max 8000, then 20*log10(clamp(x, 1e-5)) clamped to
          [-50, 80] dB, then per-instance min-max scaling.
  librosa librosa's definitions reproduced with torchaudio (periodic Hann, constant padding, power 2,
          Slaney scale and norm), then power_to_db(ref=1, amin=1e-10, top_db=80).
  librosa_quiet  the same on golden_quiet_16k.wav, which this script writes (seeded): loud tones over a
          faint high-frequency noise, so many bins sit 40-80 dB below the peak, where a float32 FFT drifts.
Run with Debian's python3-torchaudio:  /usr/bin/python3 scripts/golden_features.py
"""
import os
import sys

import numpy as np
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")


def load(name):
    wav, sr = torchaudio.load(os.path.join(DATA, name))
    return wav[0:1].to(torch.float64), sr  # first channel, as the study; float64 reference


def write_quiet_clip():
    """3 s at 16 kHz, float32: tones at 300 Hz and (from 1 s) 1200 Hz, plus noise differenced twice (rising
    with frequency) 50-60 dB below them."""
    sr, n = 16000, 48000
    t = np.arange(n) / sr
    x = 0.5 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 1200 * t) * (t > 1)
    noise = np.random.default_rng(1).standard_normal(n)
    x = x + 0.0003 * np.diff(np.diff(noise, prepend=0), prepend=0)
    clip = torch.from_numpy(x.astype(np.float32))[None]
    torchaudio.save(os.path.join(DATA, "golden_quiet_16k.wav"), clip, sr, encoding="PCM_F", bits_per_sample=32)


def librosa_db(x16):
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=2048, win_length=2048, hop_length=256, f_min=0.0, f_max=8000.0, n_mels=128,
        window_fn=torch.hann_window, wkwargs={"dtype": torch.float64}, power=2.0, center=True, pad_mode="constant", mel_scale="slaney", norm="slaney").double()
    s = mel(x16)[0]
    db = 10.0 * torch.log10(torch.clamp(s, min=1e-10))
    return torch.maximum(db, db.max() - 80.0)


def main():
    torch.set_num_threads(1)
    out = {}
    x, sr = load("golden_44k.wav")
    assert sr == 44100
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=44100, n_fft=2048, win_length=2048, hop_length=256, f_min=0.0, f_max=22050.0, n_mels=128,
        window_fn=torch.hamming_window, wkwargs={"periodic": False, "dtype": torch.float64}, power=1.0).double()
    out["paper"] = mel(x)[0, :, :64]

    x16, sr16 = load("golden_16k.wav")
    assert sr16 == 16000
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=2048, win_length=2048, hop_length=256, f_min=0.0, f_max=8000.0, n_mels=128,
        window_fn=torch.hamming_window, wkwargs={"periodic": False, "dtype": torch.float64}, power=1.0).double()
    db = (20.0 * torch.log10(torch.clamp(mel(x16), min=1e-5))).clamp(-50.0, 80.0)[0]
    out["dcase"] = (db - db.min()) / (db.max() - db.min())

    out["librosa"] = librosa_db(x16)

    write_quiet_clip()
    out["librosa_quiet"] = librosa_db(load("golden_quiet_16k.wav")[0])

    for name, arr in out.items():
        path = os.path.join(DATA, f"golden_{name}.npy")
        np.save(path, np.ascontiguousarray(arr.numpy(), dtype="<f4"))
        print(f"{path}: shape {tuple(arr.shape)}, min {arr.min():.6g}, max {arr.max():.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
