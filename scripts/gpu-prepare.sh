#!/usr/bin/env bash
# The common start of a GPU-node check: OUTDIR made, build-cuda brought up to date (log in OUTDIR/build.log),
# the machine described in OUTDIR/machine.txt. Usage: scripts/gpu-prepare.sh OUTDIR LABEL
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p "$1"
# .deps/prefix holds the libraries build-cuda/ links at run time; a carried .deps/ may come without it.
[ -d .deps/prefix ] || [ ! -d .deps/debs ] || scripts/gpu-node-deps.sh unpack > /dev/null
# Always built (incremental): a warm node keeps build-cuda/ from an earlier checkout, whose binary would
# otherwise run with the old code and its old embedded study configurations.
scripts/gpu-build.sh > "$1/build.log" 2>&1 || { tail -20 "$1/build.log"; exit 1; }
scripts/gpu-machine.sh "$2" >> "$1/machine.txt" 2>&1
