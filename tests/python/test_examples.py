"""The examples, run as a user runs them: generated DESED data, features exported by the CLI, then the plain
PyTorch loop (and the Lightning script where Lightning is installed), then `sedenergy report` on the results."""
import importlib.util
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import CODECARBON_COLUMNS, find_cli


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    cli = find_cli()
    d = tmp_path_factory.mktemp("desed")
    subprocess.run([cli, "synth", "--out", str(d / "data"), "--clips", "24"], check=True, capture_output=True)
    subprocess.run([cli, "features", "--data", str(d / "data"), "--export", "npy", "--out", str(d / "feats")],
                   check=True, capture_output=True)
    return ["--features", str(d / "feats"), "--tsv", str(d / "data" / "metadata" / "train" / "weak.tsv")]


def run_example(examples, name, args, tmp_path):
    out = subprocess.run([sys.executable, os.path.join(examples, name)] + args, capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_phase_files(out_dir, phases):
    for phase in phases:
        df = pd.read_csv(out_dir / f"emissions_{phase}.csv")
        assert list(df.columns) == CODECARBON_COLUMNS and len(df) >= 1
        assert (df.energy_consumed > 0).all() and (df.duration > 0).all()


def test_plain_loop_example(examples, features, tmp_path, cli):
    result = run_example(examples, "train_plain.py", features + ["--out", str(tmp_path / "energy"), "--device", "cpu"],
                         tmp_path)
    for phase in ("train", "test"):
        r = result[phase]
        assert r["name"] == phase and r["duration_s"] > 0 and r["energy_j"] > 0
        assert r["timeline"] >= 1 or r["duration_s"] < 0.2  # the sampler's rows (every 0.1 s)
        assert any(d["domain"] == "cpu" for d in r["domains"])
    assert result["train"]["duration_s"] > result["test"]["duration_s"]
    check_phase_files(tmp_path / "energy", ("train", "test"))
    rep = subprocess.run([cli, "report", str(tmp_path / "energy" / "energy.db"), str(tmp_path / "energy"),
                          "-o", str(tmp_path / "report")], capture_output=True, text=True)
    assert rep.returncode == 0, rep.stderr
    # two windows from the database and two rows from the CSVs of the same run
    assert "windows: 4" in rep.stdout
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "Runs side by side" in summary and "train" in summary


def lightning_installed():
    return any(importlib.util.find_spec(m) for m in ("lightning", "pytorch_lightning"))


@pytest.mark.skipif(not lightning_installed(), reason="PyTorch Lightning is not installed (Debian 12 has no package "
                                                      "for it); this runs on the GPU machine")
def test_lightning_example(examples, features, tmp_path):
    result = run_example(examples, "train_lightning.py", features + ["--out", str(tmp_path / "energy"),
                                                                     "--epochs", "2"], tmp_path)
    assert set(result) >= {"fit", "validate", "test"}
    assert len(result["validate"]) == 2  # one per epoch, inside fit
    fit = result["fit"][0]
    assert fit["duration_s"] >= sum(v["duration_s"] for v in result["validate"])
    check_phase_files(tmp_path / "energy", ("fit", "validate", "test"))


def test_dcase_baseline_replica_runs_with_only_the_import_changed(examples, features, tmp_path):
    # The baseline's hooks: trackers made in on_train_start/on_test_start, stopped in the *_end hooks, then the
    # private attribute _total_energy.kWh read and written to the kWh files (issue 31, item 1).
    exp = tmp_path / "exp"
    result = run_example(examples, "dcase_baseline_replica.py", features + ["--out", str(exp), "--epochs", "2"],
                         tmp_path)
    train = pd.read_csv(exp / "training_codecarbon" / "emissions_baseline_training.csv")
    test = pd.read_csv(exp / "devtest_codecarbon" / "emissions_baseline_test.csv")
    assert list(train.columns) == CODECARBON_COLUMNS and len(train) == 1 and len(test) == 1
    assert result["training_kwh"] == pytest.approx(train.energy_consumed[0], rel=1e-9) and result["training_kwh"] > 0
    assert result["devtest_kwh"] == pytest.approx(test.energy_consumed[0], rel=1e-9)
    assert float((exp / "training_codecarbon" / "training_tot_kwh.txt").read_text()) == result["training_kwh"]
    assert float((exp / "devtest_codecarbon" / "devtest_tot_kwh.txt").read_text()) == result["devtest_kwh"]
    assert train.project_name[0] == "DCASE Task 4 SED TRAINING" and train.country_iso_code[0] == "FRA"


@pytest.mark.skipif(not lightning_installed(), reason="PyTorch Lightning is not installed (Debian 12 has no package "
                                                      "for it); this runs on the GPU machine")
def test_dcase_baseline_replica_under_lightning(examples, features, tmp_path):
    exp = tmp_path / "exp"
    result = run_example(examples, "dcase_baseline_replica.py", features + ["--out", str(exp), "--lightning"], tmp_path)
    assert result["training_kwh"] > 0 and result["devtest_kwh"] > 0
    assert len(pd.read_csv(exp / "training_codecarbon" / "emissions_baseline_training.csv")) == 1
