// Hardware constants measured by sedenergy itself at a study's start, for the predictor's terms (issue 17):
// how long the host takes to launch one small kernel through LibTorch's eager dispatch, the device's
// sustained fp32 matrix-multiply rate and its copy bandwidth. Each is a short timed probe (well under a
// second on a GPU) on the study's device; the idle power comes from the session's idle baseline.
#pragma once
#include "energy/meter.hpp"
#include "runner/plan.hpp"
#include "store/store.hpp"

namespace sedenergy::runner {

store::HardwareProbes probe_hardware(const DeviceChoice& dev);

// Issue 33 item 4: what an IEEE float32 FLOP of a batch-8 matrix product costs against a TF32 one, measured
// outside the grid so that no configuration the predictor predicts prices it. The three products of a
// 4096-wide Linear's training step at batch 8 (forward, input gradient, weight gradient), looped in meter
// windows of `window_s` with cuBLAS TF32 on, off, on (the two on averaged against drift); fills p's ieee_*
// and tf32_* (GPU energy and seconds per FLOP). Nothing on a CPU or without a GPU energy reading; restores
// the TF32 setting.
void probe_ieee_cost(const DeviceChoice& dev, energy::Meter& meter, store::HardwareProbes& p, double window_s = 1.5);

}  // namespace sedenergy::runner
