"""A careful reader's recomputation of every committed report (scripts/reader_check.py): the databases read with
SQLite and numpy alone give the report's points, rankings, trends and verdict words; a changed database or a
changed word is caught; bad input is refused with a clear message."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import ROOT

CHECK = os.path.join(ROOT, "scripts", "reader_check.py")


def reports():
    """results/reports.txt: (folder, options, databases) of every committed report."""
    with open(os.path.join(ROOT, "results", "reports.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                folder, *words = line.split()
                options = [w for i, w in enumerate(words) if w.startswith("--") or (i and words[i - 1].startswith("--"))]
                yield folder, options, [w for w in words if w not in options]


def reader_check(analysis, dbs):
    r = subprocess.run([sys.executable, CHECK, analysis, *dbs], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("folder,options,dbs", list(reports()), ids=lambda v: v if isinstance(v, str) else None)
def test_every_committed_report_is_what_its_databases_say(folder, options, dbs):
    rc, out = reader_check(os.path.join(folder, "analysis.json"), dbs)
    if "--energy" in options:  # net energy: subtracts baselines the reader does not recompute
        assert rc == 2 and "only gross GPU energy is recomputed" in out, out
        return
    assert rc == 0, out
    assert " 0 differ " in out and int(out.split(" checks agree")[0].split()[-1]) > 10, out


JOINT = "results/h200-paper43-2026-11-30/joint-with-h100"
JOINT_DBS = ["results/h100-paper43-2026-11-27/results.db", "results/h200-paper43-2026-11-30/study/results.db",
             "results/h200-paper43-tf32-full-2026-11-30/study/results.db"]


def test_a_changed_database_is_caught(tmp_path):
    h200 = tmp_path / "h200.db"
    shutil.copy(os.path.join(ROOT, JOINT_DBS[1]), h200)
    with sqlite3.connect(h200) as db:
        db.execute("UPDATE phases SET gpu_energy_j = gpu_energy_j * 1.5 "
                   "WHERE run_id IN (SELECT id FROM runs WHERE config = 'mlp:1x512')")
    rc, out = reader_check(os.path.join(JOINT, "analysis.json"), [JOINT_DBS[0], str(h200), JOINT_DBS[2]])
    assert rc == 1, out
    assert "DIFFERS runs_summary ('NVIDIA H200', 'mlp:1x512', 'train'): median energy" in out, out
    assert "DIFFERS two_trends NVIDIA H200 train: ratio at the low" in out, out
    assert "DIFFERS predictors NVIDIA H200 test FLOPs: by held-out family" in out, out


def test_a_changed_word_is_caught(tmp_path):
    with open(os.path.join(ROOT, JOINT, "analysis.json")) as f:
        analysis = json.load(f)
    for row in analysis["tables"]["by_gpu"]["rows"]:
        if row["verdict"] == "differs":
            row["verdict"] = "holds"  # what an overstated report would say
    for row in analysis["tables"]["by_baseline"]["rows"]:
        if row["quantity"] == "Spearman of GPU utilization and energy (train, NVIDIA H200)" and row["contrast"]:
            row["contrast_value"] *= 2  # a contrast that is not the two values' difference
        if row["quantity"] == "MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (train, NVIDIA H200)":
            row["contrast_ci_lo"] = row["contrast_ci_lo"] and 0.9  # the contrast's interval now includes 1: not 'differs'
    analysis["findings"] = [f.replace("only at the high end (above 1)", "only at the middle (above 1)")
                            .replace("is not established as more or less than the family's", "is more than the family's")
                            for f in analysis["findings"]]
    (tmp_path / "a.json").write_text(json.dumps(analysis))
    rc, out = reader_check(str(tmp_path / "a.json"), JOINT_DBS)
    assert rc == 1, out
    assert "by_gpu 'training minus testing power, W (RNN)' (NVIDIA H200): verdict: recomputed 'differs', report 'holds'" in out
    assert "two_trends NVIDIA H200 train: the finding's words" in out, out
    assert "software_choices NVIDIA H200 train: against the family, the finding's words" in out, out
    assert ("by_baseline 'Spearman of GPU utilization and energy (train, NVIDIA H200)' (session idle, CUDA context): "
            "minus no baseline (gross)") in out, out
    assert ("by_baseline 'MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (train, NVIDIA H200)' "
            "(no baseline (gross)): verdict: recomputed 'not established', report 'differs'") in out, out


def test_bad_input_is_refused_by_name(tmp_path):
    analysis = os.path.join(JOINT, "analysis.json")
    rc, out = reader_check(analysis, [str(tmp_path / "none.db")])
    assert rc == 2 and "none.db: no such file" in out, out
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE runs(x)")
    rc, out = reader_check(analysis, [str(tmp_path / "other.db")])
    assert rc == 2 and "other.db: not a sedenergy study database" in out, out
    (tmp_path / "junk.db").write_text("not SQLite at all, long enough to be read as a header........................")
    rc, out = reader_check(analysis, [str(tmp_path / "junk.db")])
    assert rc == 2 and "junk.db:" in out and "Traceback" not in out, out
    (tmp_path / "a.json").write_text("{")
    rc, out = reader_check(str(tmp_path / "a.json"), JOINT_DBS)
    assert rc == 2 and "a.json: not a report's analysis.json" in out, out
    rc, out = reader_check(analysis, [])
    assert rc == 2 and "Usage" in out, out


def test_one_name_in_two_loops_is_read_as_two_implementations(tmp_path, cli):
    """The implementations study's bf16 runs relabelled as Python-loop runs of pytorch-default: one name, two
    loops. The report reads the C++ loop's runs as 'pytorch-default (C++ loop)', the model findings the
    Python loop's; the reader, by the same rule, recomputes the same points and words."""
    mixed = tmp_path / "mixed.db"
    shutil.copy(os.path.join(ROOT, "results", "h200-implementations-2026-11-30", "study", "results.db"), mixed)
    with sqlite3.connect(mixed) as db:
        db.execute("UPDATE runs SET impl = 'pytorch-default', variant = replace(variant, 'impl bf16', 'impl pytorch-default'), "
                   "spec_json = replace(spec_json, '\"impl\":\"fused/eager/bf16/device\"', "
                   "'\"impl\":\"foreach/eager/fp32/host/python\"') WHERE impl = 'bf16'")
    r = subprocess.run([cli, "report", str(mixed), "-o", str(tmp_path / "report")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(tmp_path / "report" / "analysis.json") as f:
        analysis = json.load(f)
    findings = " ".join(analysis["findings"])
    assert "Runs named pytorch-default ran in two loops here" in findings, findings
    assert "the findings on models read the 12 points of 'pytorch-default'" in findings, findings
    impls = {row["impl"] for row in analysis["tables"]["software_choices"]["rows"]}
    assert "pytorch-default (C++ loop)" in impls and "bf16" not in impls, impls
    rc, out = reader_check(str(tmp_path / "report" / "analysis.json"), [str(mixed)])
    assert rc == 0, out
