#include "energy/meter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy::energy {

namespace {

std::string key(const std::string& domain, const std::string& device) { return domain + "/" + device; }

}  // namespace

void check_sampler_period(double period_s, const std::string& option) {
  if (!(period_s >= kMinPeriodS && period_s <= kMaxPeriodS)) {
    throw InputError(option + " must be in [" + format_number(kMinPeriodS) + ", " + format_number(kMaxPeriodS) +
                     "] s (got " + format_number(period_s) + ")");
  }
}

bool add_gpu_id(const std::string& id, MeterOptions& mo) {
  long long v = 0;
  if (starts_with(id, "GPU-")) mo.gpu_uuids.push_back(id);
  else if (parse_int(id, v) && v >= 0) mo.gpu_indices.push_back(static_cast<unsigned>(v));
  else return false;
  return true;
}

Meter::Meter(MeterOptions opt) : opt_(std::move(opt)), rapl_(opt_.rapl_root) {
  if (!(opt_.host_share > 0 && opt_.host_share <= 1)) throw InputError("meter: host share must be in (0, 1]");
  check_sampler_period(opt_.period_s, "meter: sampler period");
  if (!(opt_.process_check_s > 0 && opt_.process_check_s <= 60)) throw InputError("meter: process check period must be in (0, 60] s");
  HostInfo host = read_host_info();
  const CpuAllocation alloc = read_cpu_allocation(std::getenv("SLURM_CPUS_ON_NODE"), opt_.proc_self_cgroup, opt_.cgroup_root);
  if (alloc.cpus > 0 && host.cpu_count > 0 && alloc.cpus < host.cpu_count) {
    job_share_ = alloc.cpus / host.cpu_count;
    job_share_note_ = ", x " + format_number(job_share_) + " (this job's " + format_number(alloc.cpus) + " of " +
                      std::to_string(host.cpu_count) + " CPUs, from " + alloc.source + ")";
  }
  if (opt_.use_gpus) {
    auto api = opt_.nvml_api ? opt_.nvml_api : load_nvml(nvml_why_);
    if (api) {
      nvml_ = std::make_unique<Nvml>(api);
      if (!nvml_->available()) nvml_why_ = nvml_->why();
      for (const auto& g : nvml_->gpus()) {
        const bool all = opt_.gpu_indices.empty() && opt_.gpu_uuids.empty() && opt_.gpu_pci_bus_ids.empty();
        bool wanted = all || std::find(opt_.gpu_indices.begin(), opt_.gpu_indices.end(), g.index) !=
                                 opt_.gpu_indices.end();
        for (const auto& u : opt_.gpu_uuids) wanted |= !u.empty() && g.uuid.rfind(u, 0) == 0;
        for (const auto& b : opt_.gpu_pci_bus_ids) {
          wanted |= !b.empty() && normalize_pci_bus_id(b) == normalize_pci_bus_id(g.pci_bus_id);
        }
        if (wanted) gpus_.push_back(g);
      }
    }
  } else {
    nvml_why_ = "GPU sensors not requested";
  }
  sensors_ = make_sensors({nvml_.get(), nvml_why_, &gpus_, opt_.counter_step_s, &rapl_,
                           cpu_power_model(host.cpu_model, opt_.cpu_tdp_w), host.ram_total_gb});
}

Meter::~Meter() { stop(); }

void Meter::check_selection() const {
  for (unsigned idx : opt_.gpu_indices) {
    if (std::none_of(gpus_.begin(), gpus_.end(), [&](const GpuInfo& g) { return g.index == idx; })) {
      throw InputError("no GPU with NVML index " + std::to_string(idx) + " (" + (gpus_.empty() && !nvml_why_.empty() ? nvml_why_ : "GPUs here: see `sedenergy sensors`") + ")");
    }
  }
  for (const auto& u : opt_.gpu_uuids) {
    if (std::none_of(gpus_.begin(), gpus_.end(), [&](const GpuInfo& g) { return g.uuid.rfind(u, 0) == 0; })) {
      throw InputError("no GPU with UUID " + u);
    }
  }
  for (const auto& b : opt_.gpu_pci_bus_ids) {
    if (std::none_of(gpus_.begin(), gpus_.end(), [&](const GpuInfo& g) {
          return normalize_pci_bus_id(b) == normalize_pci_bus_id(g.pci_bus_id);
        })) {
      throw InputError("no GPU with PCI bus id " + b + " among NVML's devices" + (nvml_why_.empty() ? "" : " (" + nvml_why_ + ")"));
    }
  }
}

std::vector<SensorInfo> Meter::sensors() const { return sensors_.listing; }

nlohmann::json Meter::sensors_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : sensors()) {
    out.push_back({{"name", s.name}, {"domain", s.domain}, {"available", s.available}, {"estimated", s.estimated},
                   {"detail", s.detail}});
  }
  return out;
}

Sample Meter::take_sample(CpuTimes& last) {
  Sample s;
  s.t = monotonic_s();
  const bool gpm_now = opt_.gpm && tick_++ % std::max(1, opt_.gpm_every) == 0;
  for (const auto& g : gpus_) {
    s.gpus.push_back(nvml_->sample(g, opt_.activity));
    if (gpm_now) nvml_->gpm_update(g, s.gpus.back());
  }
  CpuTimes now = read_cpu_times(opt_.proc_stat);
  s.cpu_load = cpu_load_between(last, now);
  last = now;
  if (opt_.owner_pid > 0 && s.t >= next_process_check_) {
    next_process_check_ = s.t + opt_.process_check_s;
    check_processes(s);
  }
  return s;
}

bool Meter::in_owner_tree(unsigned pid) {
  if (in_tree_.size() > 4096) in_tree_.clear();  // PIDs come and go over a long run
  auto it = in_tree_.find(pid);
  if (it != in_tree_.end()) return it->second;
  return in_tree_[pid] = in_process_tree(static_cast<int>(pid), opt_.owner_pid, opt_.proc_root);
}

void Meter::check_processes(Sample& s) {
  util_seen_us_.resize(gpus_.size(), 0);
  std::string why;
  for (std::size_t i = 0; i < gpus_.size(); ++i) {
    const GpuProcesses procs = nvml_->processes(gpus_[i]);
    if (!procs.known) {
      why = procs.why;
      continue;
    }
    GpuSample& g = s.gpus[i];
    g.own_processes = 0;
    for (unsigned pid : procs.pids) {
      if (in_owner_tree(pid)) {
        ++g.own_processes;
      } else if (!process_visible(static_cast<int>(pid), opt_.proc_root)) {
        g.foreign_pids.push_back(pid);
      } else {
        g.other_pids.push_back(pid);
      }
    }
    for (const auto& u : nvml_->process_utilization(gpus_[i], util_seen_us_[i])) {
      util_seen_us_[i] = std::max(util_seen_us_[i], u.timestamp_us);
      double& sum = in_owner_tree(u.pid) ? g.own_sm_pct : g.other_sm_pct;
      sum = (std::isfinite(sum) ? sum : 0) + u.sm_util;
    }
  }
  std::lock_guard lock(mu_);
  process_why_ = why;
}

void Meter::sampler_loop() {
  CpuTimes last = read_cpu_times(opt_.proc_stat);
  auto next = std::chrono::steady_clock::now();
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(opt_.period_s));
  while (running_) {
    next += period;
    {
      std::unique_lock lock(wake_mu_);
      if (wake_.wait_until(lock, next, [this] { return !running_; })) break;
    }
    Sample s = take_sample(last);
    std::lock_guard lock(mu_);
    samples_.push_back(std::move(s));
    prune(samples_.back().t);
  }
}

void Meter::prune(double now) {
  double keep_from = now - opt_.history_s;
  if (!open_t0_.empty()) keep_from = std::min(keep_from, *open_t0_.begin());
  while (!samples_.empty() && samples_.front().t < keep_from) samples_.pop_front();
}

std::size_t Meter::samples_kept() const {
  std::lock_guard lock(mu_);
  return samples_.size();
}

void Meter::start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] { sampler_loop(); });
}

void Meter::stop() {
  {
    std::lock_guard lock(wake_mu_);  // under the lock: the sampler cannot miss the change between test and wait
    if (!running_.exchange(false)) return;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<Sample> Meter::timeline(double t0, double t1) const {
  std::lock_guard lock(mu_);
  auto from = std::lower_bound(samples_.begin(), samples_.end(), t0, [](const Sample& s, double t) { return s.t < t; });
  std::vector<Sample> out;
  for (auto it = from; it != samples_.end() && it->t <= t1; ++it) out.push_back(*it);
  return out;
}

Window Meter::begin(const std::string& name) {
  if (opt_.sync) opt_.sync();
  Window w;
  w.name_ = name;
  w.started_at_ = utc_now_iso(true);
  w.cpu0_ = read_cpu_times(opt_.proc_stat);
  for (const auto& sensor : sensors_.sensors) w.readings_.push_back(sensor->begin_reading());
  w.t0_ = monotonic_s();
  w.open_ = true;
  std::lock_guard lock(mu_);
  open_t0_.insert(w.t0_);
  return w;
}

WindowResult Meter::end(Window& w, std::vector<Sample>* samples_out) {
  WindowResult r = read(w, samples_out);
  if (w.open_) {
    std::lock_guard lock(mu_);
    if (auto it = open_t0_.find(w.t0_); it != open_t0_.end()) open_t0_.erase(it);
  }
  w.open_ = false;
  return r;
}

WindowResult Meter::read(const Window& w, std::vector<Sample>* samples_out) {
  if (opt_.sync) opt_.sync();
  const double t1 = monotonic_s();
  WindowResult r;
  r.name = w.name_;
  r.started_at = w.started_at_;
  r.duration_s = t1 - w.t0_;
  const CpuTimes cpu1 = read_cpu_times(opt_.proc_stat);
  const auto samples = timeline(w.t0_, t1);
  r.samples = static_cast<int>(samples.size());

  const std::vector<bool> keep = attribute_gpus(samples, r);
  add_domains(w, samples, cpu1, keep, r);
  add_gpu_activity(samples, keep, r);
  apply_host_share(r);
  if (!gpus_.empty() && r.duration_s < 5 * opt_.counter_step_s) {
    r.flags.push_back("window shorter than 5 counter steps: energy is badly quantised");
  }
  if (r.samples == 0 && running_) r.flags.push_back("no sampler sample inside the window");
  for (auto& d : r.domains) {
    auto it = idle_w_.find(key(d.domain, d.device));
    if (it == idle_w_.end()) continue;
    d.idle_power_w = it->second;
    d.net_energy_j = std::max(0.0, d.energy_j - it->second * r.duration_s);
  }
  if (samples_out) *samples_out = samples;
  return r;
}

std::vector<bool> Meter::attribute_gpus(const std::vector<Sample>& samples, WindowResult& r) const {
  const std::size_t n = gpus_.size();
  std::vector<bool> keep(n, true), checked(n, false), used(n, false);
  r.gpu_selection = opt_.gpu_selection;
  if (opt_.owner_pid <= 0) return keep;
  std::vector<std::set<unsigned>> others(n), foreign(n);
  std::vector<double> sm_own(n, 0), sm_other(n, 0);
  for (const auto& s : samples) {
    for (std::size_t i = 0; i < n && i < s.gpus.size(); ++i) {
      const GpuSample& g = s.gpus[i];
      if (g.own_processes < 0) continue;
      checked[i] = true;
      used[i] = used[i] || g.own_processes > 0;
      others[i].insert(g.other_pids.begin(), g.other_pids.end());
      foreign[i].insert(g.foreign_pids.begin(), g.foreign_pids.end());
      if (std::isfinite(g.own_sm_pct)) sm_own[i] += g.own_sm_pct;
      if (std::isfinite(g.other_sm_pct)) sm_other[i] += g.other_sm_pct;
    }
  }
  const bool any_checked = std::find(checked.begin(), checked.end(), true) != checked.end();
  if (opt_.gpus_by_process && !any_checked && n > 0) {
    std::string why;
    {
      std::lock_guard lock(mu_);
      why = process_why_.empty() ? "no process check inside the window" : process_why_;
    }
    r.gpu_selection = "every GPU: which ones the program used is unknown (" + why + ")";
    r.flags.push_back("could not tell which GPUs the program used (" + why + "): every GPU measured");
  } else if (opt_.gpus_by_process && std::find(used.begin(), used.end(), true) == used.end() &&
             std::any_of(foreign.begin(), foreign.end(), [](const auto& f) { return !f.empty(); })) {
    // NVML's PIDs are the host's: inside a container the program's own contexts show as unknown PIDs.
    for (std::size_t i = 0; i < n; ++i) keep[i] = !foreign[i].empty();
    r.gpu_selection = "the GPUs with processes of another PID namespace (a container?): the program's own "
                      "contexts cannot be told from others there";
    r.flags.push_back("NVML reports PIDs that are not in this PID namespace: the GPUs holding them are measured, "
                      "whether they are shared cannot be told");
  } else if (opt_.gpus_by_process) {
    keep = used;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < n; ++i) {
      if (used[i]) names.push_back("gpu" + std::to_string(gpus_[i].index));
    }
    r.gpu_selection = "the GPUs on which the program held a context (NVML running processes): " +
                      (names.empty() ? std::string("none") : join(names, ", "));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!keep[i] || others[i].empty()) continue;
    GpuSharing sh;
    sh.other_pids.assign(others[i].begin(), others[i].end());
    if (sm_own[i] + sm_other[i] > 0) sh.other_sm_share = sm_other[i] / (sm_own[i] + sm_other[i]);
    const std::string gpu = "gpu" + std::to_string(gpus_[i].index);
    std::string flag = gpu + ": shared: " + std::to_string(sh.other_pids.size()) +
                       (sh.other_pids.size() == 1 ? " other process" : " other processes") +
                       " held a context during the window";
    if (sh.other_sm_share >= 0) {
      flag += " (" + std::to_string(std::lround(100 * sh.other_sm_share)) + "% of the SM utilization NVML attributes per process)";
    }
    r.flags.push_back(flag + ": its energy is not this program's alone");
    r.gpu_sharing[gpu] = sh;
  }
  return keep;
}

void Meter::add_domains(const Window& w, const std::vector<Sample>& samples, const CpuTimes& cpu1,
                        const std::vector<bool>& keep, WindowResult& r) const {
  for (std::size_t k = 0; k < sensors_.sensors.size(); ++k) {
    const Sensor& sensor = *sensors_.sensors[k];
    const int slot = sensor.gpu_slot();
    if (slot >= 0 && !keep[slot]) continue;
    const bool measured = std::any_of(r.domains.begin(), r.domains.end(), [&](const DomainEnergy& d) {
      return d.domain == sensor.domain() && !d.estimated;
    });
    if (sensor.is_estimate() && measured) continue;
    if (auto d = sensor.energy({w.readings_[k], samples, r.duration_s, w.cpu0_, cpu1}, r)) r.domains.push_back(*d);
  }
  std::vector<double> loads;
  for (const auto& s : samples) loads.push_back(s.cpu_load);
  r.cpu_load = loads.empty() ? cpu_load_between(w.cpu0_, cpu1) : mean_peak(loads).first;
}

// Clocks, temperature and GPM metrics: the mean over samples of every kept GPU (and the hottest reading).
void Meter::add_gpu_activity(const std::vector<Sample>& samples, const std::vector<bool>& keep,
                             WindowResult& r) const {
  std::vector<double> util_gpu, util_mem, sm, memclk, temp;
  std::vector<std::vector<double>> gpm(kGpmMetricCount);
  for (const auto& s : samples) {
    for (std::size_t i = 0; i < s.gpus.size() && i < keep.size(); ++i) {
      if (!keep[i]) continue;
      const GpuSample& g = s.gpus[i];
      util_gpu.push_back(g.util_gpu_pct);
      util_mem.push_back(g.util_mem_pct);
      sm.push_back(g.sm_clock_mhz);
      memclk.push_back(g.mem_clock_mhz);
      temp.push_back(g.temperature_c);
      for (int k = 0; k < kGpmMetricCount; ++k) gpm[k].push_back(g.gpm[k]);
    }
  }
  auto put = [&](const std::string& name, const std::vector<double>& v, bool with_max = false) {
    auto [mean, peak] = mean_peak(v);
    if (std::isfinite(mean)) r.gpu_activity[name] = mean;
    if (with_max && std::isfinite(peak)) r.gpu_activity[name + "_max"] = peak;
  };
  if (const double u = mean_peak(util_gpu).first; std::isfinite(u)) r.gpu_util_pct = u;
  if (const double u = mean_peak(util_mem).first; std::isfinite(u)) r.mem_util_pct = u;
  put("sm_clock_mhz", sm);
  put("mem_clock_mhz", memclk);
  put("temperature_c", temp, true);
  for (int k = 0; k < kGpmMetricCount; ++k) put(kGpmMetrics[k].name, gpm[k]);
}

// CPU and RAM energies are the host's: this job's share of its CPUs, then this process's among the workers
// measuring it.
void Meter::apply_host_share(WindowResult& r) const {
  const double share = job_share_ * opt_.host_share;
  if (share == 1.0) return;
  for (auto& d : r.domains) {
    if (d.is(Domain::gpu)) continue;
    d.energy_j *= share;
    d.mean_power_w *= share;
    d.peak_power_w *= share;
    if (d.uncertainty_j > 0) d.uncertainty_j *= share;
    d.method += job_share_note_;
    if (opt_.host_share != 1.0) {
      d.method += ", x " + format_number(opt_.host_share) + " (this process's share of a host measured by several)";
    }
  }
}

std::vector<GpuInfo> Meter::gpus_in(const WindowResult& r) const {
  std::vector<GpuInfo> out;
  for (const auto& g : gpus_) {
    const std::string device = gpu_device_name(g);
    if (std::any_of(r.domains.begin(), r.domains.end(), [&](const DomainEnergy& d) { return d.is(Domain::gpu) && d.device == device; })) {
      out.push_back(g);
    }
  }
  return out;
}

double Meter::idle_gpu_power_w() const {
  double sum = 0;
  for (const auto& [k, w] : idle_w_) {
    if (k.rfind("gpu/", 0) == 0) sum += w;
  }
  return sum;
}

WindowResult Meter::measure_idle(double seconds, bool synchronize) {
  auto sync = std::move(opt_.sync);
  if (synchronize) opt_.sync = sync;
  Window w = begin("idle");
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  WindowResult r = end(w);
  opt_.sync = std::move(sync);
  idle_w_.clear();
  for (const auto& d : r.domains) idle_w_[key(d.domain, d.device)] = d.mean_power_w;
  return r;
}

}  // namespace sedenergy::energy
