#!/usr/bin/env bash
# Installs what sedenergy needs on Debian 12 (or Ubuntu), only what is missing. Needs root or sudo.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread   # LibTorch 1.13 (CPU); OpenBLAS makes its CPU GEMMs ~5x faster than reference BLAS
  libsndfile1-dev libsamplerate0-dev libkissfft-dev libsqlite3-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev sqlite3
  chromium                            # headless: the report's browser test opens report.html in it
  python3 python3-venv python3-pip python3-setuptools   # the Python package, installed offline into a venv
  python3-torch python3-pytest python3-pandas           # its tests: a real small CNN, pytest, the CSV read back
  python3-numpy                                         # scripts/reader_check.py, the reports recomputed
  slurmctld slurmd slurm-client munge                   # a single-node Slurm, started by the job-array test
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "bootstrap: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
