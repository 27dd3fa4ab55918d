"""scripts/repetition_spread.py on committed study databases: each configuration's first two repetitions compared
by one SQL self-join here, their medians and maxima as the script prints them; a file that is not a database
refused by name."""
import os
import re
import sqlite3
import statistics
import subprocess
import sys

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "repetition_spread.py")
H200 = os.path.join(ROOT, "results", "h200-paper43-2026-11-30", "study", "results.db")
H100 = os.path.join(ROOT, "results", "h100-paper43-2026-11-27", "results.db")


def gaps(path, phase, column):
    db = sqlite3.connect(path)
    rows = db.execute(f"""select a.{column}, b.{column} from runs r1 join phases a on a.run_id = r1.id
        join runs r2 on r2.config = r1.config and r2.variant is r1.variant and r2.repetition = 2
        join phases b on b.run_id = r2.id and b.phase = a.phase
        where r1.repetition = 1 and r1.status = 'ok' and r2.status = 'ok' and a.phase = ?""", (phase,)).fetchall()
    return [abs(x - y) / ((x + y) / 2) for x, y in rows]


def test_the_spread_of_two_repetitions_per_phase():
    r = subprocess.run([sys.executable, SCRIPT, H200, H100], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    for line, (path, phase) in zip(lines, [(H200, "train"), (H200, "test"), (H100, "train"), (H100, "test")]):
        time, energy = gaps(path, phase, "duration_s"), gaps(path, phase, "gpu_energy_j")
        assert line.startswith(f"{path} {phase} ({len(time)} configurations): ")
        printed = [float(x) for x in re.findall(r"(\d+\.\d) %", line)]
        want = [100 * statistics.median(time), 100 * max(time), 100 * statistics.median(energy), 100 * max(energy)]
        assert printed == [round(w, 1) for w in want], (line, want)


def test_a_file_that_is_not_a_database_is_named():
    readme = os.path.join(ROOT, "README.md")
    r = subprocess.run([sys.executable, SCRIPT, readme], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and f"{readme}: not a study database" in r.stderr
