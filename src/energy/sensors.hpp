// The meter's sensors. Each gives one device's energy over a window: a counter read at both ends (NVML's
// total-energy counter, a RAPL domain) or a labelled estimate from the window's samples (CPU and RAM models,
// docs/FACTS.md §5). Meter::end is a loop over them. A new sensor is a class here and a line in make_sensors.
#pragma once
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/host.hpp"
#include "energy/cpu_model.hpp"
#include "energy/nvml.hpp"
#include "energy/rapl.hpp"
#include "energy/records.hpp"

namespace sedenergy::energy {

// What a sensor sees of an ended window.
struct SensorWindow {
  double start_reading;                // the sensor's begin_reading() (NaN: none)
  const std::vector<Sample>& samples;  // the sampler's samples inside the window
  double duration_s;
  const CpuTimes& cpu0;  // /proc/stat at both ends (the load when no sample fell inside)
  const CpuTimes& cpu1;
};

class Sensor {
 public:
  virtual ~Sensor() = default;
  virtual SensorInfo info() const = 0;
  virtual std::string domain() const = 0;  // gpu, cpu, ram
  // An estimate counts only when no counter gave its domain a reading in the window.
  virtual bool is_estimate() const { return false; }
  // A counter reading at window start; NaN when the sensor has no counter or it cannot be read.
  virtual double begin_reading() const { return std::nan(""); }
  // The window's energy; nullopt when there is none (the reason, if any, is a flag added to r).
  virtual std::optional<DomainEnergy> energy(const SensorWindow& w, WindowResult& r) const = 0;
  // The selected GPU it reads (an index into Meter::gpus()); -1 for the host's sensors.
  virtual int gpu_slot() const { return -1; }
};

// Mean and peak of the finite values (NaN, NaN when there are none).
std::pair<double, double> mean_peak(const std::vector<double>& v);

// "gpu0 NVIDIA H100 80GB HBM3": a GPU domain's device name.
std::string gpu_device_name(const GpuInfo& g);

struct SensorSet {
  // Counters first, estimates last.
  std::vector<std::unique_ptr<Sensor>> sensors;
  // What `sedenergy sensors` lists: every sensor in use, and the ones absent with why.
  std::vector<SensorInfo> listing;
};

struct SensorSources {
  const Nvml* nvml = nullptr;  // null: no NVML
  std::string nvml_why;        // why there is no GPU sensor
  const std::vector<GpuInfo>* gpus = nullptr;
  double counter_step_s = 0.1;
  const Rapl* rapl = nullptr;
  CpuPowerModel cpu_model;
  double ram_gb = 0;
};
SensorSet make_sensors(const SensorSources& src);

}  // namespace sedenergy::energy
