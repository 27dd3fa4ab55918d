"""Distributed training measured as one job (issue 32): ranks read from torchrun's and Slurm's variables, a real
torchrun of two ranks (gloo, CPU) training a DDP model with the tracker, one job row whose energy is the ranks'
sum and whose host energy is counted once, and a rank killed before it stops, named as missing."""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from sedenergy import SedenergyError
from sedenergy.distributed import Rank


def test_ranks_from_torchrun_and_slurm_variables():
    r = Rank.from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2",
                       "TORCHELASTIC_RUN_ID": "j1", "MASTER_ADDR": "n1", "MASTER_PORT": "29500"})
    assert (r.rank, r.local_rank, r.world_size, r.local_world_size, r.distributed) == (3, 1, 4, 2, True)
    assert r.job_id == "torchrun:j1:n1:29500:"
    s = Rank.from_env({"SLURM_PROCID": "4", "SLURM_LOCALID": "0", "SLURM_NTASKS": "5", "SLURM_NODEID": "2",
                       "SLURM_TASKS_PER_NODE": "2(x2),1", "SLURM_JOB_ID": "77", "SLURM_STEP_ID": "0",
                       "SLURMD_NODENAME": "gpu03"})
    assert (s.rank, s.local_world_size, s.job_id, s.node) == (4, 1, "77.0", "gpu03")
    assert not Rank.from_env({}).distributed
    with pytest.raises(SedenergyError, match=r"WORLD_SIZE='two'"):
        Rank.from_env({"RANK": "0", "WORLD_SIZE": "two"})
    with pytest.raises(SedenergyError, match="does not fit world size"):
        Rank.from_env({"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "2"})


DDP = r'''
import os, signal, sys, time
import torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from sedenergy import OfflineEmissionsTracker, PhaseRecorder
out, kill_rank = sys.argv[1], int(sys.argv[2])
dist.init_process_group("gloo")
rank = dist.get_rank()
tracker = OfflineEmissionsTracker("ddp", output_dir=out, country_iso_code="FRA", gather_timeout_s=5,
                                  database=os.path.join(out, f"rank{rank}.db"))
tracker.start()
phases = PhaseRecorder(output_dir=os.path.join(out, "phases"), gather_timeout_s=5)  # what the Lightning callback uses
phases.begin("fit")
torch.manual_seed(rank)
model = DistributedDataParallel(torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)))
opt = torch.optim.Adam(model.parameters())
for step in range(150):
    opt.zero_grad()
    model(torch.randn(32, 64)).pow(2).mean().backward()
    opt.step()
if rank == kill_rank:
    os.kill(os.getpid(), signal.SIGKILL)  # dies before stop(): no record of its own
phases.end("fit")
kg = tracker.stop()
print(f"rank {rank}: {kg}", flush=True)
'''


def _torchrun(tmp_path, kill_rank):
    script = tmp_path / "ddp.py"
    script.write_text(DDP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RANK", "LOCAL_RANK", "WORLD_SIZE"))}
    env["OMP_NUM_THREADS"] = "1"
    # --redirects/--tee 2 (stderr): torchrun's default "0" fails on Debian's PyTorch 1.13 under Python 3.11,
    # whose IntFlag no longer lists a zero member (torch/distributed/elastic/multiprocessing/api.py, Std.from_str).
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "--redirects", "2", "--tee", "2", str(script), str(tmp_path), str(kill_rank)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_a_torchrun_job_gives_one_row_the_sum_of_its_ranks(tmp_path, cli):
    r = _torchrun(tmp_path, kill_rank=-1)
    assert r.returncode == 0, r.stderr[-3000:]
    job = pd.read_csv(tmp_path / "emissions.csv")
    ranks = pd.read_csv(tmp_path / "emissions_ranks.csv")
    assert len(job) == 1 and len(ranks) == 2 and ranks.run_id.nunique() == 2
    for column in ("cpu_energy", "gpu_energy", "ram_energy", "energy_consumed"):
        assert job[column][0] == pytest.approx(ranks[column].sum(), rel=1e-4), column
    assert job.duration[0] == pytest.approx(ranks.duration.max(), rel=1e-4)
    record = json.loads(next(tmp_path.glob("sedenergy-job-*.json")).read_text())
    assert sorted(record["ranks"]) == ["0", "1"] and record["ranks_missing"] == []
    # Each rank counted half of the node's CPU and RAM: the host once across both.
    for rank in (0, 1):
        import sqlite3
        window = json.loads(sqlite3.connect(tmp_path / f"rank{rank}.db").execute(
            "SELECT window_json FROM user_windows").fetchone()[0])
        assert window["rank"]["rank"] == rank and window["rank"]["world_size"] == 2
        cpu = [d for d in window["domains"] if d["domain"] == "cpu"][0]
        assert "x 0.5 (this process's share" in cpu["method"], cpu["method"]
    assert not list((tmp_path / ".sedenergy-ranks").iterdir())  # rank 0 cleaned up what it gathered
    # sedenergy report of the ranks' records: one job, both ranks, the energy of its job row.
    rep = subprocess.run([cli, "report", str(tmp_path / "rank0.db"), str(tmp_path / "rank1.db"), "-o",
                          str(tmp_path / "report")], capture_output=True, text=True)
    assert rep.returncode == 0, rep.stderr
    jobs = pd.read_csv(tmp_path / "report" / "tables" / "user-jobs.csv")
    assert len(jobs) == 1 and jobs.ranks[0] == 2 and jobs.world_size[0] == 2 and pd.isna(jobs.missing_ranks[0])
    assert jobs.kwh[0] == pytest.approx(job.energy_consumed[0], rel=1e-3)
    # The phase recorder (the Lightning callback's) under DDP: one fit row for the job, one per rank.
    fit, fit_ranks = pd.read_csv(tmp_path / "phases" / "emissions_fit.csv"), pd.read_csv(
        tmp_path / "phases" / "emissions_fit_ranks.csv")
    assert len(fit) == 1 and len(fit_ranks) == 2
    assert fit.energy_consumed[0] == pytest.approx(fit_ranks.energy_consumed.sum(), rel=1e-4)


def test_a_killed_rank_is_named_missing_and_the_others_are_kept(tmp_path, cli):
    # torchrun then stops rank 0 with SIGTERM too: its tracker (preemption or stop) still writes the job's row.
    r = _torchrun(tmp_path, kill_rank=1)
    assert r.returncode != 0 and "exitcode: -9" in r.stderr, r.stderr[-3000:]
    assert len(pd.read_csv(tmp_path / "emissions_ranks.csv")) == 1
    assert len(pd.read_csv(tmp_path / "emissions.csv")) == 1
    record = json.loads(next(tmp_path.glob("sedenergy-job-*.json")).read_text())
    assert record["ranks_missing"] == [1]
    assert any("ranks missing (no record within 5 s): 1" in f for f in record["flags"]), record["flags"]
    rep = subprocess.run([cli, "report", str(tmp_path / "rank0.db"), "-o", str(tmp_path / "report")],
                         capture_output=True, text=True)
    assert rep.returncode == 0, rep.stderr
    jobs = pd.read_csv(tmp_path / "report" / "tables" / "user-jobs.csv", dtype={"missing_ranks": str})
    assert jobs.missing_ranks.tolist() == ["1"] and jobs.ranks.tolist() == [1]
