"""The CodeCarbon drop-in: the same constructor arguments as the DCASE baseline, CodeCarbon's CSV columns in
order, atomic appends from many processes, clear errors before any work."""
import os
import subprocess
import sys
import time
import warnings

import pandas as pd
import pytest

import sedenergy
from sedenergy import OfflineEmissionsTracker, EmissionsTracker, SedenergyError
from conftest import CODECARBON_COLUMNS


def busy(seconds=0.3):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1
    return x


def test_dcase_baseline_arguments_and_csv(tmp_path):
    # As the DCASE 2024 task 4 baseline builds it (gpu_ids=[torch.cuda.current_device()] on a GPU machine).
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every argument below is supported: no warning
        tracker = OfflineEmissionsTracker("DCASE Task 4 SED TRAINING", output_dir=str(tmp_path),
                                          output_file="emissions_baseline_training.csv", log_level="warning",
                                          country_iso_code="FRA", save_to_file=True, measure_power_secs=15)
    tracker.start()
    busy()
    kg = tracker.stop()
    df = pd.read_csv(tmp_path / "emissions_baseline_training.csv")
    assert list(df.columns) == CODECARBON_COLUMNS
    assert len(df) == 1
    row = df.iloc[0]
    assert row.project_name == "DCASE Task 4 SED TRAINING" and row.country_iso_code == "FRA"
    assert row.duration >= 0.3 and row.energy_consumed > 0
    assert row.energy_consumed == pytest.approx(row.cpu_energy + row.gpu_energy + row.ram_energy, rel=1e-6)
    assert row.emissions == pytest.approx(kg, rel=1e-6)
    assert kg == pytest.approx(row.energy_consumed * 67.39 / 1000, rel=1e-6)  # France: 67.39 g/kWh (2021)
    assert row.python_version.count(".") == 2 and row.codecarbon_version == "sedenergy"
    data = tracker.final_emissions_data
    assert data.emissions == kg and data.run_id == row.run_id and data.duration == pytest.approx(row.duration)


def test_restart_and_context_manager_and_decorator(tmp_path):
    tracker = EmissionsTracker(project_name="p", output_dir=str(tmp_path))
    tracker.start(); busy(0.1); first = tracker.stop()
    tracker.start(); busy(0.1); second = tracker.stop()  # a stopped tracker starts again (CodeCarbon #217)
    with EmissionsTracker(project_name="p", output_dir=str(tmp_path)):
        busy(0.1)

    @sedenergy.track_emissions(project_name="p", output_dir=str(tmp_path))
    def work():
        return busy(0.1)

    work()
    df = pd.read_csv(tmp_path / "emissions.csv")
    assert len(df) == 4 and df.run_id.nunique() == 4
    assert first > 0 and second > 0


def test_tasks_overlap_and_get_their_own_files(tmp_path):
    tracker = EmissionsTracker(project_name="p", output_dir=str(tmp_path))
    tracker.start()
    tracker.start_task("load")
    busy(0.1)
    tracker.start_task("train")
    busy(0.2)
    load = tracker.stop_task("load")
    train = tracker.stop_task()
    tracker.stop()
    assert load.duration >= 0.3 and train.duration >= 0.2 and train.energy_consumed > 0
    assert [r.name for r in tracker.records] == ["load", "train", "p"]
    assert len(pd.read_csv(tmp_path / "emissions_load.csv")) == 1
    assert len(pd.read_csv(tmp_path / "emissions_train.csv")) == 1
    with pytest.raises(SedenergyError, match="no task is running"):
        tracker.stop_task()


def test_unsupported_arguments_warn_once(tmp_path):
    with pytest.warns(UserWarning, match="not supported, ignored: .*cloud_region") as caught:
        OfflineEmissionsTracker(output_dir=str(tmp_path), country_iso_code="USA", cloud_provider="gcp",
                                cloud_region="us-east1")
    assert len(caught) == 1
    with pytest.warns(UserWarning, match="tracking_mode='process'.*made_up_option|made_up_option.*tracking_mode"):
        EmissionsTracker(output_dir=str(tmp_path), tracking_mode="process", made_up_option=3)


def test_ten_processes_append_one_header_and_ten_rows(tmp_path):
    script = ("import sys, sedenergy; t = sedenergy.EmissionsTracker(project_name='p' + sys.argv[1], "
              "output_dir=sys.argv[2]); t.start(); t.stop()")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i), str(tmp_path)]) for i in range(10)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 10
    text = (tmp_path / "emissions.csv").read_text()
    assert text.count("timestamp,project_name") == 1
    df = pd.read_csv(tmp_path / "emissions.csv")
    assert list(df.columns) == CODECARBON_COLUMNS and len(df) == 10
    assert sorted(df.project_name) == sorted(f"p{i}" for i in range(10))


def test_bad_input_fails_before_work_and_writes_nothing(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SedenergyError, match="output_dir .*a-file/sub.*cannot create"):
        EmissionsTracker(output_dir=str(blocker / "sub"))
    with pytest.raises(SedenergyError, match="unknown country code 'XYZ'"):
        OfflineEmissionsTracker(output_dir=str(tmp_path), country_iso_code="XYZ")
    with pytest.raises(SedenergyError, match="pue"):
        EmissionsTracker(output_dir=str(tmp_path), pue=-1)
    with pytest.raises(SedenergyError, match="gpu_ids"):
        EmissionsTracker(output_dir=str(tmp_path), gpu_ids=["zero"])
    tracker = EmissionsTracker(output_dir=str(tmp_path), gpu_ids=[7])
    with pytest.raises(SedenergyError, match="CUDA device 7"):
        tracker.start()
    assert not (tmp_path / "emissions.csv").exists()
    # a foreign CSV is not appended to
    (tmp_path / "emissions.csv").write_text("a,b\n1,2\n")
    t = EmissionsTracker(output_dir=str(tmp_path))
    t.start()
    with pytest.raises(SedenergyError, match="other columns"):
        t.stop()
    assert (tmp_path / "emissions.csv").read_text() == "a,b\n1,2\n"


def test_missing_library_names_the_paths_and_the_fix(tmp_path):
    code = "import sedenergy; sedenergy.Meter()"
    env = dict(os.environ, SEDENERGY_LIBRARY=str(tmp_path / "nowhere" / "libsedenergy.so.0"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "LibraryNotFound" in out.stderr and "nowhere/libsedenergy.so.0: no such file" in out.stderr
    assert "SEDENERGY_LIBRARY" in out.stderr


def test_region_sets_the_carbon_intensity_and_the_region_column(tmp_path):
    """A Canadian province (CodeCarbon's region argument): its own intensity, not Canada's average; the
    region column filled; a region the data does not have fails before any work, naming the known ones."""
    with OfflineEmissionsTracker(output_dir=str(tmp_path), output_file="qc.csv", country_iso_code="CAN",
                                 region="quebec") as qc:
        time.sleep(0.3)
    with OfflineEmissionsTracker(output_dir=str(tmp_path), output_file="ab.csv", country_iso_code="CAN",
                                 region="AB") as ab:
        time.sleep(0.3)
    rows = {name: pd.read_csv(tmp_path / f"{name}.csv").iloc[0] for name in ("qc", "ab")}
    assert rows["qc"]["region"] == "quebec" and rows["ab"]["region"] == "alberta"
    intensity = {k: r["emissions"] / r["energy_consumed"] for k, r in rows.items()}  # kg per kWh
    assert intensity["qc"] == pytest.approx(0.0296, rel=1e-3)
    assert intensity["ab"] == pytest.approx(0.6308, rel=1e-3)
    with pytest.raises(SedenergyError, match=r"unknown region 'atlantis' of CAN \(known: AB \(alberta\)"):
        OfflineEmissionsTracker(output_dir=str(tmp_path), country_iso_code="CAN", region="atlantis")
    with pytest.raises(SedenergyError, match="no regional data for USA"):
        OfflineEmissionsTracker(output_dir=str(tmp_path), country_iso_code="USA", region="california")


PREEMPTED = r'''
import os, signal, sys, time
from sedenergy import OfflineEmissionsTracker
out, how, own = sys.argv[1], sys.argv[2], sys.argv[3] == "own"
if own:  # the program's own handler, set before the tracker: it must still run, after the row is written
    def handler(signum, frame):
        open(os.path.join(out, "own-handler-ran"), "w").write(str(os.path.exists(os.path.join(out, "emissions.csv"))))
        sys.exit(7)
    signal.signal(signal.SIGTERM, handler)
tracker = OfflineEmissionsTracker(project_name="preempted", output_dir=out, country_iso_code="FRA", database=os.path.join(out, "e.db"))
if how == "with":
    with tracker:
        tracker.start_task("epoch")
        open(os.path.join(out, "ready"), "w").close()
        time.sleep(60)
else:
    tracker.start()
    open(os.path.join(out, "ready"), "w").close()
    time.sleep(60)
    tracker.stop()
'''


def _preempt(tmp_path, how, own, signum):
    script = tmp_path / "train.py"
    script.write_text(PREEMPTED)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), how, "own" if own else "none"])
    for _ in range(600):
        if (tmp_path / "ready").exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert (tmp_path / "ready").exists(), "the training script never started"
    time.sleep(0.3)
    proc.send_signal(signum)
    return proc.wait(timeout=30)


@pytest.mark.parametrize("how", ["start-stop", "with"])
def test_sigterm_writes_the_row_so_far_then_ends_the_process_by_the_signal(tmp_path, how):
    rc = _preempt(tmp_path, how, own=False, signum=15)
    assert rc == -15  # ended by SIGTERM, as it would have been without a tracker
    df = pd.read_csv(tmp_path / "emissions.csv")
    assert list(df.columns) == CODECARBON_COLUMNS and len(df) == 1
    assert df.iloc[0].project_name == "preempted" and df.iloc[0].duration >= 0.3
    if how == "with":  # the running task's row too
        assert len(pd.read_csv(tmp_path / "emissions_epoch.csv")) == 1
    import sqlite3
    flags = [r[0] for r in sqlite3.connect(tmp_path / "e.db").execute("SELECT flags FROM user_windows")]
    assert flags and all("interrupted by signal SIGTERM" in f for f in flags), flags


def test_sigterm_keeps_the_programs_own_handler(tmp_path):
    rc = _preempt(tmp_path, "start-stop", own=True, signum=15)
    assert rc == 7  # the program's handler ran and chose the exit code
    assert (tmp_path / "own-handler-ran").read_text() == "True"  # after the row was written
    assert len(pd.read_csv(tmp_path / "emissions.csv")) == 1


def test_ctrl_c_without_with_still_writes_the_row_at_exit(tmp_path):
    rc = _preempt(tmp_path, "start-stop", own=False, signum=2)
    assert rc == -2  # an uncaught KeyboardInterrupt ends Python by SIGINT, as without a tracker
    assert len(pd.read_csv(tmp_path / "emissions.csv")) == 1


def test_non_finite_options_are_refused_by_name(tmp_path):
    with pytest.raises(SedenergyError, match=r"period_s: nan is not a finite number"):
        sedenergy.Meter(period_s=float("nan"))
    with pytest.raises(SedenergyError, match=r"pue: nan is not a finite number"):
        OfflineEmissionsTracker(output_dir=str(tmp_path), pue=float("nan"))
    with pytest.raises(SedenergyError, match=r"idle_s: inf is not a finite number"):
        sedenergy.Meter(idle_s=float("inf"))


def test_codecarbon_private_totals_flush_and_a_second_stop(tmp_path):
    # What DCASE scripts read and call beyond the public API (issue 31, item 1).
    tracker = OfflineEmissionsTracker("p", output_dir=str(tmp_path), country_iso_code="FRA")
    assert tracker._total_energy.kWh == 0  # before any measurement, as CodeCarbon's
    tracker.start()
    busy(0.3)
    kg_so_far = tracker.flush()  # the row so far, written now; the run goes on
    df = pd.read_csv(tmp_path / "emissions.csv")
    assert len(df) == 1 and df.emissions[0] == pytest.approx(kg_so_far, rel=1e-6)
    assert tracker._total_energy.kWh == pytest.approx(df.energy_consumed[0], rel=1e-9)
    first_duration = df.duration[0]
    busy(0.3)
    tracker.flush()
    kg = tracker.stop()
    df = pd.read_csv(tmp_path / "emissions.csv")
    assert len(df) == 1  # the flushed row was replaced, never duplicated
    assert df.duration[0] > first_duration + 0.25 and df.emissions[0] == pytest.approx(kg, rel=1e-6)
    assert df.run_id[0] == tracker.run_id == tracker.final_emissions_data.run_id
    t = tracker
    assert t._total_energy.kWh == pytest.approx(df.energy_consumed[0], rel=1e-9) == pytest.approx(
        t._total_cpu_energy.kWh + t._total_gpu_energy.kWh + t._total_ram_energy.kWh, rel=1e-6)
    assert t._total_energy.kwh == t._total_energy.kWh and t._cpu_power.W > 0
    assert tracker.stop() == kg  # stopped again: the same value, nothing written
    assert len(pd.read_csv(tmp_path / "emissions.csv")) == 1
    assert tracker.final_emissions == kg and tracker.final_emissions_data.energy_consumed == t._total_energy.kWh
    # Another run appended after, then a third run's flush: each run keeps its one row.
    tracker.start(); busy(0.1); tracker.stop()
    other = EmissionsTracker("q", output_dir=str(tmp_path))
    other.start(); other.flush(); busy(0.1); other.stop()
    df = pd.read_csv(tmp_path / "emissions.csv")
    assert len(df) == 3 and df.run_id.nunique() == 3


def test_codecarbon_3_arguments_are_honoured(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracker = EmissionsTracker("p", output_dir=str(tmp_path), force_carbon_intensity_g_co2e_kwh=100.0, wue=1.8,
                                   output_methods=["csv"], on_csv_write="update")
    tracker.start(); busy(0.2); kg = tracker.stop()
    row = pd.read_csv(tmp_path / "emissions.csv").iloc[0]
    assert kg == pytest.approx(row.energy_consumed * 100.0 / 1000, rel=1e-6)
    assert row.wue == 1.8 and row.water_consumed == pytest.approx(row.energy_consumed * 1.8, rel=1e-6)
    with pytest.warns(UserWarning, match=r"output_methods 'prometheus'"):
        quiet = EmissionsTracker("p", output_dir=str(tmp_path / "none"), output_methods="prometheus")
    quiet.start(); quiet.stop()
    assert not (tmp_path / "none" / "emissions.csv").exists()  # no file method: no file
