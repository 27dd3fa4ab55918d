// A dataset in memory: one feature matrix per clip plus multi-hot clip targets, ready for batching.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audio/audio_io.hpp"
#include "data/desed.hpp"
#include "features/mel.hpp"

namespace sedenergy::data {

struct FeatureSet {
  int n_clips = 0;
  int n_mels = 0;
  int frames = 0;
  std::vector<float> features;  // [n_clips][n_mels][frames], when computed in memory
  std::shared_ptr<const void> mapping;  // keeps a memory-mapped cache alive
  const float* mapped = nullptr;        // [n_clips][n_mels][frames], when read from a cache
  const float* data() const { return mapped ? mapped : features.data(); }
  std::size_t size() const { return static_cast<std::size_t>(n_clips) * n_mels * frames; }
  std::vector<float> targets;   // [n_clips][kNumClasses], multi-hot
  std::vector<std::string> filenames;
  std::vector<std::string> skipped;  // "file: reason" for clips skipped with on_error=skip
  double extract_seconds = 0;        // wall time of the extraction (or of loading the cache)
  std::string source = "computed";   // computed, or the cache file it came from
};

enum class Crop { kStart, kRandom };  // how clips longer than the target length are cut

struct ExtractOptions {
  audio::ChannelPolicy channels = audio::ChannelPolicy::kFirst;
  Crop crop = Crop::kStart;
  std::uint64_t seed = 1;  // random crops: clip i uses seed and i, whatever the thread count
  OnError on_error = OnError::kStop;
  int threads = 0;  // 0: all cores
  std::function<void(int, int)> progress;
};

// Reads, resamples to the preset's rate, pads/crops to clip_seconds and extracts features of every
// clip. All clips share one frame count (clip length is fixed), so the result is one dense array.
FeatureSet extract_features(const DatasetPaths& paths, const std::vector<Clip>& clips,
                            const features::FeatureParams& params, const ExtractOptions& opt = {});

// Reads one clip the way extract_features does: mono by `opt.channels`, resampled to the preset's rate,
// padded or cropped to clip_seconds (clip `index` picks its random crop).
std::vector<float> load_clip_audio(const std::string& path, const features::FeatureParams& params,
                                   const ExtractOptions& opt, std::size_t index);

// Text that identifies the extraction options for caches ("channels=first crop=start seed=1").
std::string describe(const ExtractOptions& opt);

// Multi-hot vector of a clip's labels.
std::vector<float> multi_hot(const std::vector<int>& labels);

}  // namespace sedenergy::data
