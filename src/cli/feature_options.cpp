#include "cli/feature_options.hpp"

#include "cli/number_checks.hpp"
#include "common/error.hpp"

namespace sedenergy::cli {

const std::vector<std::string>& FeatureCli::log_choices() {
  static const std::vector<std::string> choices = {"none", "power-db", "amplitude-db"};
  return choices;
}

void FeatureCli::add_to(CLI::App* app, const std::string& default_preset) {
  preset = default_preset;
  auto* g = app->add_option_group("Features", "preset and overrides of every feature parameter");
  g->add_option("--preset", preset, "paper (the study), dcase (DCASE baseline) or librosa")->capture_default_str();
  g->add_option("--n-fft", n_fft, "FFT size (also the window length unless --win-length)")
      ->check(whole_in(16, 65536));
  g->add_option("--win-length", win_length, "window length")->check(whole_in(16, 65536));
  g->add_option("--hop", hop, "hop length")->check(whole_in(1, 65536));
  g->add_option("--mels", mels, "mel bands")->check(whole_in(1, 1024));
  g->add_option("--rate", rate, "sample rate (audio is resampled to it)")->check(whole_in(1000, 384000));
  g->add_option("--fmin", fmin, "lowest mel frequency")->check(finite_in(0, 192000));
  g->add_option("--fmax", fmax, "highest mel frequency")->check(finite_above(0, 192000));
  g->add_option("--window", window, "hann, hann-symmetric, hamming, hamming-symmetric")
      ->check(CLI::IsMember({"hann", "hann-symmetric", "hamming", "hamming-symmetric"}));
  g->add_option("--power", power, "1: magnitude, 2: power")->check(finite_above(0, 4));
  g->add_option("--mel-scale", mel_scale, "htk or slaney")->check(CLI::IsMember({"htk", "slaney"}));
  g->add_option("--norm", norm, "none or slaney (filter area normalisation)")->check(CLI::IsMember({"none", "slaney"}));
  g->add_option("--center", center, "yes or no: centred frames")->check(CLI::IsMember({"yes", "no"}));
  g->add_option("--pad-mode", pad_mode, "reflect or constant")->check(CLI::IsMember({"reflect", "constant"}));
  g->add_option("--log", log, "none, power-db (10 log10) or amplitude-db (20 log10)")
      ->check(CLI::IsMember(log_choices()));
  g->add_option("--amin", amin, "floor inside the log")->check(finite_above(0, 1));
  g->add_option("--top-db", top_db, "dynamic range below the maximum (0: none)")->check(finite_in(0, 400));
  g->add_option("--fft-precision", fft_precision, "float32 (torchaudio's float path) or float64 (librosa's numpy FFT)")
      ->check(CLI::IsMember({"float32", "float64"}));
  g->add_option("--frames", frames, "keep the first N frames (0: the whole clip)")->check(whole_in(0, 1000000));
  g->add_option("--seconds", seconds, "pad or crop clips to this length")->check(finite_above(0, 3600));
  auto* d = app->add_option_group("Audio", "how clips are read");
  d->add_option("--channels", channels, "multichannel audio: first (as the study) or mean")
      ->check(CLI::IsMember({"first", "mean"}))->capture_default_str();
  d->add_option("--crop", crop, "clips longer than --seconds: start, or random (seeded)")
      ->check(CLI::IsMember({"start", "random"}))->capture_default_str();
  d->add_option("--on-error", on_error, "bad clips: stop before any work, or skip them and list them")
      ->check(CLI::IsMember({"stop", "skip"}))->capture_default_str();
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
