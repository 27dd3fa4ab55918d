// A dataset in memory: one feature matrix per clip plus multi-hot clip targets, ready for batching.
#pragma once
#include <functional>
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
  std::vector<float> features;  // [n_clips][n_mels][frames]
  std::vector<float> targets;   // [n_clips][kNumClasses], multi-hot
  std::vector<std::string> filenames;
  std::vector<std::string> skipped;  // "file: reason" for clips skipped with on_error=skip
  double extract_seconds = 0;        // wall time of the extraction
};

enum class OnError { kStop, kSkip };

struct ExtractOptions {
  audio::ChannelPolicy channels = audio::ChannelPolicy::kFirst;
  OnError on_error = OnError::kStop;
  int threads = 0;  // 0: all cores
  std::function<void(int, int)> progress;
};

// Reads, resamples to the preset's rate, pads/crops to clip_seconds and extracts features of every
// clip. All clips share one frame count (clip length is fixed), so the result is one dense array.
FeatureSet extract_features(const DatasetPaths& paths, const std::vector<Clip>& clips,
                            const features::FeatureParams& params, const ExtractOptions& opt = {});

// Multi-hot vector of a clip's labels.
std::vector<float> multi_hot(const std::vector<int>& labels);

}  // namespace sedenergy::data
