#include "cli/feature_options.hpp"

#include "cli/number_checks.hpp"
#include "common/error.hpp"

namespace sedenergy::cli {

namespace {
using F = FeatureCli;
using Choices = std::vector<std::string>;
}  // namespace

// Every feature and audio option, declared once: `add_to` makes the flags and a study configuration reads the
// keys marked `in_config` through the same checks.
const std::vector<FeatureOption>& FeatureCli::options() {
  static const std::vector<FeatureOption> table = {
      {"--preset", &F::preset, "paper (the study), dcase (DCASE baseline) or librosa", {}, Choices{}, true},
      {"--n-fft", &F::n_fft, "FFT size (also the window length unless --win-length)", whole_in(16, 65536)},
      {"--win-length", &F::win_length, "window length", whole_in(16, 65536)},
      {"--hop", &F::hop, "hop length", whole_in(1, 65536), {}, true},
      {"--mels", &F::mels, "mel bands", whole_in(1, 1024)},
      {"--rate", &F::rate, "sample rate (audio is resampled to it)", whole_in(1000, 384000)},
      {"--fmin", &F::fmin, "lowest mel frequency", finite_in(0, 192000)},
      {"--fmax", &F::fmax, "highest mel frequency", finite_above(0, 192000)},
      {"--window", &F::window, "hann, hann-symmetric, hamming, hamming-symmetric", {},
       Choices{"hann", "hann-symmetric", "hamming", "hamming-symmetric"}},
      {"--power", &F::power, "1: magnitude, 2: power", finite_above(0, 4)},
      {"--mel-scale", &F::mel_scale, "htk or slaney", {}, Choices{"htk", "slaney"}},
      {"--norm", &F::norm, "none or slaney (filter area normalisation)", {}, Choices{"none", "slaney"}},
      {"--center", &F::center, "yes or no: centred frames", {}, Choices{"yes", "no"}},
      {"--pad-mode", &F::pad_mode, "reflect or constant", {}, Choices{"reflect", "constant"}},
      {"--log", &F::log, "none, power-db (10 log10) or amplitude-db (20 log10)", {},
       Choices{"none", "power-db", "amplitude-db"}, true},
      {"--amin", &F::amin, "floor inside the log", finite_above(0, 1)},
      {"--top-db", &F::top_db, "dynamic range below the maximum (0: none)", finite_in(0, 400)},
      {"--fft-precision", &F::fft_precision, "float32 (torchaudio's float path) or float64 (librosa's numpy FFT)", {},
       Choices{"float32", "float64"}},
      {"--frames", &F::frames, "keep the first N frames (0: the whole clip)", whole_in(0, 1000000), {}, true},
      {"--seconds", &F::seconds, "pad or crop clips to this length", finite_above(0, 3600)},
      {"--channels", &F::channels, "multichannel audio: first (as the study) or mean", {}, Choices{"first", "mean"},
       false, FeatureOption::Group::audio},
      {"--crop", &F::crop, "clips longer than --seconds: start, or random (seeded)", {}, Choices{"start", "random"},
       false, FeatureOption::Group::audio},
      {"--on-error", &F::on_error, "bad clips: stop before any work, or skip them and list them", {},
       Choices{"stop", "skip"}, false, FeatureOption::Group::audio}};
  return table;
}

CLI::Validator FeatureOption::validator() const {
  return choices.empty() ? check : CLI::Validator(CLI::IsMember(choices));
}

void FeatureCli::add_to(CLI::App* app, const std::string& default_preset) {
  preset = default_preset;
  auto* features = app->add_option_group("Features", "preset and overrides of every feature parameter");
  auto* audio = app->add_option_group("Audio", "how clips are read");
  for (const auto& o : options()) {
    auto* group = o.group == FeatureOption::Group::features ? features : audio;
    auto* added = std::visit([&](auto field) { return group->add_option(o.flag, this->*field, o.help); }, o.field);
    added->check(o.validator());
    // Options with a meaningful value before any override show it in --help.
    if (o.group == FeatureOption::Group::audio || std::string(o.flag) == "--preset") added->capture_default_str();
  }
}

features::FeatureParams FeatureCli::params() const {
  auto p = features::preset(preset);
  if (n_fft > 0) p.n_fft = p.win_length = n_fft;
  if (win_length > 0) p.win_length = win_length;
  if (hop > 0) p.hop_length = hop;
  if (mels > 0) p.n_mels = mels;
  if (rate > 0) {
    p.sample_rate = rate;
    if (fmax < 0) p.f_max = std::min(p.f_max, rate / 2.0);
  }
  if (fmin >= 0) p.f_min = fmin;
  if (fmax >= 0) p.f_max = fmax;
  if (window == "hann") p.window = features::WindowKind::kHannPeriodic;
  if (window == "hann-symmetric") p.window = features::WindowKind::kHannSymmetric;
  if (window == "hamming") p.window = features::WindowKind::kHammingPeriodic;
  if (window == "hamming-symmetric") p.window = features::WindowKind::kHammingSymmetric;
  if (power > 0) p.power = power;
  if (!mel_scale.empty()) p.mel_scale = mel_scale == "htk" ? features::MelScale::kHtk : features::MelScale::kSlaney;
  if (!norm.empty()) p.slaney_norm = norm == "slaney";
  if (!center.empty()) p.center = center == "yes";
  if (!pad_mode.empty()) p.pad_mode = pad_mode == "reflect" ? features::PadMode::kReflect : features::PadMode::kConstant;
  if (log == "none") p.log = false;
  if (log == "power-db" || log == "amplitude-db") {
    p.log = true;
    p.log_multiplier = log == "power-db" ? 10.0 : 20.0;
  }
  if (amin > 0) p.amin = amin;
  if (top_db >= 0) p.top_db = top_db;
  if (frames >= 0) p.max_frames = frames;
  if (seconds > 0) p.clip_seconds = seconds;
  if (!fft_precision.empty()) p.fft_float64 = fft_precision == "float64";
  features::validate(p);
  return p;
}

data::ExtractOptions FeatureCli::extract_options() const {
  data::ExtractOptions o;
  o.channels = channels == "mean" ? audio::ChannelPolicy::kMean : audio::ChannelPolicy::kFirst;
  o.crop = crop == "random" ? data::Crop::kRandom : data::Crop::kStart;
  o.seed = seed;
  o.on_error = on_error == "skip" ? data::OnError::kSkip : data::OnError::kStop;
  return o;
}

}  // namespace sedenergy::cli
