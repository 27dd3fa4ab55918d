#include <filesystem>
#include <iostream>

#include "data/synth.hpp"
#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace sedenergy::cli {

void setup_synth(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<data::SynthOptions>();
  auto out = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("wav");
  auto no_overlap = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("synth",
                                 "Generate a synthetic DESED-format dataset (audio, weak/strong/durations TSVs).\n"
                                 "Example: sedenergy synth --out data/synth --clips 200 --seconds 10 --seed 7");
  sub->add_option("--out", *out, "output folder")->required();
  sub->add_option("--clips", opt->clips, "number of clips")->check(whole_in(1, 1000000))->capture_default_str();
  sub->add_option("--rate", opt->sample_rate, "sample rate in Hz")->check(whole_in(1000, 384000))->capture_default_str();
  sub->add_option("--seconds", opt->seconds, "clip length")->check(finite_above(0, 3600))->capture_default_str();
  sub->add_option("--min-events", opt->min_events, "fewest events per clip")->check(whole_in(0, 100))->capture_default_str();
  sub->add_option("--max-events", opt->max_events, "most events per clip")->check(whole_in(0, 100))->capture_default_str();
  sub->add_option("--snr-min", opt->snr_min_db, "lowest event-to-background ratio (dB)")->check(finite_in(-60, 60))->capture_default_str();
  sub->add_option("--snr-max", opt->snr_max_db, "highest event-to-background ratio (dB)")->check(finite_in(-60, 60))->capture_default_str();
  sub->add_flag("--no-overlap", *no_overlap, "never let events overlap");
  sub->add_flag("--force", *force, "replace the dataset already in --out (its audio/ and metadata/ folders)");
  sub->add_option("--seed", opt->seed, "random seed")->check(whole_in(0, 4294967295LL))->capture_default_str();
  sub->add_option("--format", *format, "wav, flac or ogg")->capture_default_str();
  sub->add_option("--threads", opt->threads, "threads (0: all cores)")->check(whole_in(0, 1024));
  sub->callback([=, &exit_code] {
    // A dataset is written into a fresh folder: old clips left beside new ones would make a different set.
    std::error_code ec;
    if (std::filesystem::is_directory(*out, ec) && !std::filesystem::is_empty(*out, ec)) {
      if (!*force) throw InputError("--out '" + *out + "' is not empty (give a new folder, or --force to replace its dataset)");
      for (const char* sub_dir : {"audio", "metadata"}) {
        const auto dir = (std::filesystem::path(*out) / sub_dir).string();
        std::string why;
        if (!remove_tree(dir, &why)) throw InputError("--force: cannot remove '" + dir + "': " + why);
      }
    }
    if (opt->min_events > opt->max_events) throw InputError("--min-events is above --max-events");
    if (opt->snr_min_db > opt->snr_max_db) throw InputError("--snr-min is above --snr-max");
    opt->extension = "." + *format;
    opt->allow_overlap = !*no_overlap;
    int last = -1;
    auto res = data::synthesize_dataset(*out, *opt, [&](int done, int total) {
      int pct = 100 * done / total;
      if (pct / 10 != last / 10) std::cerr << "synth: " << done << "/" << total << " clips\n";
      last = pct;
    });
    int events = 0;
    for (const auto& c : res.clips) events += static_cast<int>(c.events.size());
    std::cout << "wrote " << res.clips.size() << " clips with " << events << " events\n"
              << "audio:  " << res.paths.audio_dir << "\nweak:   " << res.paths.weak_tsv
              << "\nstrong: " << res.paths.strong_tsv << "\n";
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
