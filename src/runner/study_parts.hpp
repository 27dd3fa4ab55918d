// The study's parts, for its files (study.cpp: signals, sessions and the sweep; study_data.cpp: the clips and
// features; study_windows.cpp: the measured windows of a run); not for use outside src/runner.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "energy/meter.hpp"
#include "runner/plan.hpp"
#include "runner/records.hpp"
#include "runner/trainer.hpp"

namespace sedenergy::runner {

// Set by Ctrl-C or SIGTERM: windows end after the step in progress, the run in progress is interrupted.
const std::atomic<bool>& stop_requested();
// Thrown inside a run when a stop request cut its measurement windows short.
struct RunInterrupted {};

// ---- study_data.cpp ----
// The training and test batches, their descriptions, and the clips left out (--on-error skip).
struct StudyData {
  std::unique_ptr<BatchSource> train, test;  // test: null when the study tests on its training set
  std::unique_ptr<BatchSource> validation;   // --validation: carved from the training clips; else null
  std::string description;                   // for the session record
  std::vector<std::string> skipped;
  const BatchSource& test_set() const { return test ? *test : *train; }
};
// Clips, then features (cached, or a source that computes them per batch). `prepare_only` stops once the
// dataset exists and its features are cached, and returns no sources.
StudyData load_study_data(StudyPlan& plan, std::ostream& log, bool prepare_only);
// Nested seeded subsets of the training set: the first round(f * n) clips of one fixed permutation.
torch::Tensor training_subset(int64_t n, double fraction, std::uint64_t seed);

// ---- study_windows.cpp ----
PhaseOutcome training_window(const WorkItem& item, Loop& loop, const torch::Tensor& subset, energy::Meter& meter,
                             double min_window_s);
PhaseOutcome learning_window(const WorkItem& item, Loop& loop, const torch::Tensor& subset,
                             const BatchSource& validation, int patience, std::uint64_t seed, energy::Meter& meter,
                             std::string& curve_json);
PhaseOutcome test_window(const WorkItem& item, Loop& loop, energy::Meter& meter, double min_window_s);

}  // namespace sedenergy::runner
