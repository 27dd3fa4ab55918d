"""The study's reference loop (issue 33): PyTorch run as a user writes the loop, driven by `sedenergy study`.

`sedenergy study --impl pytorch-default` starts `python3 -m sedenergy.study_loop` and sends it one JSON request a
line on stdin; each reply is one JSON line on stdout ({"error": ...} when a request fails). The study's windows,
meter and records stay the C++ runner's: this process only runs the steps, with
  torch.optim.Adam(lr) (foreach, PyTorch's default; fused=True or foreach=False where asked),
  torch.utils.data.DataLoader(TensorDataset, batch_size, shuffle=True, pin_memory=True on CUDA),
  BCE on the softmax outputs (or BCE with logits, --loss bce-logits), eager, PyTorch's float32 defaults (or TF32 / IEEE / bf16 autocast where asked).
Each epoch (and each reply) ends with the device synchronised, so that a window read after it holds its work.
SIGUSR1 ends an epoch after the step in progress, and every epoch after it (the study's stop request: the run
in progress is recorded as interrupted, the study ends); SIGINT and SIGTERM are the study's to handle, so they
do not end this process.
"""
import json
import math
import os
import signal
import sys

from .errors import SedenergyError

_stop = {"requested": False}


def _request_stop(_signum, _frame):
    _stop["requested"] = True


class StudyLoop:
    """The sources (name -> (x, y) host tensors), and the model of the run in progress with its optimizer."""

    def __init__(self):
        import torch
        self.torch = torch
        self.sources, self.kept = {}, {}
        self.net = None

    def hello(self, _req):
        import platform
        return {"torch": self.torch.__version__, "python": platform.python_version()}

    def source(self, req):
        import numpy as np
        x = np.fromfile(req["x"], dtype=np.float32).reshape(req["x_shape"])
        y = np.fromfile(req["y"], dtype=np.float32).reshape(req["y_shape"])
        self.sources[req["name"]] = (self.torch.from_numpy(x), self.torch.from_numpy(y))
        return {}

    def model(self, req):
        torch = self.torch
        from .study_models import build
        if req["loss"] not in ("bce-softmax", "bce-logits"):
            raise SedenergyError(f"the Python loop trains with bce-softmax or bce-logits, not {req['loss']}")
        self.logits = req["loss"] == "bce-logits"
        self.device = torch.device(req["device"])
        self.batch, self.train_name, self.test_name = req["batch"], req["train"], req["test"]
        self._set_precision(req["precision"])
        torch.manual_seed(req["seed"])
        self.net = build(req["spec"], req["mels"], req["frames"], self.logits).to(self.device)
        kw = {"fused": True} if req["optimizer"] == "fused" else {} if req["optimizer"] == "foreach" else {"foreach": False}
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=req["lr"], **kw)
        self.kept, self.indices = {}, None
        method = "torch.optim.Adam(%s) in Python %s, PyTorch %s, DataLoader" % (
            ", ".join(f"{k}={v}" for k, v in kw.items()), self.hello(req)["python"], torch.__version__)
        return {"parameters": sum(p.numel() for p in self.net.parameters()), "optimizer": method}

    def _set_precision(self, precision):
        """PyTorch's defaults for fp32 and bf16 (cuDNN TF32 on, cuBLAS TF32 off), as the C++ loop's Float32Math."""
        backends = self.torch.backends
        backends.cuda.matmul.allow_tf32 = precision == "tf32"
        backends.cudnn.allow_tf32 = precision != "ieee"
        self.bf16 = precision == "bf16"

    def subset(self, req):
        """The training clips; all of them in order: no Subset wrapper (a user's loop has none)."""
        indices = req["indices"]
        whole = indices == list(range(len(self.sources[self.train_name][0])))
        self.indices = None if whole else self.torch.tensor(indices, dtype=self.torch.long)
        return {}

    def _loader(self, name, shuffle, indices=None):
        data = self.torch.utils.data
        dataset = data.TensorDataset(*self.sources[name])
        if indices is not None:
            dataset = data.Subset(dataset, indices.tolist())
        return data.DataLoader(dataset, batch_size=self.batch, shuffle=shuffle,
                               pin_memory=self.device.type == "cuda")

    def _forward(self, x):
        if not self.bf16:  # no autocast context at all: a user's fp32 loop has none
            return self.net(x)
        with self.torch.autocast("cuda", dtype=self.torch.bfloat16):
            return self.net(x).float()

    def _sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def train_epoch(self, req):
        self.net.train()
        steps, limit = 0, req["steps"]
        for x, y in self._loader(self.train_name, True, self.indices):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            self.optimizer.zero_grad()
            self._loss(self._forward(x), y).backward()
            self.optimizer.step()
            steps += 1
            if steps == limit or _stop["requested"]:
                break
        self._sync()
        return {"steps": steps, "stopped": _stop["requested"]}

    def _loss(self, out, y):
        F = self.torch.nn.functional
        return F.binary_cross_entropy_with_logits(out, y) if self.logits else F.binary_cross_entropy(out, y)

    def _outputs(self, name, indices=None):
        """The model's outputs and the targets over a source, in eval mode, on the host."""
        self.net.eval()
        outs, targets = [], []
        with self.torch.no_grad():
            for x, y in self._loader(name, False, indices):
                outs.append(self._forward(x.to(self.device, non_blocking=True)).cpu())
                targets.append(y)
        return self.torch.cat(outs), self.torch.cat(targets)

    def test_epoch(self, _req):
        self.net.eval()
        with self.torch.no_grad():
            for x, _y in self._loader(self.test_name, False):
                self._forward(x.to(self.device, non_blocking=True))
                if _stop["requested"]:
                    break
        self._sync()
        return {"stopped": _stop["requested"]}

    def loss(self, _req):
        out, y = self._outputs(self.train_name, self.indices)
        if not bool(out.isfinite().all()):
            return {"loss": None}  # diverged
        value = float(self._loss(out, y))
        return {"loss": value if math.isfinite(value) else None}

    def predict(self, req):
        out, y = self._outputs(req["source"])
        scores = self.torch.sigmoid(out) if self.logits else out  # class probabilities either way
        return {"scores": scores.flatten().tolist(), "targets": y.flatten().tolist()}

    def keep(self, req):
        self.kept[req["slot"]] = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        return {}

    def restore(self, req):
        self.net.load_state_dict(self.kept[req["slot"]])
        return {}


# What a request may ask ("quit" ends the process).
OPERATIONS = ("hello", "source", "model", "subset", "train_epoch", "test_epoch", "loss", "predict", "keep", "restore")


def serve(requests, replies):
    loop = None
    for line in requests:
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "quit":
                return
            if loop is None:
                loop = StudyLoop()
            if op not in OPERATIONS:
                raise SedenergyError(f"unknown request {op!r}")
            reply = getattr(loop, op)(req)
        except Exception as e:  # the run fails, the study goes on
            reply = {"error": f"{type(e).__name__}: {e}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main():
    signal.signal(signal.SIGUSR1, _request_stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything printed (warnings, a library's notes) goes to stderr, not into the replies
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
