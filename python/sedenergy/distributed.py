"""Distributed training measured as one job: torchrun / DDP ranks and Slurm tasks.

Which process is which comes from the launcher's environment: torchrun's RANK, LOCAL_RANK, WORLD_SIZE and
LOCAL_WORLD_SIZE, else Slurm's SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS and the tasks on this node
(SLURM_STEP_TASKS_PER_NODE or SLURM_TASKS_PER_NODE, with SLURM_NODEID). Under several ranks each meter:
  - measures its own GPU only: the one CUDA_VISIBLE_DEVICES leaves it when there is one, else its LOCAL_RANK;
  - waits only for its own device at window boundaries (never opening a CUDA context on another GPU);
  - counts 1 / LOCAL_WORLD_SIZE of its node's CPU and RAM energy (host_share), so that a node's host energy is
    counted once across its ranks, whatever their number (chosen over "local rank 0 measures the node": every
    rank's record then stands for its own share, and a rank that dies takes only its share with it).
Each record carries its rank (`WindowRecord.rank`). The tracker (sedenergy.EmissionsTracker) adds the ranks of one
job into one row: each rank leaves its record in output_dir/.sedenergy-ranks/, rank 0 waits for the others (at
most gather_timeout_s) and writes the job's row (energy summed over ranks and nodes, the slowest rank's
duration) to its output_file, and every rank's own row to <output_file>_ranks.csv (emissions_ranks.csv); flush()
writes the rank's row so far there. A rank that never comes is named
in the job record's flags; the gather never hangs the training. The records meet through files even when a
process group exists: a collective (gather_object) at window end waits for every rank, so a rank that died
would hang the others until the process group's own timeout (30 min by default), which is what this must avoid;
the files cost 20.6 ms for 8 ranks on one host (bench/rank_gather.py, results/debian-rank-gather-2026-12-06).
"""
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import time

from . import _lib
from .errors import SedenergyError


@dataclasses.dataclass(frozen=True)
class Rank:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    job_id: str = ""  # the launcher's job (SLURM_JOB_ID.step, TORCHELASTIC_RUN_ID with the rendezvous address)
    node: str = ""

    @property
    def distributed(self):
        return self.world_size > 1

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_env(cls, env=None):
        """This process's rank, from torchrun's variables, else Slurm's, else a single process. A variable that is
        not a whole number, or ranks that do not fit their world size, are refused by name."""
        env = os.environ if env is None else env
        node = env.get("SLURMD_NODENAME") or socket.gethostname()
        if "RANK" in env and "WORLD_SIZE" in env:
            world = _whole(env, "WORLD_SIZE", 1)
            rank = cls(_whole(env, "RANK", 0), _whole(env, "LOCAL_RANK", 0), world,
                       _whole(env, "LOCAL_WORLD_SIZE", 1) if "LOCAL_WORLD_SIZE" in env else world, _torchrun_job(env),
                       node)
        elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
            rank = cls(_whole(env, "SLURM_PROCID", 0), _whole(env, "SLURM_LOCALID", 0), _whole(env, "SLURM_NTASKS", 1),
                       _slurm_tasks_here(env), ".".join(v for v in (env.get("SLURM_JOB_ID"), env.get("SLURM_STEP_ID"))
                                                         if v), node)
        else:
            return cls(node=node)
        if not (0 <= rank.rank < rank.world_size and 0 <= rank.local_rank < rank.local_world_size <= rank.world_size):
            raise SedenergyError(f"distributed: rank {rank.rank} (local {rank.local_rank}) does not fit world size "
                                 f"{rank.world_size} (local {rank.local_world_size}) given by the launcher")
        return rank


def _whole(env, name, minimum):
    text = env.get(name, "")
    if not re.fullmatch(r"\d+", text.strip()) or int(text) < minimum:
        raise SedenergyError(f"distributed: {name}={text!r} is not a whole number >= {minimum}")
    return int(text)


def _torchrun_job(env):
    parts = [env.get("TORCHELASTIC_RUN_ID", ""), env.get("MASTER_ADDR", ""), env.get("MASTER_PORT", ""),
             env.get("SLURM_JOB_ID", "")]
    return "torchrun:" + ":".join(parts)


def _slurm_tasks_here(env):
    """Tasks on this node, from Slurm's compact list ("2(x3),1": two tasks on each of three nodes, then one)."""
    text = env.get("SLURM_STEP_TASKS_PER_NODE") or env.get("SLURM_TASKS_PER_NODE")
    if not text:
        return _whole(env, "SLURM_NTASKS", 1)
    counts = []
    for part in text.split(","):
        m = re.fullmatch(r"(\d+)(?:\(x(\d+)\))?", part.strip())
        if not m:
            raise SedenergyError(f"distributed: SLURM_TASKS_PER_NODE={text!r} is not Slurm's task list")
        counts += [int(m.group(1))] * int(m.group(2) or 1)
    node = _whole(env, "SLURM_NODEID", 0) if "SLURM_NODEID" in env else 0
    return counts[min(node, len(counts) - 1)]


def own_cuda_device(rank, visible, device_count=None):
    """The CUDA ordinal a rank measures: its only visible device, else its local rank (modulo the devices there
    are: more ranks than GPUs share them, as `torch.cuda.set_device(local_rank % n)` does)."""
    if visible is not None and len(visible) == 1:
        return 0
    count = len(visible) if visible else device_count
    return rank.local_rank % count if count else rank.local_rank


# ---- the job's record from the ranks' records ----

def job_key(rank, name, sequence):
    """What every rank of one job computes alike for its sequence-th window called `name`."""
    return hashlib.sha1(f"{rank.job_id}|{name}|{sequence}".encode()).hexdigest()[:16]


def job_run_id(key):
    """One run_id for the job's rows (the job's and each rank's), the same on every rank."""
    h = hashlib.sha1(("sedenergy-job-" + key).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def leave_record(folder, key, rank, raw):
    """Writes this rank's record where rank 0 looks for it (whole or not at all: a temporary file renamed)."""
    os.makedirs(os.path.join(folder, key), exist_ok=True)
    path = os.path.join(folder, key, f"rank-{rank.rank}.json")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump({"rank": rank.to_dict(), "window": raw}, f)
    os.replace(tmp, path)


def gather_records(folder, key, world_size, timeout_s):
    """Rank 0: the ranks' records as they arrive, at most timeout_s; {rank: record}, missing ranks absent."""
    deadline = time.monotonic() + timeout_s
    found = {}
    while True:
        for r in range(world_size):
            path = os.path.join(folder, key, f"rank-{r}.json")
            if r not in found and os.path.exists(path):
                with open(path) as f:
                    found[r] = json.load(f)
        if len(found) == world_size or time.monotonic() >= deadline:
            return found
        time.sleep(0.005)  # 8 stat calls a poll: cheap next to the ranks it waits for


def _job_domains(records):
    """Every rank's domains, each device named with its node and rank; a GPU that several ranks of one node measured
    (ranks sharing a GPU) once, from the rank whose window was longest (each rank's counter saw the whole GPU).
    Returns (domains, flags)."""
    domains, shared = [], {}
    for r in sorted(records):
        who, window = records[r]["rank"], records[r]["window"]
        for d in window.get("domains", []):
            named = dict(d, device=f"{who['node']}/rank{r} {d.get('device', '')}".strip())
            if d.get("domain") != "gpu":
                domains.append(named)
                continue
            ranks, best = shared.get((who["node"], d.get("device")), ([], None))
            if best is None or window.get("duration_s", 0.0) > best[0]:
                best = (window.get("duration_s", 0.0), named)
            shared[(who["node"], d.get("device"))] = (ranks + [r], best)
    flags = []
    for (node, device), (ranks, (_, named)) in shared.items():
        domains.append(named)
        if len(ranks) > 1:
            flags.append(f"{node} {device} was measured by ranks {', '.join(map(str, ranks))} (they share it): "
                         f"counted once, from {named['device'].split()[0]} (the longest window)")
    return domains, flags


def job_window(records, world_size, timeout_s):
    """The job's window: every rank's domains (_job_domains), energy summed, the slowest rank's duration, the ranks
    that never came named in the flags."""
    ranks = sorted(records)
    windows = [records[r]["window"] for r in ranks]
    job = dict(windows[0])
    job["duration_s"] = max(w.get("duration_s", 0.0) for w in windows)
    job["domains"], shared_flags = _job_domains(records)
    flags = [f"job of {world_size} ranks: energy summed over the ranks' records, duration of the slowest"] + shared_flags
    missing = [r for r in range(world_size) if r not in records]
    if missing:
        flags.append(f"ranks missing (no record within {timeout_s:g} s): {', '.join(map(str, missing))}; "
                     "their energy is not in this job's total")
    for r in ranks:
        flags += [f"rank {r}: {f}" for f in records[r]["window"].get("flags", [])]
    job["flags"] = flags
    job["ranks"] = {str(r): records[r]["rank"] for r in ranks}
    job["ranks_missing"] = missing
    return job


def write_rank_row(rank, output_dir, file_name, name, sequence, raw, context):
    """This rank's row of its sequence-th window `name` in <file>_ranks.csv (in place of an earlier one of the same
    window: a flush); returns the job's key."""
    key = job_key(rank, name, sequence)
    stem = file_name[:-4] if file_name.endswith(".csv") else file_name
    _lib.emissions_append(os.path.join(output_dir, f"{stem}_ranks.csv"), raw,
                          dict(context, run_id=job_run_id(f"{key}/rank{rank.rank}")), replace_run_row=True)
    return key


def write_job(rank, output_dir, file_name, name, sequence, raw, context, timeout_s, replace_run_row=True):
    """At the end of the sequence-th window `name` of every rank: this rank's row to <file>_ranks.csv and its record
    left for rank 0; rank 0 gathers the ranks (at most timeout_s), writes the job's row to file_name and the job's
    record to sedenergy-job-<run_id>.json. Returns (job window, job context) on rank 0, else None."""
    key = write_rank_row(rank, output_dir, file_name, name, sequence, raw, context)
    folder = os.path.join(output_dir, ".sedenergy-ranks")
    leave_record(folder, key, rank, dict(raw, gpu_models=context.get("gpu_models", [])))
    if rank.rank != 0:
        return None
    records = gather_records(folder, key, rank.world_size, timeout_s)
    job = job_window(records, rank.world_size, timeout_s)
    models = [m for r in sorted(records) for m in records[r]["window"].get("gpu_models", [])]
    job_context = dict(context, run_id=job_run_id(key), gpu_models=models)
    _lib.emissions_append(os.path.join(output_dir, file_name), job, job_context, replace_run_row=replace_run_row)
    with open(os.path.join(output_dir, f"sedenergy-job-{job_context['run_id']}.json"), "w") as f:
        json.dump(job, f, indent=1)  # the job's record: its ranks, the missing ones, every domain's method
    shutil.rmtree(os.path.join(folder, key), ignore_errors=True)
    return job, job_context
