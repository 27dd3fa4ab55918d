// Feature and dataset options shared by `features` and `study`: a preset plus overrides of every
// parameter, the channel and crop policies, the cache and the error policy.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <variant>
#include <vector>

#include "data/dataset.hpp"
#include "features/mel.hpp"

namespace sedenergy::cli {

struct FeatureCli;

// One feature or audio option: its flag, the member it sets, its help and its check (a range or a list of
// choices); `in_config`: a study configuration may set it too, under the flag's name without "--".
struct FeatureOption {
  enum class Group { features, audio };
  const char* flag;
  std::variant<int FeatureCli::*, double FeatureCli::*, std::string FeatureCli::*> field;
  const char* help;
  CLI::Validator check = {};
  std::vector<std::string> choices = {};
  bool in_config = false;
  Group group = Group::features;
  CLI::Validator validator() const;  // the check, or the choices
};

struct FeatureCli {
  std::string preset = "paper";
  int n_fft = 0, win_length = 0, hop = 0, mels = 0, rate = 0, frames = -1;
  double fmin = -1, fmax = -1, seconds = 0, power = 0, amin = 0, top_db = -1;
  std::string window, mel_scale, norm, pad_mode, log, center, fft_precision;
  std::string channels = "first", crop = "start", on_error = "stop";
  std::uint64_t seed = 1;

  static const std::vector<FeatureOption>& options();  // the table of the options below

  void add_to(CLI::App* app, const std::string& default_preset);
  features::FeatureParams params() const;        // preset + overrides, validated
  data::ExtractOptions extract_options() const;  // channels, crop, error policy
};

}  // namespace sedenergy::cli
