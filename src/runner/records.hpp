// What the study records, mapped from what it measured: a phase's window as its per-epoch record, a run's
// plan as its record before it is measured. Pure mappings on narrow structs, without LibTorch: the core's
// unit tests check them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compute/accounting.hpp"
#include "energy/records.hpp"
#include "models/spec.hpp"
#include "store/store.hpp"

namespace sedenergy::runner {

// One phase measured as a window, repeating whole epochs until the window is long enough.
struct PhaseOutcome {
  energy::WindowResult window;
  int epochs = 0;
  double loss = -1;
  std::vector<double> epoch_s;  // each epoch's seconds, the device synchronised at its end
  double own_cpu_s = 0;         // this process's CPU seconds inside the window
};

// The phase's record, per epoch of its window; host_cpus: the host's CPUs, which the other processes' load
// is a share of.
store::PhaseRecord to_phase(const std::string& name, const PhaseOutcome& o, int host_cpus);

// What a run is before it is measured: its configuration and the sets it trains and tests on.
struct RunPlan {
  models::ModelSpec spec;
  std::string variant, impl, loss;
  int repetition = 1, epochs = 1, batch = 1;
  double fraction = 1;
  models::InputShape shape;  // one full batch
  std::int64_t n_train = 0, n_test = 0;
};

// The run's record before it is measured: its configuration, training subset and FLOPs per step and epoch
// (full batches plus the last partial one, for each phase's own set).
store::RunRecord planned_run(const RunPlan& p, const compute::ModelCount& counts);

}  // namespace sedenergy::runner
