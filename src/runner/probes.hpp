// Hardware constants measured by sedenergy itself at a study's start, for the predictor's terms (issue 17):
// how long the host takes to launch one small kernel through LibTorch's eager dispatch, the device's
// sustained fp32 matrix-multiply rate and its copy bandwidth. Each is a short timed probe (well under a
// second on a GPU) on the study's device; the idle power comes from the session's idle baseline.
#pragma once
#include <nlohmann/json.hpp>

#include "runner/plan.hpp"

namespace sedenergy::runner {

struct HardwareProbes {
  double launch_s = -1;        // seconds per eager one-element kernel, launched back to back
  double matmul_flops_s = -1;  // FLOP/s of a square fp32 matrix product (LibTorch's default precision)
  double copy_bytes_s = -1;    // bytes read plus written per second by a device-to-device copy
  nlohmann::json to_json() const;  // with the method of each number
  static HardwareProbes from_json(const nlohmann::json& j);  // -1 where absent
};

HardwareProbes probe_hardware(const DeviceChoice& dev);

}  // namespace sedenergy::runner
