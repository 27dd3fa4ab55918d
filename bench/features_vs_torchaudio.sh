#!/usr/bin/env bash
# Single-thread log-mel of a 10 s 16 kHz clip (n_fft 2048, hop 256, 128 mels): sedenergy (float32 FFT, and the
# librosa preset's float64 one) vs Debian's
# torchaudio 0.13, side by side in one run, interleaved. torchaudio's mel product goes through the
# system BLAS, so it is timed with both: the one the alternatives system selects (OpenBLAS once
# scripts/bootstrap.sh ran) and Debian's reference BLAS (the default when no other BLAS is installed).
# Usage: bench/features_vs_torchaudio.sh [BUILD_DIR]   (needs python3-torchaudio)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
PY=/usr/bin/python3
REF_BLAS=/usr/lib/x86_64-linux-gnu/blas
[ -x "$BUILD/bench_features" ] || cmake --build "$BUILD" --target bench_features
ta=(); tr=(); se=(); s32=()
bench_ms() {  # median real time of one benchmark of bench_features, in ms
  "$BUILD/bench_features" --benchmark_filter="^$1/" --benchmark_format=json 2>/dev/null |
    $PY -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["real_time"])'
}
median() { $PY -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])'; }
for round in 1 2 3; do
  ta+=("$(OMP_NUM_THREADS=1 $PY bench/torchaudio_logmel.py 40 | median)")
  if [ -e "$REF_BLAS/libblas.so.3" ]; then
    tr+=("$(OMP_NUM_THREADS=1 LD_LIBRARY_PATH=$REF_BLAS $PY bench/torchaudio_logmel.py 20 | median)")
  fi
  se+=("$(bench_ms BM_LogMel_10s_16k)")
  s32+=("$(bench_ms BM_LogMel_10s_16k_float32)")
done
$PY - "$(IFS=,; echo "${ta[*]}")" "$(IFS=,; echo "${tr[*]}")" "$(IFS=,; echo "${s32[*]}")" "$(IFS=,; echo "${se[*]}")" <<'PYEOF'
import statistics, sys
parse = lambda s: [float(v) for v in s.split(",") if v]
ta, tr, se, s64 = (parse(a) for a in sys.argv[1:5])
m = statistics.median
print(f"sedenergy, float64 FFT (librosa preset, 1 thread): {m(s64):6.2f} ms per 10 s clip  runs {[round(v, 2) for v in s64]}  -> {m(s64) / m(se):.2f}x the float32 time")
print(f"sedenergy, float32 FFT (1 thread): {m(se):6.2f} ms per 10 s clip  runs {[round(v, 2) for v in se]}")
print(f"torchaudio, system BLAS    (1 thread): {m(ta):6.2f} ms  runs {[round(v, 2) for v in ta]}  -> {m(ta) / m(se):.1f}x")
if tr:
    print(f"torchaudio, reference BLAS (1 thread): {m(tr):6.2f} ms  runs {[round(v, 2) for v in tr]}  -> {m(tr) / m(se):.1f}x")
PYEOF
