"""The Python package's tests run against an installed libsedenergy (tests/python/run.sh installs the build into
a fresh prefix and venv) or against SEDENERGY_LIBRARY / PYTHONPATH set by hand."""
import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_cli():
    """The sedenergy program installed beside the library (or SEDENERGY_BIN)."""
    path = os.environ.get("SEDENERGY_BIN") or os.path.join(sys.prefix, "bin", "sedenergy")
    if not os.access(path, os.X_OK):
        path = shutil.which("sedenergy")
    assert path, "the sedenergy program is not installed (set SEDENERGY_BIN)"
    return path


@pytest.fixture
def cli():
    return find_cli()


@pytest.fixture
def examples():
    return os.path.join(ROOT, "examples", "python")


# CodeCarbon's emissions.csv columns, in order (CodeCarbon's output docs; docs/FACTS.md §5):
# written out here on purpose, independently of the library's own list, so the test can fail.
CODECARBON_COLUMNS = (
    "timestamp project_name run_id experiment_id duration emissions emissions_rate cpu_power gpu_power ram_power "
    "cpu_energy gpu_energy ram_energy energy_consumed water_consumed country_name country_iso_code region "
    "cloud_provider cloud_region os python_version codecarbon_version cpu_count cpu_model gpu_count gpu_model "
    "longitude latitude ram_total_size tracking_mode cpu_utilization_percent gpu_utilization_percent "
    "ram_utilization_percent ram_used_gb on_cloud pue wue").split()
