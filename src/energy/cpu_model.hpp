// Estimated CPU and RAM power where no sensor exists (CodeCarbon's models, docs/FACTS.md §5).
// Everything computed from these is labelled "estimated" in outputs.
#pragma once
#include <string>

namespace sedenergy::energy {

struct CpuPowerModel {
  double tdp_w = 85.0;
  std::string source;  // "table: <model>", "--cpu-tdp", "default 85 W (CPU not in table)"
  // CodeCarbon without RAPL: TDP x (0.1 + 0.9 x load^3), load in [0, 1].
  double power_w(double load) const;
};

// TDP from a small table of CPU models, or `override_w` when > 0.
CpuPowerModel cpu_power_model(const std::string& cpu_model, double override_w = 0);

// RAM: 3 W per 8 GB (CodeCarbon's model before the per-module one).
double ram_power_w(double ram_gb);

}  // namespace sedenergy::energy
