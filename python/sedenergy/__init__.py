"""sedenergy: the energy of your own PyTorch training and testing, in named windows.

    import sedenergy
    meter = sedenergy.Meter(database="energy.db")
    with meter.window("train"):
        ...
    print(meter.records[-1].to_dict())

Also: sedenergy.OfflineEmissionsTracker / EmissionsTracker (CodeCarbon's API), sedenergy.PhaseRecorder, and
sedenergy.lightning.EnergyCallback (needs Lightning; imported only when used), and sedenergy.complexity(model,
example_input): parameters, MACs and FLOPs of your own model (needs PyTorch; imported only when called).
"""
from .complexity import Complexity, complexity
from .errors import LibraryNotFound, SedenergyError
from .meter import DomainEnergy, Meter, WindowRecord
from .phases import PhaseRecorder
from .tracker import EmissionsData, EmissionsTracker, OfflineEmissionsTracker, track_emissions

__version__ = "0.1.0"


def library_version():
    """The version of the libsedenergy that was loaded."""
    from . import _lib
    return _lib.version()


__all__ = ["Meter", "WindowRecord", "DomainEnergy", "PhaseRecorder", "EmissionsTracker", "OfflineEmissionsTracker",
           "EmissionsData", "track_emissions", "SedenergyError", "LibraryNotFound", "library_version",
           "complexity", "Complexity"]
