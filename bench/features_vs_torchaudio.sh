#!/usr/bin/env bash
# Single-thread log-mel of a 10 s 16 kHz clip: sedenergy vs Debian's torchaudio, measured side by side in
# one run (interleaved: torchaudio, sedenergy, torchaudio, sedenergy). Prints medians and the ratio.
# Usage: bench/features_vs_torchaudio.sh [BUILD_DIR]   (needs python3-torchaudio: apt-get install python3-torchaudio)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
PY=/usr/bin/python3
[ -x "$BUILD/bench_features" ] || cmake --build "$BUILD" --target bench_features
ta=(); se=()
for round in 1 2; do
  ta+=("$(OMP_NUM_THREADS=1 $PY bench/torchaudio_logmel.py 50 | $PY -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')")
  se+=("$("$BUILD/bench_features" --benchmark_filter=BM_LogMel_10s_16k --benchmark_format=json 2>/dev/null |
        $PY -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["real_time"])')")
done
$PY - "${ta[@]}" "${se[@]}" <<'PYEOF'
import statistics, sys
v = [float(a) for a in sys.argv[1:]]
ta, se = statistics.median(v[:2]), statistics.median(v[2:])
print(f"torchaudio (1 thread): {ta:.2f} ms per 10 s clip (runs: {v[:2]})")
print(f"sedenergy  (1 thread): {se:.2f} ms per 10 s clip (runs: {v[2:]})")
print(f"speed-up: {ta / se:.1f}x")
PYEOF
