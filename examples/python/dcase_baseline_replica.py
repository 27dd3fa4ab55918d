"""A replica of how the DCASE 2024 task 4 baseline (DESED_task, recipes/dcase2024_task4_baseline/local/
sed_trainer_pretrained.py) uses CodeCarbon, with one change: the import. Its Lightning hooks create the trackers,
stop them, read the private attribute `_total_energy.kWh`, and write the kWh files the submission needs:

    on_train_start: OfflineEmissionsTracker("DCASE Task 4 SED TRAINING", output_dir=EXP/codecarbon,
                    output_file="emissions_baseline_training.csv", log_level="warning", country_iso_code="FRA",
                    gpu_ids=[torch.cuda.current_device()]).start()
    on_train_end:   stop(); training_kwh = tracker._total_energy.kWh -> EXP/training_codecarbon/training_tot_kwh.txt
    on_test_start:  the same for devtest (emissions_baseline_test.csv)
    on_test_end:    stop(); tracker._total_energy.kWh -> EXP/devtest_codecarbon/devtest_tot_kwh.txt

The model is a small CRNN (examples/python/desed_data.py), not the baseline's. The hooks run under PyTorch
Lightning when --lightning is given and Lightning is installed, else under a loop that calls them in Lightning's
order (Debian 12 has no Lightning package). On a CPU-only machine gpu_ids is None, as torch.cuda.current_device()
needs a GPU.

--check-nvml FILE (GPU machines): the hooks also read this GPU's NVML energy counter right after start() and right
before stop(), and FILE gets both, per phase.

    python3 examples/python/dcase_baseline_replica.py --features feats --tsv data/metadata/train/weak.tsv --out exp
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import desed_data  # noqa: E402
from sedenergy import OfflineEmissionsTracker  # noqa: E402  (the baseline: from codecarbon import ...)


def gpu_ids():
    return [torch.cuda.current_device()] if torch.cuda.is_available() else None


class BaselineHooks:
    """The baseline's energy hooks, as its SEDTask4 module has them (the training step aside)."""

    def __init__(self, exp_dir, counter=None):
        self.exp_dir, self.counter, self.check = exp_dir, counter, {}

    def _tracker(self, name, folder, output_file):
        os.makedirs(os.path.join(self.exp_dir, folder), exist_ok=True)
        tracker = OfflineEmissionsTracker(name, output_dir=os.path.join(self.exp_dir, folder), output_file=output_file,
                                          log_level="warning", country_iso_code="FRA", gpu_ids=gpu_ids())
        tracker.start()
        return tracker

    def _stop(self, tracker, phase, kwh_file, folder):
        nvml_end = self.counter() if self.counter else None
        tracker.stop()
        kwh = tracker._total_energy.kWh  # the private attribute the baseline reads
        with open(os.path.join(self.exp_dir, folder, kwh_file), "w") as f:
            f.write(str(kwh))
        if self.counter:
            self.check[phase] = {"nvml_j": nvml_end - self.nvml_start, "tracker_gpu_j": tracker._total_gpu_energy.kWh * 3.6e6,
                                 "duration_s": tracker.final_emissions_data.duration}
        return kwh

    def on_train_start(self):
        self.tracker_train = self._tracker("DCASE Task 4 SED TRAINING", "training_codecarbon",
                                           "emissions_baseline_training.csv")
        self.nvml_start = self.counter() if self.counter else None

    def on_train_end(self):
        self.training_kwh = self._stop(self.tracker_train, "train", "training_tot_kwh.txt", "training_codecarbon")

    def on_test_start(self):
        self.tracker_devtest = self._tracker("DCASE Task 4 SED DEVTEST", "devtest_codecarbon",
                                             "emissions_baseline_test.csv")
        self.nvml_start = self.counter() if self.counter else None

    def on_test_end(self):
        self.devtest_kwh = self._stop(self.tracker_devtest, "test", "devtest_tot_kwh.txt", "devtest_codecarbon")


def train_step(model, opt, xb, yb):
    opt.zero_grad()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xb), yb)
    loss.backward()
    opt.step()
    return loss


def run_plain(hooks, model, loader, epochs, test_passes, device):
    """Lightning's order: on_train_start, the epochs, on_train_end; then on_test_start, the test, on_test_end."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    hooks.on_train_start()
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            train_step(model, opt, xb.to(device), yb.to(device))
    hooks.on_train_end()
    hooks.on_test_start()
    model.eval()
    with torch.no_grad():
        for _ in range(test_passes):
            for xb, _ in loader:
                model(xb.to(device))
    hooks.on_test_end()


def run_lightning(hooks, model, loader, epochs, test_passes):
    """The same hooks inside a LightningModule, run by Lightning's Trainer."""
    try:
        import lightning.pytorch as pl
    except ImportError:
        import pytorch_lightning as pl

    class SEDTask4(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.sed_net = model

        def training_step(self, batch, _):
            xb, yb = batch
            return torch.nn.functional.binary_cross_entropy_with_logits(self.sed_net(xb), yb)

        def test_step(self, batch, _):
            self.sed_net(batch[0])

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

        on_train_start, on_train_end = hooks.on_train_start, hooks.on_train_end
        on_test_start, on_test_end = hooks.on_test_start, hooks.on_test_end

    module = SEDTask4()
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, devices=1)
    trainer.fit(module, loader)
    test_loader = torch.utils.data.DataLoader(
        torch.utils.data.ConcatDataset([loader.dataset] * test_passes), batch_size=loader.batch_size)
    trainer.test(module, test_loader, verbose=False)


def main():
    ap = desed_data.arguments(__doc__)
    ap.add_argument("--test-passes", type=int, default=1, help="passes over the data in the devtest window")
    ap.add_argument("--lightning", action="store_true", help="run the hooks under PyTorch Lightning's Trainer")
    ap.add_argument("--check-nvml")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    counter = desed_data.nvml_counter(torch.cuda.current_device()) if args.check_nvml else None
    x, y = desed_data.load(args.features, args.tsv)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=True)
    torch.manual_seed(0)
    model = desed_data.CRNN().to(device)
    hooks = BaselineHooks(args.out, counter)
    if args.lightning:
        run_lightning(hooks, model, loader, args.epochs, args.test_passes)
    else:
        run_plain(hooks, model, loader, args.epochs, args.test_passes, device)
    if args.check_nvml:
        with open(args.check_nvml, "w") as f:
            json.dump(hooks.check, f)
    print(json.dumps({"training_kwh": hooks.training_kwh, "devtest_kwh": hooks.devtest_kwh, "check": hooks.check}))


if __name__ == "__main__":
    main()
