"""The study's four families as PyTorch modules (Douwes & Serizel, DCASE 2024; docs/FACTS.md §1), from the same
specs as `sedenergy flops` and `sedenergy study`: mlp:LxH, cnn:LxC, rnn:LxH, crnn:LcxLr:CxH.

    from sedenergy.study_models import build
    model = build("crnn:1x2:512x256")          # input (B, 1, 128, 64), output (B, 10) probabilities

Every model ends with Linear(.., 10) and Softmax(dim=1) (logits=True: without it, for BCE with logits, as the
study's --loss bce-logits); no BatchNorm, no dropout.
"""
import re

from .errors import SedenergyError

_SPEC = re.compile(r"^(mlp|cnn|rnn):(\d+)x(\d+)$|^crnn:(\d+)x(\d+):(\d+)x(\d+)$")


def build(spec, mels=128, frames=64, logits=False):
    """The PyTorch module of a study spec (its plain form: no +time, +bi, +lstm or +bn modifiers)."""
    import torch.nn as nn
    model = _build(nn, spec, mels, frames)
    if logits:  # the class softmax gives way to the loss's per-class sigmoid
        if isinstance(model, nn.Sequential):
            model[-1] = nn.Identity()
        else:
            model.softmax = nn.Identity()
    return model


def _build(nn, spec, mels, frames):
    m = _SPEC.match(spec)
    if not m:
        raise SedenergyError(f"study spec {spec!r}: expected mlp:LxH, cnn:LxC, rnn:LxH or crnn:LcxLr:CxH")
    if m.group(1):
        family, layers, width = m.group(1), int(m.group(2)), int(m.group(3))
        if family == "mlp":
            return _mlp(nn, layers, width, mels * frames)
        if family == "cnn":
            blocks = _conv_blocks(nn, layers, width)
            return nn.Sequential(*blocks, nn.Flatten(), nn.Linear(width * (mels >> layers) * (frames >> layers), 10),
                                 nn.Softmax(dim=1))
        return _Recurrent(nn, [], layers, mels * frames, width, whole_input_one_step=True)
    conv_layers, rnn_layers, channels, hidden = (int(m.group(i)) for i in range(4, 8))
    return _Recurrent(nn, _conv_blocks(nn, conv_layers, channels), rnn_layers, channels, hidden,
                      whole_input_one_step=False)


def _mlp(nn, layers, width, inputs):
    mods = [nn.Flatten(), nn.Linear(inputs, width), nn.ReLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*mods, nn.Linear(width, 10), nn.Softmax(dim=1))


def _conv_blocks(nn, layers, channels):
    blocks, cin = [], 1
    for _ in range(layers):
        blocks += [nn.Conv2d(cin, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        cin = channels
    return blocks


def _Recurrent(nn, conv, layers, inputs, hidden, whole_input_one_step):
    """RNN: the whole spectrogram as one time step of mels x frames features. CRNN: the conv output (B, C, H, W)
    viewed as (B, H*W, C) without permuting (a memory reinterpretation, as the study's code), a GRU, its last
    step."""
    import torch

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(*conv)
            self.gru = nn.GRU(inputs, hidden, layers, batch_first=True)
            self.out = nn.Linear(hidden, 10)
            self.softmax = nn.Softmax(dim=1)

        def forward(self, x):
            if whole_input_one_step:
                seq = x.reshape(x.shape[0], 1, -1)
            else:
                z = self.conv(x)
                seq = z.reshape(z.shape[0], z.shape[2] * z.shape[3], z.shape[1])
            h0 = torch.zeros(layers, x.shape[0], hidden, dtype=x.dtype, device=x.device)
            y, _ = self.gru(seq, h0)
            return self.softmax(self.out(y[:, -1]))

    return Recurrent()
