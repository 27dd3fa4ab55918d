#!/usr/bin/env bash
# The Python package as a user installs it: the build installed by CMake into a fresh prefix that is a
# venv, the package installed there by pip (offline), and the tests run by that venv's interpreter, so the
# library is loaded from the install, never from the build tree.
# Usage: tests/python/run.sh BUILD_DIR SOURCE_DIR [pytest args]
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd); shift 2
PY=/usr/bin/python3; [ -x $PY ] || PY=python3   # Debian's interpreter: its torch, pandas and pytest
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
$PY -m venv --system-site-packages "$T/venv"
cmake --install "$BUILD" --prefix "$T/venv" > "$T/install.log"
cp -r "$SRC/python" "$T/package"   # pip builds in the folder it is given: not in the source tree
"$T/venv/bin/python" -m pip install -q --no-index --no-build-isolation --disable-pip-version-check "$T/package"
unset SEDENERGY_LIBRARY
export FAKE_NVML_DIR="$BUILD/tests/fake_nvml"   # a stand-in NVIDIA driver, for the tests that spawn with it
cd "$SRC/tests/python"
exec "$T/venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .
