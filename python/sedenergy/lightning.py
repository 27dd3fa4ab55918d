"""A PyTorch Lightning 2.x callback: one measured window per phase (fit, validate, test, predict; and each
training epoch with per_epoch=True), written to output_dir/emissions_<phase>.csv and to a results database
(output_dir/energy.db unless `database` says otherwise), which `sedenergy report` reads.

    from sedenergy.lightning import EnergyCallback
    trainer = Trainer(callbacks=[EnergyCallback(output_dir="energy", country_iso_code="FRA")])

Importing this module needs Lightning (`lightning` or `pytorch_lightning`); the rest of sedenergy does not.
The meter measures the GPU the trainer runs on (its root device), or no GPU when it trains on the CPU. Under
strategy="ddp" every process has the callback: each measures its own device and share of its node, and rank 0
writes one row for the job (sedenergy.distributed).
"""
import os

try:
    from lightning.pytorch import Callback
except ImportError:  # the older package name
    from pytorch_lightning import Callback

from .distributed import Rank
from .phases import PhaseRecorder


def trainer_rank(trainer):
    """This process's rank: the launcher's (torchrun, Slurm) when it set one, else the trainer's (Lightning's own
    DDP launcher starts its processes without RANK); the job named by the rendezvous every process shares."""
    rank = Rank.from_env()
    if trainer.world_size < 2 or rank.distributed:
        return rank
    job = "lightning:" + ":".join(os.environ.get(v, "") for v in ("MASTER_ADDR", "MASTER_PORT", "SLURM_JOB_ID"))
    return Rank(trainer.global_rank, trainer.local_rank, trainer.world_size, trainer.num_devices, job, rank.node)


class EnergyCallback(Callback):
    def __init__(self, output_dir="energy", database=None, per_epoch=False, project_name="lightning",
                 experiment_id="", country_iso_code=None, pue=1.0, save_to_file=True, **meter_options):
        super().__init__()
        self.per_epoch = per_epoch
        self.recorder = PhaseRecorder(output_dir=output_dir, database=database, project_name=project_name,
                                      experiment_id=experiment_id, country_iso_code=country_iso_code, pue=pue,
                                      save_to_file=save_to_file, source="lightning", **meter_options)

    @property
    def records(self):
        """phase -> [WindowRecord], in the order measured."""
        return self.recorder.records

    def setup(self, trainer, pl_module, stage):
        device, rank = trainer.strategy.root_device, trainer_rank(trainer)
        if device.type == "cuda":
            self.recorder.open(cuda_devices=[device.index or 0], rank=rank)
        else:
            self.recorder.open(gpus="none", rank=rank)

    def teardown(self, trainer, pl_module, stage):
        pass  # the meter stays open: fit may be followed by test in the same process

    def on_fit_start(self, trainer, pl_module):
        self.recorder.begin("fit")

    def on_fit_end(self, trainer, pl_module):
        self.recorder.end("fit")

    def on_validation_start(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.recorder.begin("validate")

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.recorder.end("validate")

    def on_test_start(self, trainer, pl_module):
        self.recorder.begin("test")

    def on_test_end(self, trainer, pl_module):
        self.recorder.end("test")

    def on_predict_start(self, trainer, pl_module):
        self.recorder.begin("predict")

    def on_predict_end(self, trainer, pl_module):
        self.recorder.end("predict")

    def on_train_epoch_start(self, trainer, pl_module):
        if self.per_epoch:
            self.recorder.begin(f"epoch_{trainer.current_epoch}")

    def on_train_epoch_end(self, trainer, pl_module):
        if self.per_epoch:
            self.recorder.end(f"epoch_{trainer.current_epoch}", csv_name="epochs")

    def on_exception(self, trainer, pl_module, exception):
        # Windows left open by the failure are closed and recorded, so nothing measured is lost.
        meter = self.recorder.meter
        for name in list(getattr(meter, "_open", {})):
            self.recorder.end(name)
