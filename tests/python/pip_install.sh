#!/usr/bin/env bash
# One pip command installs the package with its library (issue 31, item 4), as a DCASE participant would:
#   1. pip install ./python of a copy of the repository into a fresh venv: libsedenergy is built into the
#      package; a window is measured with it;
#   2. pip wheel of the same, then the copy is deleted and the wheel installed into another fresh venv: the
#      wheel alone carries the library.
# Usage: tests/python/pip_install.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "$1" && pwd)
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir "$T/repo"
# The repository's files as a clone has them (tracked and untracked-not-ignored), no build folders.
(cd "$SRC" && git ls-files --cached --others --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$T/repo"
unset SEDENERGY_LIBRARY LD_LIBRARY_PATH
measure='
import os, sys, sedenergy, sedenergy._lib as lib
m = sedenergy.Meter(gpus="none")
with m.window("work"):
    sum(range(3 * 10**6))
loaded = lib.library()._name
assert loaded == os.path.join(os.path.dirname(sedenergy.__file__), "libsedenergy.so.0"), loaded
assert loaded.startswith(sys.prefix), (loaded, sys.prefix)
r = m.records[-1]
assert r.duration_s > 0 and r.energy_j > 0, r
print("measured", round(r.duration_s, 3), "s,", round(r.energy_j, 3), "J with", loaded)
'
passed=0
$PY -m venv --system-site-packages "$T/a"   # setuptools and wheel from the system: nothing downloaded
"$T/a/bin/pip" install -q --no-index --no-build-isolation --disable-pip-version-check "$T/repo/python"
(cd "$T" && "$T/a/bin/python" -c "$measure") && passed=$((passed + 1))

"$T/a/bin/pip" wheel -q --no-deps --no-index --no-build-isolation --disable-pip-version-check -w "$T/dist" "$T/repo/python"
rm -rf "$T/repo"
wheel=$(ls "$T"/dist/sedenergy-*.whl)
case "$wheel" in *linux_x86_64.whl|*linux_aarch64.whl) ;; *) echo "not a platform wheel: $wheel"; exit 1;; esac
$PY -m venv --system-site-packages "$T/b"
"$T/b/bin/pip" install -q --no-index --disable-pip-version-check "$wheel"
(cd "$T" && "$T/b/bin/python" -c "$measure") && passed=$((passed + 1))
echo "$passed passed, $((2 - passed)) failed"
[ "$passed" -eq 2 ]
