#include <iostream>

#include "cli/commands.hpp"
#include "cli/feature_options.hpp"
#include "runner/study.hpp"

namespace sedenergy::cli {

void setup_study(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<runner::StudyOptions>();
  auto feats = std::make_shared<FeatureCli>();
  auto* sub = app.add_subcommand(
      "study",
      "Run the study: train and test each configuration in measurement windows, store results, write a report.\n"
      "Examples:\n"
      "  sedenergy study                                  # quick grid on CPU, generated data\n"
      "  sedenergy study --grid paper43 --device cuda     # the study's 43 configurations\n"
      "  sedenergy study --data /data/DESED --grid mlp:1x512,cnn:2x128 --out runs/desed\n"
      "  sedenergy study --frames 0 --feature-mode on-the-fly   # full-length input, features per batch");
  sub->add_option("--data", opt->data_dir, "DESED root (audio/train/weak + metadata/train/weak.tsv); default: generated");
  sub->add_option("--tsv", opt->data_tsv, "metadata TSV of --data when --data is an audio folder, not a DESED root");
  sub->add_option("--test-data", opt->test_data_dir, "a separate DESED root to test on (default: the training set)");
  sub->add_option("--test-tsv", opt->test_tsv, "metadata TSV of --test-data when it is an audio folder");
  sub->add_option("--holdout", opt->holdout, "test on this seeded fraction of the data instead (e.g. 0.2)");
  sub->add_option("--feature-mode", opt->feature_mode,
                  "cached (computed once, memory-mapped cache) or on-the-fly (per batch on the CPU, as the study)")
      ->check(CLI::IsMember({"cached", "on-the-fly"}))->capture_default_str();
  sub->add_option("--cache", opt->cache_dir, "feature cache folder (default OUT/cache)");
  sub->add_option("--out", opt->out_dir, "output folder (results.db, report/, data/)")->capture_default_str();
  sub->add_option("--grid", opt->grid, "auto, paper43, quick, or specs like mlp:1x512,crnn:1x1:64x64")->capture_default_str();
  sub->add_option("--device", opt->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--clips", opt->clips, "size of the generated dataset (0: 1578 for paper43, else 256)");
  sub->add_option("--batch", opt->batch, "batch size")->capture_default_str();
  sub->add_option("--lr", opt->lr, "Adam learning rate")->capture_default_str();
  sub->add_option("--epochs", opt->epochs, "epochs per measured phase (at least)")->capture_default_str();
  sub->add_option("--min-window", opt->min_window_s, "repeat a phase until its window lasts this many seconds")
      ->capture_default_str();
  sub->add_option("--warmup-steps", opt->warmup_steps, "unmeasured training steps first")->capture_default_str();
  sub->add_option("--idle", opt->idle_s, "idle baseline seconds (default 5 with a GPU, 0 without)");
  sub->add_option("--cooldown", opt->cooldown_s, "pause between configurations (default 2 s with a GPU)");
  sub->add_option("--sample-period", opt->period_s, "sampler period in seconds")->capture_default_str();
  sub->add_option("--cpu-tdp", opt->cpu_tdp_w, "CPU TDP in W for the CPU power estimate (0: from a table)");
  sub->add_option("--seed", opt->seed, "seed for data generation and training")->capture_default_str();
  sub->add_option("--threads", opt->threads, "feature extraction threads (0: all cores)");
  sub->add_option("--shard", opt->shard, "K/N: run the K-th of N disjoint parts of the grid (merge them with "
                                         "`sedenergy merge`)");
  sub->add_flag("--resume", opt->resume,
                "continue the latest session with the same options in OUT/results.db: finished configurations "
                "are skipped, the interrupted one is redone");
  feats->add_to(sub, "paper");
  sub->callback([opt, feats, &exit_code] {
    opt->command_line = command_line();
    opt->features = feats->params();
    opt->extract = feats->extract_options();
    auto s = runner::run_study(*opt, std::cout);
    std::cout << "\n" << (s.interrupted ? "interrupted" : "finished") << ": " << s.runs_ok << " runs ok, " << s.runs_failed
              << " failed" << (s.runs_skipped ? ", " + std::to_string(s.runs_skipped) + " already done" : "") << ", "
              << s.total_s << " s in all\n";
    if (s.gpu_measured) {
      std::cout << "energy inside the measurement windows: GPU " << s.gpu_energy_j << " J (NVML), all domains "
                << s.energy_j << " J\n";
    } else {
      std::cout << "energy inside the measurement windows: " << s.energy_j << " J (ESTIMATED: no GPU sensor)\n";
    }
    std::cout << "database: " << s.db_path << "\ncsv:      " << s.csv_path << "\nreport:   " << s.html_path << "\n";
    exit_code = s.interrupted ? 130 : (s.runs_failed > 0 && s.runs_ok == 0 ? 1 : 0);
  });
}

}  // namespace sedenergy::cli
