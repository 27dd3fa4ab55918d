"""The study's Python loop (python/sedenergy/study_loop.py) as `sedenergy study` drives it: a real interpreter
process with PyTorch, JSON lines on its stdin and stdout, sources as raw float32 files, on the CPU."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")


class Worker:
    def __init__(self, tmp_path):
        self.proc = subprocess.Popen([sys.executable, "-m", "sedenergy.study_loop"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.tmp = tmp_path

    def call(self, **request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def source(self, name, x, y):
        paths = {k: str(self.tmp / f"{name}.{k}.f32") for k in ("x", "y")}
        x.astype(np.float32).tofile(paths["x"])
        y.astype(np.float32).tofile(paths["y"])
        return self.call(op="source", name=name, x_shape=list(x.shape), y_shape=list(y.shape), **paths)

    def model(self, **kw):
        request = dict(op="model", spec="mlp:1x16", mels=8, frames=4, seed=3, optimizer="foreach", precision="fp32",
                       lr=1e-3, batch=8, loss="bce-softmax", train="train", test="test", device="cpu")
        request.update(kw)
        return self.call(**request)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.flush()
        return self.proc.wait(timeout=30)


@pytest.fixture
def worker(tmp_path):
    w = Worker(tmp_path)
    rng = np.random.default_rng(0)
    y = np.zeros((20, 10))
    y[np.arange(20), rng.integers(0, 10, 20)] = 1
    assert w.source("train", rng.random((20, 1, 8, 4)), y) == {}
    assert w.source("test", rng.random((12, 1, 8, 4)), y[:12]) == {}
    yield w
    w.close()


def test_a_run_trains_tests_and_predicts_as_the_study_asks(worker):
    hello = worker.call(op="hello")
    assert hello["torch"] == torch.__version__
    reply = worker.model()
    assert reply["parameters"] == 8 * 4 * 16 + 16 + 16 * 10 + 10  # the study's mlp:1x16 on 8 x 4 input
    assert reply["optimizer"].startswith("torch.optim.Adam() in Python")
    assert worker.call(op="subset", indices=list(range(20))) == {}
    assert worker.call(op="train_epoch", steps=-1) == {"steps": 3, "stopped": False}  # 20 clips, batch 8
    assert worker.call(op="train_epoch", steps=2)["steps"] == 2  # a warm-up of 2 steps
    assert worker.call(op="subset", indices=[0, 1, 2, 3, 4]) == {}
    assert worker.call(op="train_epoch", steps=-1)["steps"] == 1
    assert worker.call(op="test_epoch") == {"stopped": False}
    loss = worker.call(op="loss")["loss"]
    assert 0 < loss < 1
    scores = worker.call(op="predict", source="test")
    assert len(scores["scores"]) == 12 * 10 and len(scores["targets"]) == 12 * 10
    sums = np.array(scores["scores"]).reshape(12, 10).sum(axis=1)
    assert np.allclose(sums, 1, atol=1e-5)  # softmax outputs


def test_kept_weights_come_back_and_a_seed_gives_the_same_model(worker):
    worker.model()
    worker.call(op="subset", indices=list(range(20)))
    before = worker.call(op="predict", source="test")["scores"]
    assert worker.call(op="keep", slot="start") == {}
    worker.call(op="train_epoch", steps=-1)
    trained = worker.call(op="predict", source="test")["scores"]
    assert not np.allclose(before, trained)
    worker.call(op="restore", slot="start")
    assert np.allclose(worker.call(op="predict", source="test")["scores"], before)
    worker.model()  # the same seed: the same start weights
    assert np.allclose(worker.call(op="predict", source="test")["scores"], before)


def test_bce_with_logits_drops_the_softmax_and_predicts_probabilities(worker):
    plain = worker.model()["parameters"]
    assert worker.model(loss="bce-logits")["parameters"] == plain  # the softmax has no parameters
    worker.call(op="subset", indices=list(range(20)))
    assert worker.call(op="train_epoch", steps=-1)["steps"] == 3
    assert worker.call(op="loss")["loss"] > 0
    scores = np.array(worker.call(op="predict", source="test")["scores"]).reshape(12, 10)
    assert ((scores > 0) & (scores < 1)).all()
    assert not np.allclose(scores.sum(axis=1), 1, atol=1e-3)  # per-class sigmoids, not a softmax


def test_bad_requests_are_errors_and_the_worker_goes_on(worker):
    assert "not hinge" in worker.model(loss="hinge")["error"]
    assert "mlp:1x16+time" in worker.model(spec="mlp:1x16+time")["error"]
    assert "unknown request 'eval'" in worker.call(op="eval")["error"]
    assert "unknown request '__init__'" in worker.call(op="__init__")["error"]
    assert worker.model()["parameters"] > 0


def test_sigusr1_ends_the_epoch_after_the_step_and_sigint_is_the_studys(worker, tmp_path):
    rng = np.random.default_rng(1)
    y = np.zeros((4000, 10))
    y[:, 1] = 1
    worker.source("big", rng.random((4000, 1, 8, 4)), y)
    worker.model(train="big", batch=1)
    worker.call(op="subset", indices=list(range(4000)))
    worker.proc.send_signal(signal.SIGINT)  # the study's to handle: the worker stays
    worker.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert worker.proc.poll() is None
    worker.proc.stdin.write(json.dumps({"op": "train_epoch", "steps": -1}) + "\n")
    worker.proc.stdin.flush()
    time.sleep(0.3)
    worker.proc.send_signal(signal.SIGUSR1)
    reply = json.loads(worker.proc.stdout.readline())
    assert reply["stopped"] is True
    assert 0 < reply["steps"] < 4000
    assert worker.call(op="train_epoch", steps=-1)["steps"] == 1  # a stop is final: each later epoch ends at once


def test_prints_go_to_stderr_not_into_the_replies():
    # A handler that prints, as a library's note would: the replies on stdout stay JSON lines.
    code = ("import sedenergy.study_loop as s; hello = s.StudyLoop.hello; "
            "s.StudyLoop.hello = lambda self, r: (print('a note'), hello(self, r))[1]; s.main()")
    proc = subprocess.run([sys.executable, "-c", code], input='{"op": "hello"}\n{"op": "quit"}\n',
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["torch"] for line in proc.stdout.splitlines()] == [torch.__version__]
    assert "a note" in proc.stderr
