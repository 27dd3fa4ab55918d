"""python -m sedenergy: the sedenergy command line (installed beside the library), plus `info`.

    python -m sedenergy info                 # the sensors this machine has, through the Python package
    python -m sedenergy complexity mymodel.py:build --input 1x1x128x626   # parameters, MACs, FLOPs
    python -m sedenergy measure -- python3 train.py
    python -m sedenergy report energy/energy.db -o report
"""
import json
import os
import shutil
import sys

from . import _lib
from .meter import Meter


def _cli():
    lib_dir = os.path.dirname(getattr(_lib.library(), "_name", "") or "")
    for candidate in (os.path.join(sys.prefix, "bin", "sedenergy"), os.path.join(lib_dir, "..", "bin", "sedenergy")):
        if os.access(candidate, os.X_OK):
            return os.path.normpath(candidate)
    return shutil.which("sedenergy")


def main(argv):
    if argv[:1] == ["complexity"]:
        from .complexity import main as complexity_main
        from .errors import SedenergyError
        try:
            return complexity_main(argv[1:])
        except SedenergyError as e:
            print(f"sedenergy complexity: error: {e}", file=sys.stderr)
            return 2
    if argv[:1] == ["info"]:
        with Meter(timeline=False) as meter:
            print(json.dumps(dict(meter.info(), library=_lib.version()), indent=1))
        return 0
    cli = _cli()
    if not cli:
        print("sedenergy: the command-line program is not installed next to the library or on PATH "
              "(`make install-python` installs both)", file=sys.stderr)
        return 2
    os.execv(cli, [cli] + argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
