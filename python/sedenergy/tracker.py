"""A drop-in for CodeCarbon's trackers as DCASE code uses them.

    from sedenergy import OfflineEmissionsTracker      # instead of: from codecarbon import ...
    tracker = OfflineEmissionsTracker(project_name="train", output_dir="energy", country_iso_code="FRA",
                                      gpu_ids=[torch.cuda.current_device()])
    tracker.start(); train(); kg = tracker.stop()

stop() appends one row of CodeCarbon's 38 columns to output_dir/output_file (the same row `sedenergy measure`
writes; rows appended atomically, one header). Tasks (start_task/stop_task) may overlap, and each stopped task
appends its row to output_dir/emissions_<task>.csv. Energy comes from counters (NVML, RAPL) where the machine
has them, otherwise from CodeCarbon's own CPU/RAM models, and the record says which.
"""
import atexit
import dataclasses
import functools
import logging
import os
import signal
import threading
import time
import warnings

from . import _lib, distributed
from .errors import SedenergyError
from .meter import Meter, WindowRecord
from .outputs import check_output_dir, emissions_context

log = logging.getLogger("sedenergy")

# Arguments that cannot change sedenergy's numbers: accepted quietly, with the reason in the debug log.
_NO_EFFECT = {
    "api_call_interval": "no API", "save_to_api": "no API", "api_endpoint": "no API", "api_key": "no API",
    "emissions_endpoint": "no API", "save_to_logger": "no logger output", "logging_logger": "no logger output",
    "allow_multiple_runs": "several trackers may always run", "experiment_name": "kept only as a label",
    "logger_preamble": "log prefix", "co2_signal_api_token": "offline", "electricitymaps_api_token": "offline",
    "save_to_prometheus": "no Prometheus", "prometheus_url": "no Prometheus",
}


class _Preemption:
    """SIGTERM (how Slurm and Kubernetes stop a job) ends every running tracker's windows and writes their rows,
    each flagged as interrupted, then the signal goes where it would have gone: the handler the program had, or
    the default action (the process ends by the signal, as without a tracker). Installed while a tracker runs,
    from the main thread only (Python's rule); the program's own handler, set before, is kept and chained."""

    def __init__(self):
        self.running = []        # trackers started and not yet stopped
        self.previous = None     # the SIGTERM handler before ours; None: ours is not installed
        self.pending = None      # a signal that arrived while a tracker was writing its row

    def started(self, tracker):
        self.running.append(tracker)
        if self.previous is None and threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_signal)

    def stopped(self, tracker):
        if tracker in self.running:
            self.running.remove(tracker)
        if self.running or self.previous is None:
            return
        if self.pending is not None:
            signum, self.pending = self.pending, None
            self._pass_on(signum, None)
        elif signal.getsignal(signal.SIGTERM) == self._on_signal:  # another handler set since stays
            signal.signal(signal.SIGTERM, self.previous)
            self.previous = None

    def _on_signal(self, signum, frame):
        if any(t._stopping for t in self.running):
            self.pending = signum  # passed on once that tracker's row is written (stopped)
            return
        previous, self.previous = self.previous, None  # so the trackers' stop() below leaves the handlers alone
        for tracker in list(self.running):
            tracker._stop(flag=f"interrupted by signal {signal.Signals(signum).name}: the row holds the run so far")
        self.previous = previous
        self._pass_on(signum, frame)

    def _pass_on(self, signum, frame):
        previous, self.previous = self.previous, None
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous in (signal.SIG_DFL, None):
            os.kill(os.getpid(), signum)  # the default action now: the process ends by the signal


_preemption = _Preemption()


@atexit.register
def _stop_at_exit():
    """A tracker still running when the interpreter exits (sys.exit, an uncaught Ctrl-C) writes its row, as
    CodeCarbon's does."""
    for tracker in list(_preemption.running):
        tracker._stop(flag="stopped at interpreter exit without stop()")


class Energy:
    """CodeCarbon's Energy as its users read it: tracker._total_energy.kWh (the DCASE baselines do)."""

    def __init__(self, kwh=0.0):
        self.kWh = float(kwh)

    @property
    def kwh(self):  # some DCASE forks spell it so
        return self.kWh

    def __float__(self):
        return self.kWh

    def __repr__(self):
        return f"Energy(kWh={self.kWh})"


class Power:
    """CodeCarbon's Power as its users read it: tracker._gpu_power.W."""

    def __init__(self, watts=0.0):
        self.W = float(watts)

    def __repr__(self):
        return f"Power(W={self.W})"


@dataclasses.dataclass
class EmissionsData:
    """One row of emissions.csv (CodeCarbon's EmissionsData): numbers as numbers, in the CSV's units."""
    values: dict

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def values_list(self):
        return list(self.values.values())


def _typed(value):
    try:
        return float(value) if value not in ("", None) else value
    except ValueError:
        return value


def _gpu_ordinals(gpu_ids):
    if gpu_ids is None:
        return None
    if isinstance(gpu_ids, str):
        gpu_ids = [g for g in gpu_ids.split(",") if g.strip()]
    try:
        return [int(g) for g in gpu_ids]
    except (TypeError, ValueError):
        raise SedenergyError(f"gpu_ids: expected CUDA device numbers such as [0] or '0,1', got {gpu_ids!r}") from None


class EmissionsTracker:
    """CodeCarbon's EmissionsTracker, measured by sedenergy. See the module's help."""

    _offline = False

    def __init__(self, project_name="codecarbon", output_dir=".", output_file="emissions.csv", save_to_file=True,
                 gpu_ids=None, country_iso_code=None, experiment_id=None, pue=1.0, tracking_mode="machine",
                 log_level=None, on_csv_write="append", database=None, region=None,
                 force_carbon_intensity_g_co2e_kwh=None, wue=0.0, output_methods=None, measure_power_secs=15,
                 gather_timeout_s=120.0, **kwargs):
        save_to_file = self._warn_unsupported(kwargs, tracking_mode, on_csv_write, output_methods, save_to_file)
        if log_level is not None:
            log.setLevel(str(log_level).upper() if isinstance(log_level, str) else log_level)
        self._project_name, self._experiment_id = project_name, experiment_id or ""
        self._output_dir, self._output_file, self._save_to_file = str(output_dir), output_file, save_to_file
        self._gpu_ordinals = _gpu_ordinals(gpu_ids)
        self._database = database
        self._gather_timeout_s, self._job_windows = float(gather_timeout_s), 0  # several ranks: sedenergy.distributed
        # Read back by some scripts. sedenergy reads energy counters: the period only sets the timeline detail.
        self._measure_power_secs, self._pue = measure_power_secs, pue
        self._context = emissions_context(project_name, experiment_id, pue, country_iso_code, region,
                                          carbon_intensity=force_carbon_intensity_g_co2e_kwh, wue=wue)
        if save_to_file:
            check_output_dir(self._output_dir, output_file)
        self._meter, self._start_time = None, None  # _start_time: time.time() at start(), as CodeCarbon's
        self._stopping = False
        self._records = []
        self._tasks = {}
        self._task_data = {}
        self._totals(None)
        self.final_emissions_data = None
        self.final_emissions = None

    @staticmethod
    def _warn_unsupported(kwargs, tracking_mode, on_csv_write, output_methods, save_to_file):
        """Warns once, by name, of each argument sedenergy cannot honour; returns whether rows go to a file."""
        unsupported = []
        for name in kwargs:
            if name in _NO_EFFECT:
                log.debug("argument %s: %s", name, _NO_EFFECT[name])
            else:
                unsupported.append(name)
        if tracking_mode != "machine":
            unsupported.append(f"tracking_mode={tracking_mode!r} (sedenergy measures the machine's GPUs, CPU and RAM)")
        if on_csv_write not in ("append", "update"):
            unsupported.append(f"on_csv_write={on_csv_write!r} (a run has one row; runs are appended)")
        if output_methods is not None:  # CodeCarbon 3: where rows go; sedenergy writes files only
            methods = [m.strip() for m in (output_methods.split(",") if isinstance(output_methods, str) else output_methods)]
            save_to_file = any(m in ("csv", "file") for m in methods)
            unsupported += [f"output_methods {m!r}" for m in methods if m not in ("csv", "file")]
        if unsupported:
            warnings.warn("sedenergy tracker: not supported, ignored: " + ", ".join(unsupported), stacklevel=3)
        return save_to_file

    def _totals(self, data):
        """CodeCarbon's running totals, which scripts read (tracker._total_energy.kWh): set by flush() and stop()."""
        get = (lambda k: getattr(data, k) or 0.0) if data is not None else (lambda k: 0.0)
        self._total_energy = Energy(get("energy_consumed"))
        self._total_cpu_energy, self._total_gpu_energy = Energy(get("cpu_energy")), Energy(get("gpu_energy"))
        self._total_ram_energy = Energy(get("ram_energy"))
        self._cpu_power, self._gpu_power, self._ram_power = Power(get("cpu_power")), Power(get("gpu_power")), Power(get("ram_power"))
        self._total_water_litres = get("water_consumed")

    # ---- the tracker ----
    def start(self):
        """Starts measuring (again after a stop: a new run with a new run_id)."""
        if self._meter is not None:
            log.warning("sedenergy tracker: already started")
            return
        self._totals(None)
        self._start_time = time.time()
        self._meter = Meter(cuda_devices=self._gpu_ordinals, database=self._database,
                            project_name=self._project_name, experiment_id=self._experiment_id, source="tracker")
        self._context["gpu_models"] = self._meter.gpu_models()
        self._context["run_id"] = self._meter.run_uuid
        self._meter.begin_window(self._project_name)
        _preemption.started(self)

    @property
    def run_id(self):
        return self._context.get("run_id")

    def stop(self):
        """Stops, writes the run's row (in place of a flush()'s), and returns the emissions in kg CO2eq. Stopped
        again, it returns the same value and writes nothing."""
        if self._meter is None:
            if self.final_emissions is None:
                log.warning("sedenergy tracker: stop() without start()")
            return self.final_emissions
        return self._stop()

    def _stop(self, flag=None):
        """Ends the tasks and the run, each window's record carrying `flag` when given, and writes their rows."""
        self._stopping = True
        try:
            for name in list(self._tasks):
                self._stop_task(name, flag)
            record = self._meter.end_window(self._project_name, flag)
            if self._meter.rank.distributed and self._save_to_file:
                data = self._write_job(record, self._gather_timeout_s if flag is None else min(10.0, self._gather_timeout_s))
            else:
                data = self._write(record, self._output_file, run_row=True)
        finally:
            self._records += self._meter.records
            self._meter.close()
            self._meter = None
            self._stopping = False
            _preemption.stopped(self)
        self._totals(data)
        self.final_emissions_data = data
        self.final_emissions = data.emissions
        return data.emissions

    def flush(self):
        """Writes the run's row so far and keeps measuring: a job killed later keeps it; the next flush() or
        stop() writes the run's row in its place, never a second one. Returns the emissions so far (kg CO2eq)."""
        if self._meter is None:
            log.error("sedenergy tracker: flush() before start()")
            return None
        record = self._meter.read_window(self._project_name)
        if self._meter.rank.distributed and self._save_to_file:  # this rank's row so far; the job's comes at stop()
            distributed.write_rank_row(self._meter.rank, self._output_dir, self._output_file, self._project_name,
                                       self._job_windows, record.raw, self._context)
            data = EmissionsData({k: _typed(v) for k, v in _lib.emissions_row(record.raw, self._context)})
        else:
            data = self._write(record, self._output_file, run_row=True)
        self._totals(data)
        return data.emissions

    def start_task(self, task_name=None):
        if self._meter is None:
            self.start()
        name = task_name or f"task_{len(self._task_data) + len(self._tasks) + 1}"
        self._meter.begin_window(name)
        self._tasks[name] = True
        return name

    def stop_task(self, task_name=None):
        """Ends a task (the last one started when no name is given); returns its EmissionsData."""
        if not self._tasks:
            raise SedenergyError("stop_task: no task is running")
        name = task_name or list(self._tasks)[-1]
        if name not in self._tasks:
            raise SedenergyError(f"stop_task: no running task '{name}' (running: {', '.join(self._tasks)})")
        return self._stop_task(name)

    def _stop_task(self, name, flag=None):
        del self._tasks[name]
        data = self._write(self._meter.end_window(name, flag), f"emissions_{name}.csv")
        self._task_data[name] = data
        return data

    def _write(self, record: WindowRecord, file_name, run_row=False):
        """run_row: the run's own row, which replaces the one an earlier flush() of this run wrote (tasks append)."""
        if self._save_to_file:
            _lib.emissions_append(os.path.join(self._output_dir, file_name), record.raw, self._context,
                                  replace_run_row=run_row)
        return EmissionsData({k: _typed(v) for k, v in _lib.emissions_row(record.raw, self._context)})

    def _write_job(self, record, timeout_s):
        """Several ranks (sedenergy.distributed): the job's row on rank 0, every rank's own in <output>_ranks.csv;
        returns the job's data on rank 0, this rank's elsewhere."""
        rank = self._meter.rank
        job = distributed.write_job(rank, self._output_dir, self._output_file, self._project_name, self._job_windows,
                                    record.raw, self._context, timeout_s)
        self._job_windows += 1
        if job is None:
            return EmissionsData({k: _typed(v) for k, v in _lib.emissions_row(record.raw, self._context)})
        if job[0]["ranks_missing"]:
            log.warning("sedenergy tracker: %s", job[0]["flags"][1])
        return EmissionsData({k: _typed(v) for k, v in _lib.emissions_row(*job)})

    @property
    def records(self):
        """Every window measured so far (the tracker's runs and their tasks), as sedenergy WindowRecords."""
        return self._records + (list(self._meter.records) if self._meter else [])

    # ---- context manager and decorator ----
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


class OfflineEmissionsTracker(EmissionsTracker):
    """CodeCarbon's OfflineEmissionsTracker: the carbon intensity of country_iso_code (world average without it),
    or of its region where the data has regions (CAN provinces: "quebec" or "QC"; SWE and NOR bidding zones)."""

    _offline = True

    def __init__(self, *args, country_iso_code=None, region=None, cloud_provider=None, cloud_region=None, **kwargs):
        ignored = [n for n, v in (("cloud_provider", cloud_provider), ("cloud_region", cloud_region)) if v]
        if ignored:
            warnings.warn("sedenergy tracker: not supported, ignored: " + ", ".join(ignored) +
                          " (the country's average carbon intensity is used)", stacklevel=2)
        super().__init__(*args, country_iso_code=country_iso_code, region=region, **kwargs)


def track_emissions(fn=None, **tracker_args):
    """@track_emissions or @track_emissions(project_name=..., ...): one tracker run per call."""
    offline = tracker_args.pop("offline", False)
    cls = OfflineEmissionsTracker if offline or "country_iso_code" in tracker_args else EmissionsTracker

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            with cls(**tracker_args):
                return f(*args, **kwargs)
        return wrapper
    return decorate(fn) if fn is not None else decorate
