#include "data/dataset.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "common/host.hpp"

namespace fs = std::filesystem;

namespace sedenergy::data {

std::vector<float> multi_hot(const std::vector<int>& labels) {
  std::vector<float> v(kNumClasses, 0.0f);
  for (int l : labels) v.at(l) = 1.0f;
  return v;
}

std::vector<float> load_clip_audio(const std::string& path, const features::FeatureParams& params,
                                   const ExtractOptions& opt, std::size_t index) {
  auto a = audio::read_audio(path, opt.channels);
  auto s = audio::resample(a.samples, a.sample_rate, params.sample_rate);
  const std::size_t length = static_cast<std::size_t>(params.clip_seconds * params.sample_rate);
  if (s.size() > length && opt.crop == Crop::kRandom) {
    std::mt19937_64 rng(opt.seed * 0x9E3779B97F4A7C15ull + index);
    std::size_t offset = std::uniform_int_distribution<std::size_t>(0, s.size() - length)(rng);
    s.erase(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(offset));
  }
  audio::fit_length(s, length);
  return s;
}

std::string describe(const ExtractOptions& opt) {
  return std::string("channels=") + (opt.channels == audio::ChannelPolicy::kFirst ? "first" : "mean") +
         " crop=" + (opt.crop == Crop::kStart ? "start" : "random seed " + std::to_string(opt.seed));
}

FeatureSet extract_features(const DatasetPaths& paths, const std::vector<Clip>& clips,
                            const features::FeatureParams& params, const ExtractOptions& opt) {
  const double t0 = monotonic_s();
  features::MelExtractor mel(params);
  const std::size_t length = static_cast<std::size_t>(params.clip_seconds * params.sample_rate);

  const int frames = mel.output_frames(length);
  const std::size_t per_clip = static_cast<std::size_t>(params.n_mels) * frames;

  std::vector<std::vector<float>> feats(clips.size());
  std::vector<std::string> errors(clips.size());
  std::atomic<std::size_t> next{0};
  std::atomic<int> done{0};
  std::mutex progress_mu;
  auto worker = [&] {
    for (std::size_t i = next++; i < clips.size(); i = next++) {
      const std::string path = (fs::path(paths.audio_dir) / clips[i].filename).string();
      try {
        feats[i] = mel.compute(load_clip_audio(path, params, opt, i));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
      int d = ++done;
      if (opt.progress) {
        std::lock_guard lock(progress_mu);
        opt.progress(d, static_cast<int>(clips.size()));
      }
    }
  };
  int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<int>(threads, std::max<std::size_t>(1, clips.size()));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();

  FeatureSet fs_out;
  fs_out.n_mels = params.n_mels;
  fs_out.frames = frames;
  for (std::size_t i = 0; i < clips.size(); ++i) {
    if (!errors[i].empty()) {
      if (opt.on_error == OnError::kStop) throw InputError(errors[i]);
      fs_out.skipped.push_back(errors[i]);
      continue;
    }
    fs_out.features.insert(fs_out.features.end(), feats[i].begin(), feats[i].end());
    auto mh = multi_hot(clips[i].labels);
    fs_out.targets.insert(fs_out.targets.end(), mh.begin(), mh.end());
    fs_out.filenames.push_back(clips[i].filename);
  }
  fs_out.n_clips = static_cast<int>(fs_out.filenames.size());
  if (fs_out.n_clips == 0) throw InputError("no usable clip in " + paths.audio_dir);
  if (fs_out.features.size() != per_clip * fs_out.n_clips) throw Error("internal: feature size mismatch");
  fs_out.extract_seconds = monotonic_s() - t0;
  return fs_out;
}

}  // namespace sedenergy::data
