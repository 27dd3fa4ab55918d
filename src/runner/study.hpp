// The study: dataset -> features -> for each configuration, train one epoch and test it inside
// measurement windows -> SQLite -> report. See docs/FACTS.md §1.1 for the protocol reproduced here.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/stats.hpp"
#include "data/dataset.hpp"
#include "features/mel.hpp"
#include "models/implementation.hpp"

namespace sedenergy::runner {

inline constexpr double kStallWindowS = 1.0;
inline constexpr int kStallMinRepetitions = 3;  // with two, the median is their mean: neither is the odd one out

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
  // Each measured unit trains this many epochs from the same start weights; several values make a scaling
  // sweep (every configuration at every value).
  std::vector<int> epochs = {1};
  std::vector<double> fractions = {1.0};  // of the training set (nested seeded subsets); several: a sweep
  int repetitions = 3;                  // whole runs of every variant, in seeded random interleaved order
  double min_window_s = 5.0;            // repeat the phase until its window lasts this long
  int warmup_steps = 3;                 // unmeasured training steps before the windows
  double idle_s = -1;                   // idle baseline length; < 0: 5 s with a GPU, none without
  // Between runs: "idle" waits until GPU power is back within 10 % + 5 W of the idle baseline (at most
  // cooldown_max_s); a number pauses that many seconds (the study: 30); "auto": idle with a GPU, 0 without.
  std::string cooldown = "auto";
  double cooldown_max_s = 60;
  std::string loss = "bce-softmax";     // the study's BCE on softmax outputs, or bce-logits
  // Learning runs (early_stop > 0): the training window trains from the start weights epoch by epoch, each
  // epoch followed by the validation split's mAP, until it has not improved for early_stop epochs or
  // `epochs` (one value: the most) have run; the test phase and the quality use the best epoch's weights.
  int early_stop = 0;
  // Learning runs: the validation mAP whose energy the report gives, fixed before the runs (0: none fixed).
  double target_map = 0;
  double validation = 0;                // > 0: this seeded fraction of the training clips validates
  std::string optimizer = "auto";       // Adam: auto (PyTorch's default: foreach), fused, foreach, libtorch
  // How each configuration is run (models/implementation.hpp): preset names or optimizer/graphs/precision/data,
  // comma-separated; several make the implementation a dimension of the study.
  std::string impl = models::kDefaultImplementation;
  std::string python = "python3";       // the interpreter of the Python loop (implementations spelled /python)
  std::vector<int> devices;             // several GPUs: one worker process per GPU (run_study_on_devices)
  std::string worker_group;             // set in the worker processes of a multi-GPU study
  std::string worker_name;
  int worker_count = 1;                 // workers measuring this host at once: CPU/RAM energy is shared
  double period_s = 0.1;                // sampler period
  double cpu_tdp_w = 0;
  std::uint64_t seed = 1;
  int threads = 0;                      // feature extraction threads; 0: all cores
  // LibTorch's threads while training and testing, the process pinned to that many of its CPUs (the last
  // ones); -1: 4 with a GPU, 0 without; 0: LibTorch's default, unpinned.
  int train_threads = -1;
  std::string shard;                    // "K/N": only the configurations i with i % N == K - 1
  bool resume = false;                  // continue the latest session with the same options
  // Host stalls: a repetition slower per epoch than stall_factor x its configuration's median is measured
  // again, at most stall_retries times in a row (a re-run is itself judged the same way); only in studies
  // of at least kStallMinRepetitions repetitions whose windows last at least kStallWindowS (shorter ones vary
  // by more than the factor with scheduling alone).
  double stall_factor = analysis::kStallFactor;
  int stall_retries = 1;
  // The interval rule: after the planned repetitions (and stall re-runs), a configuration whose median energy
  // per epoch has an interval wider than +/- interval_target x the median, in either phase, gets one more
  // repetition, round after round, up to max_repetitions (runner/repetitions.hpp numbers them). 0: off.
  double interval_target = 0;
  int max_repetitions = 10;
  std::string command_line;             // recorded in the session
};

struct StudySummary {
  std::string db_path;  // the report of it is the caller's to write (report::write_report)
  int runs_ok = 0, runs_failed = 0, runs_skipped = 0;
  int runs_taken_by_others = 0;  // claimed by another study resuming the same session at the same time
  bool interrupted = false;  // Ctrl-C: the run in progress finished, the rest were left for --resume
  int stop_signal = 0;       // the signal that interrupted it (SIGINT, SIGTERM): the exit code is 128 + it
  double total_s = 0;
  double gpu_energy_j = 0;  // measured, all phases and repetitions inside windows
  double energy_j = 0;      // all domains
  bool gpu_measured = false;
};

// Throws InputError for bad options (before any long work starts). With prepare_only, stops once the
// dataset exists and its features are cached (what the parent of a multi-GPU study does before its
// workers start, so they share one dataset and one cache instead of racing to build them).
StudySummary run_study(const StudyOptions& opt, std::ostream& log, bool prepare_only = false);

// --devices: starts one worker process per GPU (this program with `args`, CUDA_VISIBLE_DEVICES set to
// the GPU, the same database), forwards Ctrl-C, waits, then writes the report of the whole database.
// Workers take the next unclaimed run from the database, so fast and slow configurations balance out.
StudySummary run_study_on_devices(const StudyOptions& opt, const std::vector<std::string>& args, std::ostream& log);

// Study configurations (--config): the committed ones in configs/ (paper43, scaling, fullinput, quick) or a JSON
// file. Every key is a study option; `given(option)` says whether the command line set it, which then wins.
nlohmann::json load_study_config(const std::string& name_or_file);
std::vector<std::string> study_config_names();

}  // namespace sedenergy::runner
