"""Named measurement windows around your own code.

    import sedenergy
    meter = sedenergy.Meter(database="energy.db")
    with meter.window("train"):
        train()
    record = meter.records[-1]          # a WindowRecord: energy per domain with its method, flags, ...

    @meter.window("test")               # or as a decorator: one window per call
    def test(): ...

Windows may nest and overlap. Before each window boundary the GPU work already queued by PyTorch is waited
for (torch.cuda.synchronize, when torch has initialised CUDA), so a window holds the work launched inside it.
"""
import ctypes
import dataclasses
import functools
import os
import sys
import threading
import uuid
import warnings
from typing import Any, Dict, List, Optional

from . import _lib
from .distributed import Rank, own_cuda_device
from .errors import SedenergyError


@dataclasses.dataclass
class DomainEnergy:
    domain: str  # gpu, cpu, ram
    device: str
    method: str  # how energy_j was obtained ("nvml total-energy counter delta", "estimated: ...")
    estimated: bool
    energy_j: float
    mean_power_w: float
    peak_power_w: float
    uncertainty_j: Optional[float] = None
    integral_energy_j: Optional[float] = None  # GPUs: the power integral, a cross-check of the counter
    idle_power_w: Optional[float] = None
    net_energy_j: Optional[float] = None  # above the idle baseline, when one was measured


@dataclasses.dataclass
class WindowRecord:
    name: str
    started_at: str
    duration_s: float
    domains: List[DomainEnergy]
    flags: List[str]
    cpu_load: float
    samples: int
    gpu_utilization_pct: Optional[float] = None
    gpu_memory_utilization_pct: Optional[float] = None
    gpu_activity: Dict[str, float] = dataclasses.field(default_factory=dict)
    timeline: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    gpu_selection: str = ""  # how the window's GPUs were chosen
    # GPUs other processes also used during the window ({"gpu0": {"other_processes": 1, "other_pids": [...],
    # "other_sm_util_share": 0.4}}): their energy is in that GPU's counter too.
    gpu_sharing: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    run_uuid: str = ""
    rank: Dict[str, Any] = dataclasses.field(default_factory=dict)  # under several ranks: which (distributed.Rank)
    raw: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)  # the library's record, as is

    @classmethod
    def from_json(cls, j, run_uuid=""):
        fields = {f.name for f in dataclasses.fields(DomainEnergy)}
        return cls(
            name=j.get("name", ""), started_at=j.get("started_at", ""), duration_s=j["duration_s"],
            domains=[DomainEnergy(**{k: v for k, v in d.items() if k in fields}) for d in j.get("domains", [])],
            flags=list(j.get("flags", [])), cpu_load=j.get("cpu_load", 0.0), samples=j.get("samples", 0),
            gpu_utilization_pct=j.get("gpu_utilization_pct"),
            gpu_memory_utilization_pct=j.get("gpu_memory_utilization_pct"),
            gpu_activity=dict(j.get("gpu_activity", {})), timeline=list(j.get("timeline", [])),
            gpu_selection=j.get("gpu_selection", ""), gpu_sharing=dict(j.get("gpu_sharing", {})),
            run_uuid=run_uuid, rank=dict(j.get("rank", {})), raw=j)

    def _sum(self, domain=None, net=False):
        total = 0.0
        for d in self.domains:
            if domain in (None, d.domain):
                total += (d.net_energy_j or 0.0) if net else d.energy_j
        return total

    @property
    def energy_j(self):
        return self._sum()

    @property
    def gpu_energy_j(self):
        return self._sum("gpu")

    @property
    def cpu_energy_j(self):
        return self._sum("cpu")

    @property
    def ram_energy_j(self):
        return self._sum("ram")

    @property
    def net_energy_j(self):
        """Energy above the idle baseline (None when no baseline was measured: Meter(idle_s=...))."""
        if not any(d.idle_power_w is not None for d in self.domains):
            return None
        return self._sum(net=True)

    @property
    def shared(self):
        """True when another process used one of the window's GPUs (see gpu_sharing and flags)."""
        return bool(self.gpu_sharing)

    @property
    def estimated(self):
        """True when any domain is an estimate rather than a counter."""
        return any(d.estimated for d in self.domains)

    def to_dict(self):
        out = dataclasses.asdict(self)
        out.pop("raw")
        out.update(energy_j=self.energy_j, gpu_energy_j=self.gpu_energy_j, cpu_energy_j=self.cpu_energy_j,
                   ram_energy_j=self.ram_energy_j, net_energy_j=self.net_energy_j, estimated=self.estimated)
        return out


def _cuda_synchronize(devices=None):
    """Waits for queued GPU work on the CUDA devices measured (all when None), if this process has PyTorch with
    CUDA initialised (never imports torch). Only those: waiting on another GPU would open a context there."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            for device in (range(torch.cuda.device_count()) if devices is None else devices):
                torch.cuda.synchronize(device)
    except Exception:  # a broken CUDA state must not hide the measurement; the window says nothing of it
        pass


class _Window:
    """What meter.window(name) returns: a context manager, and a decorator (one window per call)."""

    def __init__(self, meter, name):
        self._meter, self._name, self.record = meter, name, None

    def __enter__(self):
        self._meter.begin_window(self._name)
        return self

    def __exit__(self, exc_type, exc, tb):
        # The window is ended whatever happened inside; an exception goes on after it.
        self.record = self._meter.end_window(self._name)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _Window(self._meter, self._name):
                return fn(*args, **kwargs)
        return wrapper


class Meter:
    """A meter: its sensors, a sampler thread, and named windows.

    period_s: sampler period. gpus: "all", "none", or NVML indices / UUIDs. cuda_devices: CUDA ordinals of this
    process (as CodeCarbon's gpu_ids; with CUDA_VISIBLE_DEVICES set, the GPUs it names are used when neither is
    given). idle_s: seconds of idle baseline measured now (records then carry idle and net energy).
    database: a results file every ended window is recorded in (read by `sedenergy report`).
    project_name, experiment_id: how those records are labelled. sync_cuda: synchronise CUDA at boundaries (the
    devices measured only). Other keyword options go to the library (timeline, activity, gpm, cpu_tdp_w, host_share).
    Under torchrun or Slurm with several ranks, the meter measures this rank's GPU and its share of the node's CPU
    and RAM, and its records say which rank they are (sedenergy.distributed); `rank` (a distributed.Rank) says so
    where the launcher's variables do not (Lightning's own DDP launcher).
    """

    def __init__(self, period_s=0.1, gpus=None, cuda_devices=None, idle_s=0.0, database=None,
                 project_name="sedenergy", experiment_id="", sync_cuda=True, source="python", rank=None, **options):
        opts = dict(options, period_s=period_s, idle_s=idle_s)
        self.rank = Rank.from_env() if rank is None else rank
        if self.rank.distributed:
            cuda_devices, gpus = self._rank_devices(cuda_devices, gpus)
            opts.setdefault("host_share", 1.0 / self.rank.local_world_size)
        self._sync_devices = None if cuda_devices is None else [int(d) for d in cuda_devices]
        if gpus is not None:
            opts["gpus"] = gpus
        if cuda_devices is not None:
            opts["cuda_devices"] = [int(d) for d in cuda_devices]
        elif gpus is None:
            visible = _visible_cuda_devices()
            if visible == []:
                opts["gpus"] = "none"
            elif visible is not None:
                opts["cuda_devices"] = visible
        self.database = str(database) if database is not None else None
        self.run_uuid = str(uuid.uuid4())
        self.project_name, self.experiment_id, self.source = project_name, experiment_id, source
        self.sync_cuda = sync_cuda
        self.records: List[WindowRecord] = []
        self._open: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._handle = _lib.meter_open(opts)
        self._info = _lib.meter_info(self._handle)  # fixed once open: sensors, GPUs, idle baseline, host
        _warn_rapl_permission(self._info)

    def _rank_devices(self, cuda_devices, gpus):
        """Under several ranks, this rank's own GPU unless the caller chose."""
        if cuda_devices is not None or gpus is not None:
            return cuda_devices, gpus
        visible = _visible_cuda_devices()
        if visible == [] or not _cuda_present():
            return None, "none"
        return [own_cuda_device(self.rank, visible, _cuda_device_count())], None

    # ---- windows ----
    def begin_window(self, name):
        """Starts the window `name` (names of open windows are unique)."""
        name = str(name)
        with self._lock:
            self._check_open()
            if name in self._open:
                raise SedenergyError(f"window '{name}' is already open")
            self._open[name] = -1  # reserved while the library starts it
        try:
            if self.sync_cuda:
                _cuda_synchronize(self._sync_devices)
            wid = _lib.window_begin(self._handle, name)
        except BaseException:
            with self._lock:
                self._open.pop(name, None)
            raise
        with self._lock:
            self._open[name] = wid
        return name

    def end_window(self, name, flag=None):
        """Ends the window `name` and returns its WindowRecord (also appended to .records); `flag`, when given,
        is added to the record's flags (e.g. why the window ended early)."""
        name = str(name)
        with self._lock:
            self._check_open()
            wid = self._open.get(name)
            if wid is None or wid < 0:
                open_names = ", ".join(sorted(self._open)) or "none"
                raise SedenergyError(f"window '{name}' was never begun (open windows: {open_names})")
            del self._open[name]
        if self.sync_cuda:
            _cuda_synchronize(self._sync_devices)
        raw = self._with_rank(_lib.window_end(self._handle, wid, name))
        if flag:
            raw.setdefault("flags", []).append(flag)
        record = WindowRecord.from_json(raw, self.run_uuid)
        with self._lock:
            self.records.append(record)
        if self.database:
            self.record_in(self.database, record)
        return record

    def read_window(self, name):
        """The open window `name` so far, as a WindowRecord; the window stays open (not added to .records)."""
        name = str(name)
        with self._lock:
            self._check_open()
            wid = self._open.get(name)
            if wid is None or wid < 0:
                raise SedenergyError(f"window '{name}' is not open")
        if self.sync_cuda:
            _cuda_synchronize(self._sync_devices)
        return WindowRecord.from_json(self._with_rank(_lib.window_read(self._handle, wid, name)), self.run_uuid)

    def _with_rank(self, raw):
        if self.rank.distributed:
            raw["rank"] = self.rank.to_dict()
        return raw

    def window(self, name):
        """A context manager (`with meter.window("train"):`) or decorator (`@meter.window("test")`)."""
        return _Window(self, str(name))

    # ---- outputs ----
    def record_in(self, database, record):
        """Adds a record to a results database (created if missing)."""
        run = {"run_uuid": self.run_uuid, "source": self.source, "project_name": self.project_name,
               "experiment_id": self.experiment_id, "command": " ".join(sys.argv)}
        _lib.store_window(str(database), run, record.raw)

    def info(self):
        """Sensors (with why one is unavailable), the GPUs measured, the idle baseline, the host."""
        self._check_open()
        return self._info

    def gpu_models(self):
        return [g["name"] for g in self._info["gpus"]]

    # ---- lifetime ----
    def close(self):
        with self._lock:
            handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            _lib.meter_close(handle)

    def _check_open(self):
        if not self._handle:
            raise SedenergyError("the meter is closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


_rapl_warned = False


def _warn_rapl_permission(info):
    """Once per process: RAPL is there but unreadable, so CPU/RAM are estimated; the warning says the fix."""
    global _rapl_warned
    for s in info.get("sensors", []):
        if s["name"] == "rapl" and "permission denied" in s["detail"] and not _rapl_warned:
            _rapl_warned = True
            warnings.warn("sedenergy: CPU and RAM energy will be estimated: " + s["detail"], stacklevel=3)


def _cuda_present():
    """Whether this process can have a CUDA device (ranks on CPUs, with gloo, have none): PyTorch's answer when it is
    imported, else whether the CUDA driver library loads (loading it opens no context)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.cuda.is_available()
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def _cuda_device_count():
    """PyTorch's count of CUDA devices when it is imported (counting opens no context), else None."""
    torch = sys.modules.get("torch")
    return torch.cuda.device_count() if torch is not None else None


def _visible_cuda_devices():
    """Every CUDA ordinal CUDA_VISIBLE_DEVICES leaves this process (None when it is unset: all GPUs)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return None
    entries = [e for e in env.split(",") if e.strip()]
    if not entries or entries[0].strip() == "-1":
        return []
    return list(range(len(entries)))
