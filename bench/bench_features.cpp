// Feature extraction speed (Google Benchmark). The comparison with torchaudio, side by side in one run,
// is bench/features_vs_torchaudio.sh.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "data/synth.hpp"
#include "data/dataset.hpp"
#include "features/mel.hpp"

#include <filesystem>

using namespace sedenergy;

namespace {

std::vector<float> noise_clip(int rate, double seconds) {
  std::mt19937 g(1);
  std::normal_distribution<float> n(0.0f, 0.1f);
  std::vector<float> x(static_cast<std::size_t>(rate * seconds));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = n(g) + 0.3f * std::sin(0.05f * i);
  return x;
}

// One 10 s clip at 16 kHz, n_fft 2048, hop 256, 128 mels, log (the `librosa` preset, FFT in float64), one thread.
void BM_LogMel_10s_16k(benchmark::State& state) {
  auto p = features::preset("librosa");
  features::MelExtractor mel(p);
  auto x = noise_clip(16000, 10.0);
  for (auto _ : state) benchmark::DoNotOptimize(mel.compute(x));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogMel_10s_16k)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The same in float32 (`--fft-precision float32`): torchaudio's float path, which the script compares with.
void BM_LogMel_10s_16k_float32(benchmark::State& state) {
  auto p = features::preset("librosa");
  p.fft_float64 = false;
  features::MelExtractor mel(p);
  auto x = noise_clip(16000, 10.0);
  for (auto _ : state) benchmark::DoNotOptimize(mel.compute(x));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogMel_10s_16k_float32)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The study's features: 44.1 kHz, magnitude, first 64 frames only.
void BM_PaperMel_64frames(benchmark::State& state) {
  features::MelExtractor mel(features::preset("paper"));
  auto x = noise_clip(44100, 10.0);
  for (auto _ : state) benchmark::DoNotOptimize(mel.compute(x));
}
BENCHMARK(BM_PaperMel_64frames)->Unit(benchmark::kMicrosecond)->MinTime(1.0);

// A whole 10 s clip at 44.1 kHz (1723 frames).
void BM_PaperMel_full_10s_44k(benchmark::State& state) {
  auto p = features::preset("paper");
  p.max_frames = 0;
  features::MelExtractor mel(p);
  auto x = noise_clip(44100, 10.0);
  for (auto _ : state) benchmark::DoNotOptimize(mel.compute(x));
}
BENCHMARK(BM_PaperMel_full_10s_44k)->Unit(benchmark::kMillisecond)->MinTime(1.0);

// A whole dataset (64 generated 10 s clips at 44.1 kHz: read, resample to 16 kHz, log-mel) with 1..N
// threads: extraction scales with cores.
void BM_ExtractDataset(benchmark::State& state) {
  static const std::string root = [] {
    auto dir = (std::filesystem::temp_directory_path() / "sedenergy-bench-dataset").string();
    data::SynthOptions o;
    o.clips = 64;
    if (!data::synthetic_dataset_matches(dir, o)) data::synthesize_dataset(dir, o);
    return dir;
  }();
  auto paths = data::locate_train_set(root);
  auto clips = data::load_clips(paths);
  data::ExtractOptions opt;
  opt.threads = static_cast<int>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(data::extract_features(paths, clips, features::preset("librosa"), opt));
  state.SetItemsProcessed(state.iterations() * static_cast<long>(clips.size()));
}
BENCHMARK(BM_ExtractDataset)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
