"""PyTorch Lightning with sedenergy's EnergyCallback: one window per phase (fit, validate, test), written to
OUT/emissions_<phase>.csv and OUT/energy.db.

    python3 examples/python/train_lightning.py --features feats --tsv data/metadata/train/weak.tsv --out energy

--check-nvml FILE (GPU machines, for verification): a second callback reads the NVML energy counter itself
at the same hooks and writes its readings to FILE, to compare with the callback's records.
"""
import json
import os
import sys

import torch

try:
    import lightning.pytorch as pl
except ImportError:
    import pytorch_lightning as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import desed_data  # noqa: E402
from sedenergy.lightning import EnergyCallback  # noqa: E402


class Tagger(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = desed_data.CRNN()

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(self.model(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.binary_cross_entropy_with_logits(self.model(x), y))

    def test_step(self, batch, _):
        x, y = batch
        self.log("test_loss", torch.nn.functional.binary_cross_entropy_with_logits(self.model(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class NvmlCounter(pl.Callback):
    """Reads the GPU's total-energy counter at the phase hooks (the reference the callback is checked against)."""

    def __init__(self, path):
        self.path, self.readings, self.read = path, {}, None

    def setup(self, trainer, pl_module, stage):
        if self.read is None:
            self.read = desed_data.nvml_counter(trainer.strategy.root_device.index or 0)

    def _read(self, key):
        self.readings.setdefault(key, []).append(self.read())

    def on_fit_start(self, *a): self._read("fit_start")
    def on_fit_end(self, *a): self._read("fit_end")
    def on_test_start(self, *a): self._read("test_start")
    def on_test_end(self, *a): self._read("test_end")

    def teardown(self, trainer, pl_module, stage=None):
        with open(self.path, "w") as f:
            json.dump(self.readings, f)


def main():
    ap = desed_data.arguments(__doc__)
    ap.add_argument("--test-repeats", type=int, default=1, help="test passes over the data (longer test windows)")
    ap.add_argument("--accelerator", default="auto")
    ap.add_argument("--check-nvml", help="write the NVML counter readings at the hooks to this JSON file")
    args = ap.parse_args()

    x, y = desed_data.load(args.features, args.tsv)
    data = torch.utils.data.TensorDataset(x, y)
    train = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True)
    val = torch.utils.data.DataLoader(data, batch_size=8)
    test = torch.utils.data.DataLoader(torch.utils.data.ConcatDataset([data] * args.test_repeats), batch_size=8)
    energy = EnergyCallback(output_dir=args.out, project_name="train_lightning")
    callbacks = [energy] + ([NvmlCounter(args.check_nvml)] if args.check_nvml else [])
    torch.manual_seed(0)
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, devices=1, callbacks=callbacks,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0)
    module = Tagger()
    trainer.fit(module, train, val)
    trainer.test(module, test, verbose=False)
    print(json.dumps({phase: [r.to_dict() | {"timeline": len(r.timeline)} for r in records]
                      for phase, records in energy.records.items()}))


if __name__ == "__main__":
    main()
