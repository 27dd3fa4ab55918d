// Hardware constants measured by sedenergy itself at a study's start, for the predictor's terms (issue 17):
// how long the host takes to launch one small kernel through LibTorch's eager dispatch, the device's
// sustained fp32 matrix-multiply rate and its copy bandwidth. Each is a short timed probe (well under a
// second on a GPU) on the study's device; the idle power comes from the session's idle baseline.
#pragma once
#include "runner/plan.hpp"
#include "store/store.hpp"

namespace sedenergy::runner {

store::HardwareProbes probe_hardware(const DeviceChoice& dev);

}  // namespace sedenergy::runner
