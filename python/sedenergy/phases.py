"""Phases of a training script (fit, validate, test, predict, and optionally each epoch), each measured as a
window, written to output_dir/emissions_<phase>.csv and to a results database. The Lightning callback
(sedenergy.lightning) is this recorder attached to Lightning's hooks; a plain PyTorch loop can call it directly:

    phases = PhaseRecorder(output_dir="energy")
    phases.begin("fit"); train(); phases.end("fit")
"""
import os

from . import _lib, distributed
from .meter import Meter
from .outputs import check_output_dir, emissions_context


class PhaseRecorder:
    def __init__(self, output_dir="energy", database=None, project_name="sedenergy", experiment_id="",
                 country_iso_code=None, pue=1.0, save_to_file=True, meter=None, source="phases", gather_timeout_s=120.0,
                 **meter_options):
        self.output_dir = str(output_dir)
        self.save_to_file, self.gather_timeout_s = save_to_file, float(gather_timeout_s)
        if save_to_file:
            check_output_dir(self.output_dir)
        if database is None and save_to_file:
            database = os.path.join(self.output_dir, "energy.db")
        self.database = database
        self._meter_options = dict(meter_options, project_name=project_name, experiment_id=experiment_id,
                                   database=database, source=source)
        self.context = emissions_context(project_name, experiment_id, pue, country_iso_code)
        self.meter = meter
        self.records = {}  # phase -> [WindowRecord]

    def open(self, **more_options):
        """Opens the meter (once); options such as cuda_devices chosen when the device is known."""
        if self.meter is None:
            self.meter = Meter(**dict(self._meter_options, **more_options))
        if "run_id" not in self.context:
            self.context.update(gpu_models=self.meter.gpu_models(), run_id=self.meter.run_uuid)
        return self.meter

    def begin(self, phase):
        self.open().begin_window(phase)

    def end(self, phase, csv_name=None):
        """Ends the phase's window and writes its row. Under several ranks (DDP: a recorder in every process), the
        job's row, every rank's added, goes to emissions_<phase>.csv on rank 0 and each rank's own to
        emissions_<phase>_ranks.csv (sedenergy.distributed)."""
        record = self.open().end_window(phase)
        self.records.setdefault(phase, []).append(record)
        if self.save_to_file:
            file_name = f"emissions_{csv_name or phase}.csv"
            if self.meter.rank.distributed:
                sequence = len(self.records[phase]) - 1
                distributed.write_job(self.meter.rank, self.output_dir, file_name, phase, sequence, record.raw,
                                      self.context, self.gather_timeout_s, replace_run_row=False)
            else:
                _lib.emissions_append(os.path.join(self.output_dir, file_name), record.raw, self.context)
        return record

    def close(self):
        if self.meter is not None:
            self.meter.close()
