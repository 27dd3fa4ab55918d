"""Distributed training measured as one job (issue 32): ranks read from torchrun's and Slurm's variables, a real
torchrun of two ranks (gloo, CPU) training a DDP model with the tracker, one job row whose energy is the ranks'
sum and whose host energy is counted once, and a rank killed before it stops, named as missing."""
import importlib.util
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


def test_a_rank_measures_its_own_gpu_and_more_ranks_than_gpus_share_them():
    from sedenergy.distributed import own_cuda_device
    assert own_cuda_device(Rank(local_rank=3, world_size=4, local_world_size=4), [0]) == 0  # one GPU visible: it
    assert own_cuda_device(Rank(local_rank=3, world_size=4, local_world_size=4), None, 2) == 1  # 4 ranks, 2 GPUs
    assert own_cuda_device(Rank(local_rank=1, world_size=2, local_world_size=2), [0, 1, 2]) == 1
    assert own_cuda_device(Rank(local_rank=1, world_size=2, local_world_size=2), None) == 1  # count unknown


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


def _torchrun(tmp_path, kill_rank, script_text=DDP, **more_env):
    script = tmp_path / "ddp.py"
    script.write_text(script_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RANK", "LOCAL_RANK", "WORLD_SIZE"))}
    env.update(more_env, OMP_NUM_THREADS="1")
    # --redirects/--tee 2 (stderr): torchrun's default "0" fails on Debian's PyTorch 1.13 under Python 3.11,
    # whose IntFlag no longer lists a zero member (torch/distributed/elastic/multiprocessing/api.py, Std.from_str).
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "--redirects", "2", "--tee", "2", str(script), str(tmp_path), str(kill_rank)],
                          capture_output=True, text=True, env=env, timeout=300)


def _assert_the_job_row_adds_its_ranks(job, ranks, shared):
    """The job's row against its ranks' rows. Ranks sharing one GPU (two ranks, one GPU: the GPU machine) each
    read the whole GPU: counted once, from the longest window; elsewhere each rank's GPU energy is its own and
    they add up. CPU and RAM: each rank counted its share of the host, so they add up."""
    gpu = ranks.gpu_energy[ranks.duration.idxmax()] if shared else ranks.gpu_energy.sum()
    expected = {"cpu_energy": ranks.cpu_energy.sum(), "gpu_energy": gpu, "ram_energy": ranks.ram_energy.sum()}
    expected["energy_consumed"] = sum(expected.values())
    for column, value in expected.items():
        assert job[column][0] == pytest.approx(value, rel=1e-4), column
    assert job.duration[0] == pytest.approx(ranks.duration.max(), rel=1e-4)


def test_a_torchrun_job_gives_one_row_the_sum_of_its_ranks(tmp_path, cli):
    r = _torchrun(tmp_path, kill_rank=-1)
    assert r.returncode == 0, r.stderr[-3000:]
    job = pd.read_csv(tmp_path / "emissions.csv")
    ranks = pd.read_csv(tmp_path / "emissions_ranks.csv")
    assert len(job) == 1 and len(ranks) == 2 and ranks.run_id.nunique() == 2
    record = json.loads(next(tmp_path.glob("sedenergy-job-*.json")).read_text())
    shared = any("(they share it)" in f for f in record["flags"])
    _assert_the_job_row_adds_its_ranks(job, ranks, shared)
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
    _assert_the_job_row_adds_its_ranks(fit, fit_ranks, shared)


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


SHARED_GPU = r"""
import os, sys, time
import torch.distributed as dist
from sedenergy import PhaseRecorder
out = sys.argv[1]
dist.init_process_group("gloo")
rank = dist.get_rank()
phases = PhaseRecorder(output_dir=out, database=os.path.join(out, f"rank{rank}.db"), gather_timeout_s=10, gpus=[0],
                       period_s=0.05)
phases.begin("fit")
time.sleep(1.0 + 0.5 * rank)  # rank 1's window is the longer
phases.end("fit")
"""


@pytest.mark.skipif(not os.environ.get("FAKE_NVML_DIR"), reason="needs the fake NVML driver of the build")
def test_ranks_sharing_one_gpu_count_it_once(tmp_path, cli):
    """Two ranks on one GPU (the fake NVIDIA driver: a real dlopen of libnvidia-ml.so.1) both read its whole
    counter: the job counts that GPU once, from the rank with the longer window, and says so; the report's job
    table likewise."""
    r = _torchrun(tmp_path, -1, SHARED_GPU, LD_LIBRARY_PATH=os.environ["FAKE_NVML_DIR"])
    assert r.returncode == 0, r.stderr[-3000:]
    job, ranks = pd.read_csv(tmp_path / "emissions_fit.csv"), pd.read_csv(tmp_path / "emissions_fit_ranks.csv")
    assert len(job) == 1 and len(ranks) == 2 and (ranks.gpu_energy > 0).all()
    longer = ranks.loc[ranks.duration.idxmax()]
    assert job.gpu_energy[0] == pytest.approx(longer.gpu_energy, rel=1e-4)
    assert job.gpu_energy[0] < 0.9 * ranks.gpu_energy.sum()
    assert job.cpu_energy[0] == pytest.approx(ranks.cpu_energy.sum(), rel=1e-4)
    record = json.loads(next(tmp_path.glob("sedenergy-job-*.json")).read_text())
    assert [d["device"].split()[0].split("/")[1] for d in record["domains"] if d["domain"] == "gpu"] == ["rank1"]
    assert any("measured by ranks 0, 1 (they share it): counted once" in f for f in record["flags"]), record["flags"]
    rep = subprocess.run([cli, "report", str(tmp_path / "rank0.db"), str(tmp_path / "rank1.db"), "-o",
                          str(tmp_path / "report")], capture_output=True, text=True)
    assert rep.returncode == 0, rep.stderr
    jobs = pd.read_csv(tmp_path / "report" / "tables" / "user-jobs.csv")
    assert jobs.gpu_energy_j[0] == pytest.approx(longer.gpu_energy * 3.6e6, rel=1e-3)
    assert jobs.kwh[0] == pytest.approx(job.energy_consumed[0], rel=1e-3)


LIGHTNING_DDP = r"""
import os, sys
import torch
try:
    import lightning.pytorch as pl
except ImportError:
    import pytorch_lightning as pl
from sedenergy.lightning import EnergyCallback
out = sys.argv[1]


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))

    def training_step(self, batch, _):
        return self.net(batch[0]).pow(2).mean()

    test_step = training_step

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())


data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(2048, 64)), batch_size=32)
trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     callbacks=[EnergyCallback(output_dir=out, database=os.path.join(out, f"rank{os.getpid()}.db"),
                                               gather_timeout_s=30)])
trainer.fit(Model(), data)
trainer.test(Model(), data)
"""


@pytest.mark.skipif(not any(importlib.util.find_spec(m) for m in ("lightning", "pytorch_lightning")),
                    reason="PyTorch Lightning is not installed (Debian 12 has no package of it; the GPU machine has)")
def test_lightning_ddp_gives_one_row_per_phase_for_the_job(tmp_path):
    """Lightning's own DDP launcher (strategy="ddp", two processes, gloo): it sets no RANK, so the callback takes
    the rank from the trainer; each phase gives one job row, the sum of the two ranks' rows."""
    script = tmp_path / "lightning_ddp.py"
    script.write_text(LIGHTNING_DDP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RANK", "LOCAL_RANK", "WORLD_SIZE"))}
    r = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                       env=dict(env, OMP_NUM_THREADS="1"), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for phase in ("fit", "test"):
        job, ranks = pd.read_csv(tmp_path / f"emissions_{phase}.csv"), pd.read_csv(
            tmp_path / f"emissions_{phase}_ranks.csv")
        assert len(job) == 1 and len(ranks) == 2, phase
        assert job.energy_consumed[0] == pytest.approx(ranks.energy_consumed.sum(), rel=1e-4), phase
        assert job.duration[0] == pytest.approx(ranks.duration.max(), rel=1e-4), phase
    records = [json.loads(p.read_text()) for p in tmp_path.glob("sedenergy-job-*.json")]
    assert len(records) == 2 and all(sorted(rec["ranks"]) == ["0", "1"] for rec in records)
    assert all(rec["ranks"]["0"]["job_id"].startswith("lightning:127.0.0.1:") for rec in records)
