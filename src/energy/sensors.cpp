#include "energy/sensors.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sedenergy::energy {

std::pair<double, double> mean_peak(const std::vector<double>& v) {
  double s = 0, peak = 0;
  int n = 0;
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    s += x;
    peak = std::max(peak, x);
    ++n;
  }
  return {n ? s / n : std::nan(""), n ? peak : std::nan("")};
}

std::string gpu_device_name(const GpuInfo& g) { return "gpu" + std::to_string(g.index) + " " + g.name; }

namespace {

// A GPU through NVML: the total-energy counter's delta, with mean instantaneous power x duration as the
// cross-check; power x duration where the GPU has no counter.
class NvmlGpuSensor : public Sensor {
 public:
  NvmlGpuSensor(const Nvml& nvml, const GpuInfo& g, int slot, double counter_step_s)
      : nvml_(nvml), g_(g), slot_(slot), counter_step_s_(counter_step_s) {}

  SensorInfo info() const override {
    std::string detail = g_.name + " (" + g_.pci_bus_id + ", driver " + nvml_.driver_version() + ")";
    detail += g_.has_energy_counter ? "; energy counter" : "; NO energy counter: power integrated instead";
    detail += g_.has_instant_power ? "; instantaneous power" : "; averaged power only";
    detail += g_.has_gpm ? "; GPM metrics" : "; no GPM metrics";
    if (g_.power_limit_w > 0) detail += "; power limit " + std::to_string(static_cast<int>(g_.power_limit_w)) + " W";
    return {"nvml " + gpu(), domain_name(Domain::gpu), true, false, detail};
  }
  std::string domain() const override { return domain_name(Domain::gpu); }

  double begin_reading() const override {
    double j = 0;
    std::string err;
    return g_.has_energy_counter && nvml_.energy_j(g_, j, err) ? j : std::nan("");
  }

  int gpu_slot() const override { return slot_; }

  std::optional<DomainEnergy> energy(const SensorWindow& w, WindowResult& r) const override {
    DomainEnergy d;
    d.domain = domain_name(Domain::gpu);
    d.device = gpu_device_name(g_);
    std::vector<double> inst, avg;
    unsigned long long throttled = 0;
    for (const auto& s : w.samples) {
      const GpuSample& g = s.gpus[slot_];
      throttled |= g.clock_event_reasons & kThrottleReasonsMask;
      inst.push_back(g.power_instant_w);
      avg.push_back(g.power_avg_w);
    }
    auto [inst_mean, inst_peak] = mean_peak(inst);
    auto [avg_mean, avg_peak] = mean_peak(avg);
    const bool have_inst = std::isfinite(inst_mean);
    double j1 = 0;
    std::string err;
    const bool counter = std::isfinite(w.start_reading) && nvml_.energy_j(g_, j1, err);
    if (counter && j1 >= w.start_reading) {
      d.energy_j = j1 - w.start_reading;
      d.method = "nvml total-energy counter delta";
      d.mean_power_w = w.duration_s > 0 ? d.energy_j / w.duration_s : 0;
      // The counter steps every counter_step_s: each end of the window may miss up to one step.
      d.uncertainty_j = 2.0 * d.mean_power_w * counter_step_s_;
      if (have_inst) d.integral_energy_j = inst_mean * w.duration_s;
    } else {
      if (counter) r.flags.push_back(gpu() + ": energy counter went backwards (reset?)");
      if (!err.empty()) r.flags.push_back(gpu() + ": " + err);
      const double p = have_inst ? inst_mean : avg_mean;
      d.method = have_inst ? "nvml instantaneous power x duration" : "nvml averaged power x duration";
      d.energy_j = std::isfinite(p) ? p * w.duration_s : 0;
      d.mean_power_w = std::isfinite(p) ? p : 0;
      if (!std::isfinite(p)) r.flags.push_back(gpu() + ": no power reading in window");
    }
    if (throttled) {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%llx", throttled);
      r.flags.push_back(gpu() + ": clocks throttled during the window (NVML reasons " + hex +
                        ": power cap / thermal / hardware slowdown)");
    }
    const double peak = have_inst ? inst_peak : avg_peak;
    d.peak_power_w = std::isfinite(peak) ? peak : d.mean_power_w;
    if (d.integral_energy_j > 0 && d.energy_j > 0 && std::abs(d.integral_energy_j - d.energy_j) > 0.05 * d.energy_j) {
      r.flags.push_back(gpu() + ": counter and power integral differ by more than 5%");
    }
    return d;
  }

 private:
  std::string gpu() const { return "gpu" + std::to_string(g_.index); }
  const Nvml& nvml_;
  GpuInfo g_;
  int slot_;
  double counter_step_s_;
};

// A RAPL package or DRAM domain: the counter's delta (one wrap at most).
class RaplSensor : public Sensor {
 public:
  RaplSensor(const Rapl& rapl, RaplDomain d) : rapl_(rapl), d_(std::move(d)) {}

  SensorInfo info() const override { return {"rapl " + d_.name, domain(), true, false, d_.path}; }
  std::string domain() const override { return d_.name == "dram" ? domain_name(Domain::ram) : domain_name(Domain::cpu); }

  double begin_reading() const override {
    double j = 0;
    std::string err;
    return rapl_.read_j(d_, j, err) ? j : std::nan("");
  }

  std::optional<DomainEnergy> energy(const SensorWindow& w, WindowResult& r) const override {
    double j1 = 0;
    std::string err;
    if (!std::isfinite(w.start_reading) || !rapl_.read_j(d_, j1, err)) {
      r.flags.push_back("rapl " + d_.name + ": " + (err.empty() ? "unreadable at window start" : err));
      return std::nullopt;
    }
    DomainEnergy d;
    d.domain = domain();
    d.device = d_.name;
    d.method = "rapl energy counter delta";
    d.energy_j = Rapl::delta_j(w.start_reading, j1, d_.max_range_j);
    d.mean_power_w = d.peak_power_w = w.duration_s > 0 ? d.energy_j / w.duration_s : 0;
    d.uncertainty_j = 0.001 * d.energy_j;
    return d;
  }

 private:
  const Rapl& rapl_;
  RaplDomain d_;
};

// The CPU without RAPL: CodeCarbon's TDP x (0.1 + 0.9 x load^3) over each sample's load.
class CpuModelSensor : public Sensor {
 public:
  explicit CpuModelSensor(CpuPowerModel model) : model_(std::move(model)) {}

  SensorInfo info() const override {
    return {"cpu model", domain_name(Domain::cpu), true, true, "estimated: " + formula() + ", TDP " + tdp() + " W from " + model_.source};
  }
  std::string domain() const override { return domain_name(Domain::cpu); }
  bool is_estimate() const override { return true; }

  std::optional<DomainEnergy> energy(const SensorWindow& w, WindowResult& r) const override {
    std::vector<double> power;
    for (const auto& s : w.samples) power.push_back(model_.power_w(s.cpu_load));
    if (power.empty()) power.push_back(model_.power_w(cpu_load_between(w.cpu0, w.cpu1)));
    DomainEnergy d;
    d.domain = domain_name(Domain::cpu);
    d.device = "host";
    d.method = "estimated: " + formula() + ", TDP " + tdp() + " W";
    d.estimated = true;
    std::tie(d.mean_power_w, d.peak_power_w) = mean_peak(power);
    d.energy_j = d.mean_power_w * w.duration_s;
    r.flags.push_back(estimate_flag(Domain::cpu, "no RAPL"));
    return d;
  }

 private:
  static std::string formula() { return "TDP x (0.1 + 0.9 x load^3)"; }
  std::string tdp() const { return std::to_string(static_cast<int>(model_.tdp_w)); }
  CpuPowerModel model_;
};

// RAM without a RAPL DRAM domain: 3 W per 8 GB, whatever the load.
class RamModelSensor : public Sensor {
 public:
  explicit RamModelSensor(double ram_gb) : ram_gb_(ram_gb) {}

  SensorInfo info() const override {
    return {"ram model", domain_name(Domain::ram), true, true,
            "estimated: 3 W per 8 GB of RAM (" + std::to_string(static_cast<int>(std::round(ram_gb_))) + " GB here)"};
  }
  std::string domain() const override { return domain_name(Domain::ram); }
  bool is_estimate() const override { return true; }

  std::optional<DomainEnergy> energy(const SensorWindow& w, WindowResult& r) const override {
    DomainEnergy d;
    d.domain = domain_name(Domain::ram);
    d.device = "host";
    d.method = "estimated: 3 W per 8 GB of RAM";
    d.estimated = true;
    d.mean_power_w = d.peak_power_w = ram_power_w(ram_gb_);
    d.energy_j = d.mean_power_w * w.duration_s;
    r.flags.push_back(estimate_flag(Domain::ram, "no RAPL dram domain"));
    return d;
  }

 private:
  double ram_gb_;
};

}  // namespace

SensorSet make_sensors(const SensorSources& src) {
  SensorSet set;
  auto add = [&](std::unique_ptr<Sensor> s) {
    set.listing.push_back(s->info());
    set.sensors.push_back(std::move(s));
  };
  const std::size_t n_gpus = src.gpus ? src.gpus->size() : 0;
  if (n_gpus == 0) set.listing.push_back({"nvml", domain_name(Domain::gpu), false, false, src.nvml_why.empty() ? "no GPU selected" : src.nvml_why});
  for (std::size_t i = 0; i < n_gpus; ++i) {
    add(std::make_unique<NvmlGpuSensor>(*src.nvml, (*src.gpus)[i], static_cast<int>(i), src.counter_step_s));
  }
  bool pkg = false, dram = false;
  if (!src.rapl->available()) set.listing.push_back({"rapl", domain_name(Domain::cpu), false, false, src.rapl->why()});
  for (const auto& d : src.rapl->domains()) {
    const bool is_pkg = d.name.rfind("package", 0) == 0, is_dram = d.name == "dram";
    pkg |= is_pkg;
    dram |= is_dram;
    // core and uncore are inside the package: listed, not added.
    if (is_pkg || is_dram) add(std::make_unique<RaplSensor>(*src.rapl, d));
    else set.listing.push_back({"rapl " + d.name, domain_name(Domain::cpu), true, false, d.path});
  }
  // The estimates stand in when a counter is absent, or unreadable in a window; listed when absent.
  auto cpu = std::make_unique<CpuModelSensor>(src.cpu_model);
  auto ram = std::make_unique<RamModelSensor>(src.ram_gb);
  if (!pkg) set.listing.push_back(cpu->info());
  if (!dram) set.listing.push_back(ram->info());
  set.sensors.push_back(std::move(cpu));
  set.sensors.push_back(std::move(ram));
  return set;
}

}  // namespace sedenergy::energy
