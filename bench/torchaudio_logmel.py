#!/usr/bin/env python3
"""Times torchaudio's librosa-matching log-mel of one 10 s 16 kHz clip on one thread (the reference of
bench/features_vs_torchaudio.sh). Prints JSON: median, min and all repetitions in milliseconds."""
import json
import sys
import time

import torch
import torchaudio

torch.set_num_threads(1)
g = torch.Generator().manual_seed(1)
x = torch.randn(1, 160000, generator=g) * 0.1
mel = torchaudio.transforms.MelSpectrogram(
    sample_rate=16000, n_fft=2048, win_length=2048, hop_length=256, f_min=0.0, f_max=8000.0, n_mels=128,
    power=2.0, center=True, pad_mode="constant", mel_scale="slaney", norm="slaney")
to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)
for _ in range(5):
    to_db(mel(x))
times = []
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
for _ in range(reps):
    t = time.perf_counter()
    to_db(mel(x))
    times.append((time.perf_counter() - t) * 1000.0)
times.sort()
print(json.dumps({"torch": torch.__version__, "torchaudio": torchaudio.__version__,
                  "median_ms": times[len(times) // 2], "min_ms": times[0], "reps": reps}))
