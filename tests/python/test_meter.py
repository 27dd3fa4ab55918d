"""Named windows around a real (small) PyTorch training: records, nesting, context manager, decorator, database."""
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

import sedenergy
from sedenergy import SedenergyError


def small_cnn():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(8 * 64 * 32, 10))


def train_for(model, seconds):
    """Trains until `seconds` have passed (windows long enough that their boundaries' few ms do not matter)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        train_steps(model, 2)


def train_steps(model, steps=30):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(8, 1, 128, 64), torch.randint(0, 2, (8, 10)).float()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()
    return loss.item()


@pytest.fixture
def meter():
    with sedenergy.Meter(period_s=0.05) as m:
        yield m


def test_training_window_has_energy_per_domain_with_methods(meter):
    model = small_cnn()
    with meter.window("train") as w:
        train_steps(model)
    r = w.record
    assert r is meter.records[-1] and r.name == "train"
    assert r.duration_s > 0.05
    assert r.started_at.endswith("Z")
    domains = {d.domain for d in r.domains}
    assert {"cpu", "ram"} <= domains
    for d in r.domains:
        assert d.energy_j > 0, d
        assert d.method
        # an estimate says so in its method and its flag; a counter never claims to be estimated
        assert d.estimated == d.method.startswith("estimated"), d
    if any(d.estimated for d in r.domains):
        assert r.estimated
        assert any("estimated" in f for f in r.flags)
    assert r.energy_j == pytest.approx(sum(d.energy_j for d in r.domains))
    assert r.samples >= 1 and r.timeline, "the sampler's timeline is in the record"
    d = r.to_dict()
    assert d["name"] == "train" and d["energy_j"] == r.energy_j and d["domains"][0]["method"]


def test_nested_windows_add_up(meter):
    model = small_cnn()
    meter.begin_window("epoch")
    with meter.window("train"):
        train_for(model, 0.6)
    with meter.window("test"), torch.no_grad():
        end = time.monotonic() + 0.4
        while time.monotonic() < end:
            model(torch.randn(8, 1, 128, 64))
    outer = meter.end_window("epoch")
    inner = [r for r in meter.records if r.name in ("train", "test")]
    assert len(inner) == 2
    assert sum(r.duration_s for r in inner) <= outer.duration_s
    assert sum(r.duration_s for r in inner) > 0.9 * outer.duration_s
    # RAM is a constant-power domain here or a counter: both add up exactly over disjoint inner windows
    assert sum(r.ram_energy_j for r in inner) <= outer.ram_energy_j * 1.001
    assert sum(r.energy_j for r in inner) == pytest.approx(outer.energy_j, rel=0.25)


def test_overlapping_windows(meter):
    meter.begin_window("a")
    time.sleep(0.2)
    meter.begin_window("b")
    time.sleep(0.2)
    a = meter.end_window("a")
    time.sleep(0.2)
    b = meter.end_window("b")
    assert a.duration_s == pytest.approx(0.4, abs=0.1)
    assert b.duration_s == pytest.approx(0.4, abs=0.1)


def test_context_manager_closes_the_window_and_reraises(meter):
    with pytest.raises(ZeroDivisionError):
        with meter.window("fails"):
            time.sleep(0.1)
            1 / 0
    assert meter.records[-1].name == "fails" and meter.records[-1].duration_s >= 0.1
    meter.begin_window("fails")  # closed, so the name is free again
    meter.end_window("fails")


def test_decorator_measures_each_call_and_reraises(meter):
    @meter.window("step")
    def step(n):
        if n < 0:
            raise ValueError("negative")
        return train_steps(small_cnn(), n)

    assert isinstance(step(3), float)
    step(2)
    with pytest.raises(ValueError):
        step(-1)
    assert [r.name for r in meter.records] == ["step", "step", "step"]
    assert step.__name__ == "step"


def test_window_errors_are_clear(meter):
    with pytest.raises(SedenergyError, match="never begun"):
        meter.end_window("train")
    meter.begin_window("x")
    with pytest.raises(SedenergyError, match="already open"):
        meter.begin_window("x")
    meter.end_window("x")
    meter.close()
    with pytest.raises(SedenergyError, match="closed"):
        meter.begin_window("y")


def test_idle_baseline_gives_net_energy():
    with sedenergy.Meter(period_s=0.05, idle_s=0.3) as m:
        with m.window("busy"):
            train_steps(small_cnn(), 10)
        r = m.records[-1]
        assert all(d.idle_power_w is not None for d in r.domains)
        assert r.net_energy_j is not None and 0 <= r.net_energy_j <= r.energy_j
        assert m.info()["idle"]["name"] == "idle"


def test_unknown_meter_option_is_refused():
    with pytest.raises(SedenergyError, match="unknown key 'colour'"):
        sedenergy.Meter(colour="red")
    with pytest.raises(SedenergyError, match="period_s"):
        sedenergy.Meter(period_s=0.0001)


def test_records_go_to_a_database_that_report_reads(tmp_path, cli):
    db = tmp_path / "energy.db"
    with sedenergy.Meter(database=db, project_name="proj", experiment_id="exp1", period_s=0.02) as m:
        with m.window("train"):
            train_steps(small_cnn(), 10)
        with m.window("test"):
            time.sleep(0.2)
    rows = sqlite3.connect(db).execute(
        "SELECT name, project_name, experiment_id, source, duration_s, energy_j, run_uuid FROM user_windows ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == ["train", "test"]
    assert rows[0][1:4] == ("proj", "exp1", "python") and rows[0][4] > 0 and rows[0][5] > 0
    assert rows[0][6] == rows[1][6] == m.run_uuid
    out = subprocess.run([cli, "report", str(db), "-o", str(tmp_path / "rep")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "windows: 2" in out.stdout
    # The database stays one file: reading it leaves nothing beside it.
    assert not (tmp_path / "energy.db-wal").exists() and not (tmp_path / "energy.db-shm").exists()
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "Energy of your runs" in html and "u-timeline-0" in html and "train" in html
    assert (tmp_path / "rep" / "windows.csv").read_text().count("\n") == 3


SHARING_SCRIPT = r"""
import json, os, sys, time
import sedenergy
procs, other = os.environ["FAKE_NVML_PROCESSES"], int(sys.argv[1])
with open(procs, "w") as f:  # this process holds a context on GPU 0 at 40% SM; `other` (if any) at 60%
    f.write("0 %d 40\n" % os.getpid() + ("0 %d 60\n" % other if other else ""))
meter = sedenergy.Meter(gpus=[0], period_s=0.05)
with meter.window("train"):
    time.sleep(0.8)
r = meter.records[-1]
print(json.dumps({"shared": r.shared, "sharing": r.gpu_sharing, "selection": r.gpu_selection, "flags": r.flags,
                  "gpus": [d.device for d in r.domains if d.domain == "gpu"]}))
"""


@pytest.mark.skipif(not os.environ.get("FAKE_NVML_DIR"), reason="needs the fake NVML driver of the build")
@pytest.mark.parametrize("with_other", [False, True])
def test_another_process_on_the_gpu_is_flagged(tmp_path, with_other):
    """With the fake NVIDIA driver (a real dlopen of libnvidia-ml.so.1): the record says when another
    process held a context on the window's GPU, with its share of the SM utilization, and not otherwise."""
    other = subprocess.Popen(["sleep", "30"]) if with_other else None
    env = dict(os.environ, LD_LIBRARY_PATH=os.environ["FAKE_NVML_DIR"], FAKE_NVML_PROCESSES=str(tmp_path / "contexts"))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    try:
        out = subprocess.run([sys.executable, "-c", SHARING_SCRIPT, str(other.pid if other else 0)], env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        if other:
            other.kill()
            other.wait()
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["gpus"] == ["gpu0 Fake NVML GPU"]
    assert r["selection"] == "gpus [0] (NVML ids)"
    if with_other:
        assert r["shared"] is True
        assert r["sharing"]["gpu0"]["other_pids"] == [other.pid]
        assert r["sharing"]["gpu0"]["other_sm_util_share"] == pytest.approx(0.6)
        assert any(f.startswith("gpu0: shared: 1 other process") for f in r["flags"]), r["flags"]
    else:
        assert r["shared"] is False and r["sharing"] == {}
        assert not any("shared" in f for f in r["flags"]), r["flags"]
