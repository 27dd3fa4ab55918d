#!/usr/bin/env bash
# The test suite of the CUDA build on a GPU node (ctest in build-cuda, CUDA cases included), then two
# commands that once crashed only there (std::filesystem::remove_all bound to PyTorch's libtorch.so copy).
# The GPU node lacks tools some tests start (the sqlite3 shell, a browser, Slurm, a C compiler's install
# check, pip): those fail there for that reason, which their log says; CI runs them.
# Set SEDENERGY_GIT_REVISION to the commit (the GPU node has no .git). Usage: scripts/gpu-tests.sh OUTDIR
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR}"
scripts/gpu-prepare.sh "$OUT" tests || exit 1
(cd build-cuda && timeout "${LIMIT_S:-400}" ctest --output-on-failure -j 8 > "../$OUT/ctest.log" 2>&1)
echo "ctest exit $?"
grep -E "tests passed|\(Failed\)|Not Run|sqlite3: not found" "$OUT/ctest.log" | sort | uniq -c | sort -rn | head -20
B=build-cuda/sedenergy
T=$(mktemp -d)
echo "== synth --force over an earlier dataset"
$B synth --out "$T/ds" --clips 4 --seconds 1 --rate 16000 > /dev/null 2>&1
$B synth --out "$T/ds" --clips 2 --seconds 1 --rate 16000 --force > "$T/synth.log" 2>&1
echo "exit $? ($(grep -c . "$T/synth.log") lines: $(tail -1 "$T/synth.log"))"
echo "== report of an older-schema database (read through a private copy, removed at exit)"
BEFORE=$(ls -d /tmp/sedenergy-read.* 2>/dev/null | wc -l)
$B report results/h100-paper43-2026-11-27/results.db -o "$T/report" > "$T/report.log" 2>&1
echo "exit $? ($(head -c 200 "$T/report.log" | head -1)); private copies left: $(( $(ls -d /tmp/sedenergy-read.* 2>/dev/null | wc -l) - BEFORE ))"
rm -rf "$T"
