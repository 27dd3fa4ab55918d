"""The reference bench's energy summary (bench/energy_vs_pytorch_summary.py) on the H100's committed passes and on
passes written here: the verdict per configuration and family, the passes that must agree, and the exit code that
says whether every family is within the tolerance, counterbalanced."""
import csv
import json
import os
import shutil
import subprocess
import sys

from conftest import ROOT

SUMMARY = os.path.join(ROOT, "bench", "energy_vs_pytorch_summary.py")
H100 = os.path.join(ROOT, "results", "h100-reference-bench-2026-12-07", "bench")
# The same bench with the study's reference as a Python loop (c545324 on): two counterbalanced passes.
H100_PYTHON = os.path.join(ROOT, "results", "h100-python-reference-bench-2026-12-07", "bench")
FAMILIES = {"mlp:1x512": "MLP", "cnn:1x128": "CNN", "rnn:1x512": "RNN", "crnn:1x1:64x64": "CRNN"}


def summarize(folder):
    r = subprocess.run([sys.executable, SUMMARY, str(folder)], capture_output=True, text=True, timeout=120)
    with open(os.path.join(folder, "energy_vs_pytorch.csv")) as f:
        rows = {(row["step"], row["config"]): row for row in csv.DictReader(f)}
    with open(os.path.join(folder, "energy_vs_pytorch.json")) as f:
        return r.returncode, rows, json.load(f)["implementations"]["pytorch-default"]


def test_the_h100_passes_say_what_its_readme_quotes(tmp_path):
    for name in os.listdir(H100):
        shutil.copy(os.path.join(H100, name), tmp_path)
    rc, rows, families = summarize(tmp_path)
    assert rc == 1  # not every family within, and no pass 2 on the sedenergy side
    mlp = rows[("train", "mlp:1x512")]
    assert mlp["verdict"] == "beyond" and float(mlp["ratio_pytorch_over_cpp"]) == 2.7275
    assert mlp["paired_passes"] == "1" and mlp["pytorch_blocks"] == "10"
    assert rows[("test", "crnn:1x1:64x64")]["verdict"] == "within"
    assert rows[("train", "crnn:1x1:64x64")]["verdict"] == "not established"
    assert not any(f["counterbalanced"] for step in families.values() for f in step.values())


def test_the_python_reference_passes_say_what_their_readme_quotes(tmp_path):
    for name in os.listdir(H100_PYTHON):
        shutil.copy(os.path.join(H100_PYTHON, name), tmp_path)
    rc, rows, families = summarize(tmp_path)
    assert rc == 1  # every family counterbalanced, none established within 5 %
    quoted = {"mlp:1x512": 0.9996, "cnn:1x128": 1.0268, "rnn:1x512": 1.0442, "crnn:1x1:64x64": 0.9923}
    for config, ratio in quoted.items():
        row = rows[("train", config)]
        assert float(row["ratio_pytorch_over_cpp"]) == ratio
        assert row["paired_passes"] == "2" and row["verdict"] == "not established"
        assert float(row["lo"]) < 1 < float(row["hi"])
    assert all(f["counterbalanced"] and f["verdict"] == "not established"
               for step in families.values() for f in step.values())


def write_pass(folder, side, number, blocks_by_config):
    with open(os.path.join(folder, f"train_step_{side}_pytorch-default_pass{number}.jsonl"), "w") as f:
        for config, blocks in blocks_by_config.items():
            f.write(json.dumps({"config": config, "family": FAMILIES[config], "train_j_per_epoch_blocks": blocks,
                                "test_j_per_epoch_blocks": blocks}) + "\n")


def test_every_pass_must_agree_and_two_make_a_family_counterbalanced(tmp_path):
    # Two passes a side, PyTorch within 1 % of sedenergy in each: every family within, counterbalanced: exit 0.
    same = {c: [100.0, 100.2, 99.8, 100.1, 99.9] for c in FAMILIES}
    near = {c: [100.6, 100.8, 100.4, 100.9, 100.5] for c in FAMILIES}
    for n in (1, 2):
        write_pass(tmp_path, "cpp", n, same)
        write_pass(tmp_path, "pytorch", n, near)
    rc, rows, families = summarize(tmp_path)
    assert rc == 0, rows
    assert all(row["verdict"] == "within" and row["paired_passes"] == "2" for row in rows.values())
    assert all(f["verdict"] == "within" and f["counterbalanced"] for step in families.values() for f in step.values())
    # The MLP's PyTorch pass 1 has 15 blocks at 100 J, its pass 2 five at 106 J: the pooled median (100) and its
    # interval over blocks lie within 5 %, but pass 2 alone is 6 % dearer: not established, and the exit says so.
    write_pass(tmp_path, "pytorch", 1, dict(near, **{"mlp:1x512": [100.0] * 15}))
    write_pass(tmp_path, "pytorch", 2, dict(near, **{"mlp:1x512": [106.0] * 5}))
    rc, rows, families = summarize(tmp_path)
    mlp = rows[("train", "mlp:1x512")]
    assert float(mlp["hi"]) <= 1.05 and float(mlp["pass_ratio_max"]) > 1.05, mlp
    assert mlp["verdict"] == "not established" and families["train"]["MLP"]["verdict"] == "not established"
    assert families["train"]["CNN"]["verdict"] == "within"
    assert rc == 1
    # One pass only: the verdicts stand, but no family is counterbalanced, so the bench does not pass.
    for name in ("train_step_cpp_pytorch-default_pass2.jsonl", "train_step_pytorch_pytorch-default_pass2.jsonl"):
        os.remove(tmp_path / name)
    write_pass(tmp_path, "pytorch", 1, near)
    rc, rows, families = summarize(tmp_path)
    assert all(row["verdict"] == "within" and row["paired_passes"] == "1" for row in rows.values())
    assert rc == 1 and not families["train"]["MLP"]["counterbalanced"]
