#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "data/dataset.hpp"
#include "features/npy.hpp"

namespace fs = std::filesystem;

namespace sedenergy::cli {

void setup_features(CLI::App& app, int& exit_code) {
  struct Args {
    std::string data, preset = "paper", exp, out, on_error = "stop";
    int n_fft = 0, hop = 0, mels = 0, rate = 0, frames = -1, threads = 0;
    double fmin = -1, fmax = -1, seconds = 0;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("features",
                                 "Extract mel features of a DESED-format dataset with a preset (paper, dcase, librosa).\n"
                                 "Example: sedenergy features --data data/synth --preset librosa --export npy --out feats");
  sub->add_option("--data", a->data, "DESED root")->required();
  sub->add_option("--preset", a->preset, "paper, dcase or librosa")->capture_default_str();
  sub->add_option("--n-fft", a->n_fft, "override n_fft (and window length)");
  sub->add_option("--hop", a->hop, "override the hop length");
  sub->add_option("--mels", a->mels, "override the number of mel bands");
  sub->add_option("--rate", a->rate, "override the sample rate (audio is resampled)");
  sub->add_option("--fmin", a->fmin, "override f_min");
  sub->add_option("--fmax", a->fmax, "override f_max");
  sub->add_option("--frames", a->frames, "keep the first N frames (0: the whole clip)");
  sub->add_option("--seconds", a->seconds, "pad or crop clips to this length");
  sub->add_option("--export", a->exp, "npy: one .npy file per clip")->check(CLI::IsMember({"npy"}));
  sub->add_option("--out", a->out, "folder for exported files");
  sub->add_option("--on-error", a->on_error, "stop or skip bad clips")->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
  sub->add_option("--threads", a->threads, "threads (0: all cores)");
  sub->callback([a, &exit_code] {
    auto p = features::preset(a->preset);
    if (a->n_fft > 0) p.n_fft = p.win_length = a->n_fft;
    if (a->hop > 0) p.hop_length = a->hop;
    if (a->mels > 0) p.n_mels = a->mels;
    if (a->rate > 0) {
      p.sample_rate = a->rate;
      if (a->fmax < 0) p.f_max = std::min(p.f_max, a->rate / 2.0);
    }
    if (a->fmin >= 0) p.f_min = a->fmin;
    if (a->fmax >= 0) p.f_max = a->fmax;
    if (a->frames >= 0) p.max_frames = a->frames;
    if (a->seconds > 0) p.clip_seconds = a->seconds;
    features::validate(p);
    if (!a->exp.empty() && a->out.empty()) throw InputError("--export needs --out FOLDER");
    auto paths = data::locate_train_set(a->data);
    auto clips = data::load_clips(paths);
    data::ExtractOptions eo;
    eo.threads = a->threads;
    eo.on_error = a->on_error == "skip" ? data::OnError::kSkip : data::OnError::kStop;
    auto fs_ = data::extract_features(paths, clips, p, eo);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (float v : fs_.features) {
      lo = std::min<double>(lo, v);
      hi = std::max<double>(hi, v);
      sum += v;
    }
    std::cout << "features: " << features::describe(p) << "\n"
              << fs_.n_clips << " clips -> " << fs_.n_mels << " mels x " << fs_.frames << " frames in "
              << fs_.extract_seconds << " s (" << 1000.0 * fs_.extract_seconds / std::max(1, fs_.n_clips)
              << " ms per clip, all threads)\n"
              << "values: min " << lo << ", max " << hi << ", mean " << sum / fs_.features.size() << "\n";
    if (!fs_.skipped.empty()) {
      std::cout << "skipped " << fs_.skipped.size() << " bad clips:\n";
      for (const auto& s : fs_.skipped) std::cout << "  " << s << "\n";
    }
    if (a->exp == "npy") {
      std::error_code ec;
      fs::create_directories(a->out, ec);
      if (ec) throw InputError("--out '" + a->out + "': " + ec.message());
      const std::size_t per = static_cast<std::size_t>(fs_.n_mels) * fs_.frames;
      for (int i = 0; i < fs_.n_clips; ++i) {
        std::vector<float> one(fs_.features.begin() + i * per, fs_.features.begin() + (i + 1) * per);
        fs::path name = fs::path(a->out) / fs::path(fs_.filenames[i]).replace_extension(".npy");
        fs::create_directories(name.parent_path(), ec);
        features::write_npy(name.string(), one, {fs_.n_mels, fs_.frames});
      }
      std::cout << "exported " << fs_.n_clips << " .npy files to " << a->out << "\n";
    }
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
