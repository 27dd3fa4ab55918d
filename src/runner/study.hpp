// The study: dataset -> features -> for each configuration, train one epoch and test it inside
// measurement windows -> SQLite -> report. See REFERENCE.md §1.1 for the protocol reproduced here.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "data/dataset.hpp"
#include "features/mel.hpp"

namespace sedenergy::runner {

struct StudyOptions {
  std::string data_dir;                 // DESED root; empty: a synthetic dataset under out_dir/data
  std::string data_tsv;                 // with data_dir: the TSV describing that audio folder
  std::string test_data_dir;            // separate test set (DESED root); empty: test on the training set
  std::string test_tsv;
  double holdout = 0;                   // > 0: this seeded fraction of the data is the test set
  features::FeatureParams features = features::preset("paper");
  data::ExtractOptions extract;         // channels, crop, error policy
  std::string feature_mode = "cached";  // cached (computed once, memory-mapped) or on-the-fly (per batch, CPU)
  std::string cache_dir;                // empty: out_dir/cache
  std::string out_dir = "sedenergy-out";
  std::string grid = "auto";            // auto (paper43 on CUDA, quick on CPU), paper43, quick, or spec list
  std::string device = "auto";          // auto, cpu, cuda, cuda:N
  int clips = 0;                        // synthetic dataset size; 0: 1578 (paper43) or 256 (otherwise)
  int batch = 8;
  double lr = 1e-3;
  int epochs = 1;                       // epochs per measured phase (at least)
  double min_window_s = 5.0;            // repeat the phase until its window lasts this long
  int warmup_steps = 3;                 // unmeasured training steps before the windows
  double idle_s = -1;                   // idle baseline length; < 0: 5 s with a GPU, none without
  double cooldown_s = -1;               // pause between configurations; < 0: 2 s with a GPU, none without
  double period_s = 0.1;                // sampler period
  double cpu_tdp_w = 0;
  std::uint64_t seed = 1;
  int threads = 0;                      // feature extraction threads; 0: all cores
  std::string shard;                    // "K/N": only the configurations i with i % N == K - 1
  bool resume = false;                  // continue the latest session with the same options
  std::string command_line;             // recorded in the session
};

struct StudySummary {
  std::string db_path, csv_path, html_path;
  int runs_ok = 0, runs_failed = 0, runs_skipped = 0;
  bool interrupted = false;  // Ctrl-C: the run in progress finished, the rest were left for --resume
  double total_s = 0;
  double gpu_energy_j = 0;  // measured, all phases and repetitions inside windows
  double energy_j = 0;      // all domains
  bool gpu_measured = false;
};

// Throws InputError for bad options (before any long work starts).
StudySummary run_study(const StudyOptions& opt, std::ostream& log);

}  // namespace sedenergy::runner
