#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "cli/feature_options.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "data/feature_cache.hpp"
#include "features/npy.hpp"

namespace fs = std::filesystem;

namespace sedenergy::cli {

void setup_features(CLI::App& app, int& exit_code) {
  struct Args {
    FeatureCli f;
    std::string data, tsv, exp, out, cache;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("features",
                                 "Extract mel features of a DESED-format dataset with a preset and overrides.\n"
                                 "Examples:\n"
                                 "  sedenergy features --data data/synth --preset librosa --export npy --out feats\n"
                                 "  sedenergy features --data /data/DESED --preset paper --frames 0 --cache cache/\n"
                                 "  sedenergy features --data d --preset dcase --hop 320 --mels 64 --on-error skip");
  sub->add_option("--data", a->data, "DESED root (or, with --tsv, the audio folder)")->required();
  sub->add_option("--tsv", a->tsv, "metadata TSV of the clips in --data (weak, strong or unlabeled)");
  a->f.add_to(sub, "paper");
  sub->add_option("--export", a->exp, "npy: one .npy file per clip, named after its audio file")
      ->check(CLI::IsMember({"npy"}));
  sub->add_option("--out", a->out, "folder for exported files and the list of skipped clips");
  sub->add_option("--cache", a->cache, "feature cache folder: reuse features computed before, or store them");
  sub->add_option("--threads", a->threads, "threads (0: all cores)")->check(whole_in(0, 1024));
  sub->callback([a, &exit_code] {
    auto p = a->f.params();
    auto eo = a->f.extract_options();
    eo.threads = a->threads;
    if (!a->exp.empty() && a->out.empty()) throw InputError("--export needs --out FOLDER");
    auto paths = data::open_dataset(a->data, a->tsv);
    std::vector<std::string> problems;
    auto clips = data::load_clips(paths, eo.on_error, &problems);
    std::string note;
    data::FeatureSet fs_ = a->cache.empty() ? data::extract_features(paths, clips, p, eo)
                                            : data::cached_features(a->cache, paths, clips, p, eo, note);
    problems.insert(problems.end(), fs_.skipped.begin(), fs_.skipped.end());
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    const float* v = fs_.data();
    for (std::size_t i = 0; i < fs_.size(); ++i) {
      lo = std::min<double>(lo, v[i]);
      hi = std::max<double>(hi, v[i]);
      sum += v[i];
    }
    std::cout << "features: " << features::describe(p) << " [" << features::MelExtractor(p).kernel_name() << "]\n";
    if (!note.empty()) std::cout << note << "\n";
    std::cout << fs_.n_clips << " clips -> " << fs_.n_mels << " mels x " << fs_.frames << " frames in "
              << fs_.extract_seconds << " s (" << 1000.0 * fs_.extract_seconds / std::max(1, fs_.n_clips)
              << " ms per clip, all threads)\n"
              << "values: min " << lo << ", max " << hi << ", mean " << sum / std::max<std::size_t>(1, fs_.size())
              << "\n";
    std::error_code ec;
    if (!a->out.empty()) {
      fs::create_directories(a->out, ec);
      if (ec) throw InputError("--out '" + a->out + "': " + ec.message());
    }
    if (!problems.empty()) {
      std::cout << "skipped " << problems.size() << " bad clips:\n";
      for (const auto& s : problems) std::cout << "  " << s << "\n";
      if (!a->out.empty()) {
        write_file((fs::path(a->out) / "skipped.txt").string(), join(problems, "\n") + "\n");
        std::cout << "list written to " << (fs::path(a->out) / "skipped.txt").string() << "\n";
      }
    }
    if (a->exp == "npy") {
      const std::size_t per = static_cast<std::size_t>(fs_.n_mels) * fs_.frames;
      for (int i = 0; i < fs_.n_clips; ++i) {
        std::vector<float> one(fs_.data() + i * per, fs_.data() + (i + 1) * per);
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
