// What the meter hands out: a window's energies per domain and device, its flags, and the sampler's samples.
// Records only (no sensor, no thread): the C API, the store and the runner read them.
#pragma once
#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/absent.hpp"
#include "energy/nvml.hpp"

namespace sedenergy::energy {

// The energy domains a meter measures, and the one spelling of each in records, JSON and CSV.
enum class Domain { gpu, cpu, ram };
inline constexpr std::array<Domain, 3> kDomains = {Domain::gpu, Domain::cpu, Domain::ram};
const char* domain_name(Domain d);  // "gpu", "cpu", "ram"

// A window's flags are sentences (records, databases and CSVs carry them as text); their kind is decided here
// alone: an estimate says a domain was estimated, not measured (its method says how); any other flag says the
// reading itself may be off (validity).
enum class FlagKind { validity, estimate };
std::string estimate_flag(Domain d, const std::string& why);  // "cpu energy estimated (no RAPL)"
FlagKind flag_kind(const std::string& flag);

struct SensorInfo {
  std::string name;    // "nvml gpu0", "rapl package-0", "cpu model", "ram model"
  std::string domain;  // gpu, cpu, ram
  bool available = false;
  bool estimated = false;
  std::string detail;  // device name, or why it is unavailable
};

struct Sample {
  double t = 0;  // monotonic seconds
  std::vector<GpuSample> gpus;
  double cpu_load = 0;  // busy fraction since the previous sample
};

struct DomainEnergy {
  std::string domain;  // domain_name(Domain): gpu, cpu, ram
  std::string device;  // "gpu0 NVIDIA H100 80GB HBM3", "package-0", "host"
  std::string method;  // how energy_j was obtained
  bool estimated = false;
  double energy_j = 0;
  double mean_power_w = 0;
  double peak_power_w = 0;
  double integral_energy_j = kAbsent;  // power-integral cross-check; < 0 when not available
  double uncertainty_j = kAbsent;      // < 0 when unknown (estimates)
  double idle_power_w = kAbsent;       // < 0 when no baseline
  double net_energy_j = kAbsent;       // energy above the idle baseline; < 0 when no baseline
  bool is(Domain d) const { return domain == domain_name(d); }
};

// Other processes on a measured GPU during a window.
struct GpuSharing {
  std::vector<unsigned> other_pids;
  double other_sm_share = kAbsent;  // their part of the per-process SM utilization NVML reported; < 0: none reported
};

struct WindowResult {
  std::string name;
  std::string started_at;  // UTC, ISO 8601
  double duration_s = 0;
  std::vector<DomainEnergy> domains;
  double gpu_util_pct = kAbsent;  // mean over samples; < 0 when no GPU
  double mem_util_pct = kAbsent;
  double cpu_load = 0;
  int samples = 0;
  // Means over the window's samples, summed over nothing (per GPU means averaged): SM / memory clocks,
  // temperature (mean and max), and the GPM metrics where the GPU has them. Absent keys: no reading.
  std::map<std::string, double> gpu_activity;
  std::vector<std::string> flags;
  std::string gpu_selection;                  // how this window's GPUs were chosen
  std::map<std::string, GpuSharing> gpu_sharing;  // by GPU ("gpu0"): those other processes also used
  double energy_j(Domain domain) const;  // sum over devices of a domain (0 if none)
  double total_energy_j() const;
  nlohmann::json to_json() const;
  // The inverse of to_json (a record handed back through the C API); throws InputError naming the key.
  static WindowResult from_json(const nlohmann::json& j);
};

// One window added up over its devices, per domain: what the study's phase record, a user window's row, the
// CodeCarbon row and the C API's result all read, so that they cannot differ.
struct WindowTotals {
  double energy_j = 0;                 // every domain
  std::array<double, 3> domain_j{};    // by Domain
  std::array<double, 3> domain_w{};    // by Domain: mean power, summed over its devices
  std::array<std::string, 3> methods;  // by Domain: its devices' methods, distinct, "; "-joined ("": none)
  double gpu_uncertainty_j = 0;        // summed over the GPUs whose reading gives one
  double net_gpu_energy_j = kAbsent;        // above the idle baseline, summed over the GPUs; < 0: no baseline
  bool estimated = false;              // some domain is an estimate, not a reading
  std::string gpu_names;               // the GPUs' names ("NVIDIA H100 80GB HBM3"), ", "-joined
  double of(Domain d) const { return domain_j[static_cast<std::size_t>(d)]; }
  double power_w(Domain d) const { return domain_w[static_cast<std::size_t>(d)]; }
  const std::string& method(Domain d) const { return methods[static_cast<std::size_t>(d)]; }
  bool measured(Domain d) const { return !method(d).empty(); }
};
WindowTotals totals(const WindowResult& w);

// Samples as JSON rows, times relative to t0: t_s, cpu_load, and per GPU power, utilization, memory, SM
// clock. At most max_rows rows: a longer timeline keeps every k-th sample (k is returned in `stride`).
nlohmann::json timeline_json(const std::vector<Sample>& samples, double t0, std::size_t max_rows = 5000,
                             std::size_t* stride = nullptr);

}  // namespace sedenergy::energy
