"""What the tracker and the phase recorder share: the output folder's check and the CSV rows' context."""
import os
import platform

from . import _lib
from .errors import SedenergyError


def check_output_dir(directory, file_name=None):
    """Creates the folder if needed; raises SedenergyError before any work if nothing could be written there."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise SedenergyError(f"output_dir '{directory}': cannot create it ({e.strerror})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SedenergyError(f"output_dir '{directory}' is not writable")
    if file_name:
        path = os.path.join(directory, file_name)
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise SedenergyError(f"output file '{path}' is not writable")


def emissions_context(project_name, experiment_id, pue, country_iso_code, region=None, carbon_intensity=None, wue=0.0):
    """The context of emissions rows, checked now (an unknown country or region fails here, not after training).
    carbon_intensity (g CO2eq/kWh) wins over the country's; wue (L/kWh) fills water_consumed."""
    context = {"project_name": project_name, "experiment_id": experiment_id or "", "pue": float(pue),
               "wue": float(wue), "python_version": platform.python_version(), "tracking_mode": "machine"}
    if country_iso_code:
        context["country_iso_code"] = country_iso_code
    if region:
        context["region"] = region
    if carbon_intensity is not None:
        context["carbon_intensity_g_per_kwh"] = float(carbon_intensity)
    _lib.emissions_row({"duration_s": 0, "domains": []}, context)
    return context
