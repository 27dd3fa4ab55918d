#!/usr/bin/env bash
# A sweep longer than one GPU session, at one code version: `--resume` continues a session only at the same
# commit (and GPU model), so every session of the sweep must build the same commit. This exports COMMIT's
# source (without results/) into .at/COMMIT (ignored), to be carried to the GPU machine and built there with
# its revision named (the folder has no .git of its own):
#   here:  scripts/pin-commit.sh 7248e3136b37           -> .at/7248e3136b37
#   there: scripts/gpu-pinned-study.sh paper43 7248e3136b37 PACKDIR "$OUT" (builds it, resumes the pack)
# (carry .deps and .at/COMMIT; bring each call's pack back into PACKDIR for the next call).
# Usage: scripts/pin-commit.sh COMMIT
set -euo pipefail
cd "$(dirname "$0")/.."
COMMIT="$(git rev-parse --short=12 "${1:?usage: $0 COMMIT}^{commit}")" || exit 2
DEST=".at/$COMMIT"
rm -rf "$DEST" && mkdir -p "$DEST"
git archive "$COMMIT" -- . ':(exclude)results' | tar -x -C "$DEST"
echo "$DEST ($(du -sh "$DEST" | cut -f1)): carry it, build it with SEDENERGY_GIT_REVISION=$COMMIT"
