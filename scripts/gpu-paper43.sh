#!/usr/bin/env bash
# The reference results: the study's 43 configurations with the full protocol (configs/paper43.json:
# 3 repetitions in random interleaved order, 5 s windows, cooldown to idle) on the GPUs given (one GPU:
# the study itself; several: one worker per GPU), after scripts/gpu-build.sh.
# Usage: scripts/gpu-paper43.sh OUTDIR [GPU ids, default 0] [study args]
# Where one command may only run for a limited time, set SEDENERGY_LIMIT_S: the study is stopped with
# SIGINT after that many seconds (the run in progress finishes; everything finished is committed), and
# the next call with the same OUTDIR resumes it. Each call appends to OUTDIR/machine.txt and study.log.
# Builds first (scripts/gpu-prepare.sh: incremental, so a warm node never runs an older checkout's binary).
# SEDENERGY_PACK=FILE.tgz packs OUTDIR without the generated audio and the feature cache (the store, logs
# and report: a few MB) to bring back; the study leaves results.db one file (Store::settle), complete alone.
# SEDENERGY_UNPACK=FILE.tgz starts a fresh machine from such a pack: the study resumes its session when this
# build is of the same commit and GPU model (scripts/pin-commit.sh keeps the commit across sessions), else it
# starts a new session beside it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: $0 OUTDIR [gpu ids] [study args]}"
GPUS="${2:-0}"
shift $(( $# >= 2 ? 2 : 1 ))
mkdir -p "$OUT"
if [ -n "${SEDENERGY_UNPACK:-}" ] && [ ! -f "$OUT/study/results.db" ]; then tar xzf "$SEDENERGY_UNPACK" -C "$OUT" || exit 2; fi
scripts/gpu-prepare.sh "$OUT" "paper43 on GPUs $GPUS" || exit 1
cmd=(build-cuda/sedenergy study --config paper43 --out "$OUT/study")
if [[ "$GPUS" == *,* ]]; then cmd+=(--devices "$GPUS"); else export CUDA_VISIBLE_DEVICES="$GPUS"; cmd+=(--device cuda); fi
[ -f "$OUT/study/results.db" ] && cmd+=(--resume)
[ -n "${SEDENERGY_LIMIT_S:-}" ] && cmd=(timeout -s INT -k 75 "$SEDENERGY_LIMIT_S" "${cmd[@]}")
echo "== $(date -u +%FT%TZ) ${cmd[*]} $*" | tee -a "$OUT/study.log"
"${cmd[@]}" "$@" 2>&1 | tee -a "$OUT/study.log"
rc=${PIPESTATUS[0]}
echo "== $(date -u +%FT%TZ) exit $rc" | tee -a "$OUT/study.log"
[ -n "${SEDENERGY_PACK:-}" ] && tar czf "$SEDENERGY_PACK" --exclude=data --exclude=cache -C "$OUT" .
exit "$rc"
