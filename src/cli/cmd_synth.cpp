#include <iostream>

#include "audio/synth.hpp"
#include "cli/commands.hpp"
#include "common/error.hpp"

namespace sedenergy::cli {

void setup_synth(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<audio::SynthOptions>();
  auto out = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("wav");
  auto no_overlap = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("synth",
                                 "Generate a synthetic DESED-format dataset (audio, weak/strong/durations TSVs).\n"
                                 "Example: sedenergy synth --out data/synth --clips 200 --seconds 10 --seed 7");
  sub->add_option("--out", *out, "output folder")->required();
  sub->add_option("--clips", opt->clips, "number of clips")->capture_default_str();
  sub->add_option("--rate", opt->sample_rate, "sample rate in Hz")->capture_default_str();
  sub->add_option("--seconds", opt->seconds, "clip length")->capture_default_str();
  sub->add_option("--min-events", opt->min_events, "fewest events per clip")->capture_default_str();
  sub->add_option("--max-events", opt->max_events, "most events per clip")->capture_default_str();
  sub->add_option("--snr-min", opt->snr_min_db, "lowest event-to-background ratio (dB)")->capture_default_str();
  sub->add_option("--snr-max", opt->snr_max_db, "highest event-to-background ratio (dB)")->capture_default_str();
  sub->add_flag("--no-overlap", *no_overlap, "never let events overlap");
  sub->add_option("--seed", opt->seed, "random seed")->capture_default_str();
  sub->add_option("--format", *format, "wav, flac or ogg")->capture_default_str();
  sub->add_option("--threads", opt->threads, "threads (0: all cores)");
  sub->callback([=, &exit_code] {
    opt->extension = "." + *format;
    opt->allow_overlap = !*no_overlap;
    int last = -1;
    auto res = audio::synthesize_dataset(*out, *opt, [&](int done, int total) {
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
