// Synthetic DESED-format soundscapes: a coloured-noise background with 0..N procedural events, one
// sound family per DESED class. Deterministic for a seed (each clip has its own derived seed, so the
// result does not depend on the number of threads).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/desed.hpp"

namespace sedenergy::data {

struct SynthOptions {
  int clips = 1578;  // DESED weak train
  int sample_rate = 44100;
  double seconds = 10.0;
  int min_events = 1;
  int max_events = 3;
  double snr_min_db = 0.0;   // event RMS over background RMS
  double snr_max_db = 20.0;
  bool allow_overlap = true;
  std::uint64_t seed = 1;
  std::string extension = ".wav";
  int threads = 0;  // 0: all cores
};

struct SynthResult {
  std::string root;
  data::DatasetPaths paths;
  std::vector<data::Clip> clips;
};

// Renders one event of class `label` lasting `seconds` (exposed for tests).
std::vector<float> render_event(int label, double seconds, int sample_rate, std::uint64_t seed);

// Renders one clip: returns samples and fills `clip.events`/`clip.labels`.
std::vector<float> render_clip(const SynthOptions& opt, int index, data::Clip& clip);

// Writes a whole dataset under `root`: audio/train/weak/*.wav, metadata/train/{weak,strong,durations}.tsv
// and synth.json (the options, used to decide reuse). `progress(done, total)` is optional.
SynthResult synthesize_dataset(const std::string& root, const SynthOptions& opt,
                               const std::function<void(int, int)>& progress = {});

// True when `root` holds a complete dataset made with exactly these options.
bool synthetic_dataset_matches(const std::string& root, const SynthOptions& opt);

// True when `root` was written by synthesize_dataset (its synth.json names the generator): what a session
// records of its data, so that findings never take generated clips for recorded ones.
bool made_by_synth(const std::string& root);

}  // namespace sedenergy::data
