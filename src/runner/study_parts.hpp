// The study's parts, for its files (study.cpp: signals and the sweep; study_session.cpp: the session's meter,
// baselines, probes and record; study_data.cpp: the clips and features; study_windows.cpp: the measured windows
// of a run); not for use outside src/runner.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "energy/meter.hpp"
#include "runner/plan.hpp"
#include "runner/records.hpp"
#include "runner/trainer.hpp"
#include "store/store.hpp"

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

// ---- study_session.cpp ----
// The session the runs go to, and which runs are already done. Studies resuming one session at once (two
// --resume on one --out) share its runs: each run is claimed first, and a claim whose process has ended
// (killed, or interrupted) is taken over unless its run finished.
struct SessionState {
  std::int64_t id = 0;
  std::vector<std::int64_t> sessions;  // every session of these options, this one included
  std::set<std::string> finished;
  std::string claim_group, claimant;
};
// The meter started, its sensors listed.
std::unique_ptr<energy::Meter> start_meter(const StudyPlan& plan, std::ostream& log);
// The GPU's idle power before this process holds a CUDA context (-1 where that cannot be known).
double idle_without_context_w(const StudyPlan& plan, energy::Meter& meter, std::ostream& log);
// The idle baseline (--idle seconds, with the study's CUDA context) into the session record.
void record_idle_baseline(const StudyPlan& plan, energy::Meter& meter, store::SessionRecord& sess, std::ostream& log);
// The hardware constants of the session's device (runner/probes.hpp), after the idle baseline.
void record_hardware_probes(const StudyPlan& plan, energy::Meter& meter, double idle_no_context_w,
                            store::SessionRecord& sess, std::ostream& log);
// The training's CPU side on fixed CPUs (--train-threads).
void pin_training(const StudyOptions& opt, std::ostream& log);
class PythonWorker;
// What the session records: host, device, software, and the options --resume matches on.
store::SessionRecord session_record(const StudyPlan& plan, const StudyData& data, const energy::Meter& meter,
                                    const PythonWorker* python);
// The session the runs go to (a matching one continued under --resume) and the runs already done.
SessionState open_session(store::Store& db, const store::SessionRecord& sess, const StudyPlan& plan, std::ostream& log);

// ---- study_windows.cpp ----
PhaseOutcome training_window(const WorkItem& item, Loop& loop, const torch::Tensor& subset, energy::Meter& meter,
                             double min_window_s);
PhaseOutcome learning_window(const WorkItem& item, Loop& loop, const torch::Tensor& subset,
                             const BatchSource& validation, int patience, std::uint64_t seed, energy::Meter& meter,
                             std::string& curve_json);
PhaseOutcome test_window(const WorkItem& item, Loop& loop, energy::Meter& meter, double min_window_s);

}  // namespace sedenergy::runner
