// The energy meter: sensors (NVML, RAPL, estimates), a sampler thread, and named measurement windows.
//
//   energy::Meter meter;                 // finds sensors; a missing one is data, not an error
//   meter.start();                       // sampler thread (default 100 ms)
//   meter.measure_idle(5.0);             // optional idle baseline
//   auto w = meter.begin("train");       // synchronises the GPU first (MeterOptions::sync)
//   ... work ...
//   energy::WindowResult r = meter.end(w);
//
// Energy comes from counters where they exist (NVML total energy, RAPL) and from labelled models
// otherwise; each DomainEnergy says its method. Windows may nest and overlap.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/host.hpp"
#include "energy/nvml.hpp"
#include "energy/rapl.hpp"
#include "energy/records.hpp"
#include "energy/sensors.hpp"

namespace sedenergy::energy {

struct MeterOptions {
  bool use_gpus = true;
  std::vector<unsigned> gpu_indices;  // NVML indices; empty (and no UUIDs): all
  std::vector<std::string> gpu_uuids;  // NVML UUIDs or unique prefixes ("GPU-8f2a"), as CUDA_VISIBLE_DEVICES takes
  std::vector<std::string> gpu_pci_bus_ids;  // PCI bus ids (energy::cuda_pci_bus_id maps CUDA devices to them)
  double period_s = 0.1;
  // What each sample reads besides power: utilization, memory, clocks, temperature, clock event reasons
  // (activity) and the GPM metrics (gpm, every gpm_every-th sample, over the interval since the last).
  bool activity = true;
  bool gpm = true;
  int gpm_every = 1;
  double counter_step_s = 0.1;        // NVML energy counter update period (H100: ~100 ms)
  double cpu_tdp_w = 0;               // 0: from the CPU table
  std::string rapl_root = "/sys/class/powercap";
  std::string proc_stat = "/proc/stat";
  // Samples kept besides those of open windows: the last history_s seconds (recent power for cool-downs).
  double history_s = 60;
  std::shared_ptr<NvmlApi> nvml_api;  // null: load libnvidia-ml.so.1
  std::function<void()> sync;         // called before window boundaries (e.g. CUDA synchronize)
  // Share of the host-wide CPU and RAM energy (RAPL or estimate) given to this meter's windows: 1/N when N
  // worker processes measure the same host at once, so that their CPU/RAM energies add up to the host's.
  double host_share = 1.0;
  // Where the job's CPU allocation is read (tests point these at fake trees): read_cpu_allocation in
  // common/host.hpp, with SLURM_CPUS_ON_NODE from the environment.
  std::string proc_self_cgroup = "/proc/self/cgroup";
  std::string cgroup_root = "/sys/fs/cgroup";
  // Attribution on shared machines. With owner_pid > 0 the sampler asks NVML, every process_check_s, which
  // processes hold a context on each GPU: a window says when processes outside owner_pid's tree used one of
  // its GPUs (their energy is in the counter too). gpus_by_process: a window keeps only the GPUs on which
  // the tree held a context (all, flagged, when NVML cannot tell).
  int owner_pid = 0;
  bool gpus_by_process = false;
  double process_check_s = 0.5;
  std::string proc_root = "/proc";
  std::string gpu_selection;  // how the caller chose the GPUs ("--gpus 0", "CUDA_VISIBLE_DEVICES=1 ..."), recorded
};

// The sampler period's bounds, checked by every entry that takes one (measure, study, the C API, the meter):
// under 10 ms the sampler would cost more than it measures; over 10 s a window's timeline says nothing.
inline constexpr double kMinPeriodS = 0.01, kMaxPeriodS = 10.0;
// The longest idle baseline any entry takes (a typo must not idle for hours), and the largest CPU TDP an estimate
// accepts (a server CPU is under 500 W; 2000 W leaves room for a whole socket count written as one).
inline constexpr double kMaxIdleS = 600, kMaxCpuTdpW = 2000;
// Throws InputError naming `option` when period_s is outside the bounds (or not a number).
void check_sampler_period(double period_s, const std::string& option);

// Adds one GPU id to a selection: "GPU-..." (a UUID or its prefix) or an NVML index. False for anything
// else (the caller says what that means: an error for --gpus, the end of the list for CUDA_VISIBLE_DEVICES).
bool add_gpu_id(const std::string& id, MeterOptions& mo);

class Window {
 public:
  const std::string& name() const { return name_; }
  bool open() const { return open_; }
  double t0() const { return t0_; }  // monotonic seconds at begin

 private:
  friend class Meter;
  std::string name_;
  std::string started_at_;
  double t0_ = 0;
  std::vector<double> readings_;  // each sensor's begin_reading(), in Meter's sensor order
  CpuTimes cpu0_;
  bool open_ = false;
};

class Meter {
 public:
  explicit Meter(MeterOptions opt = {});
  ~Meter();
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  std::vector<SensorInfo> sensors() const;
  nlohmann::json sensors_json() const;  // the same, as records carry it (measure's JSON, the C API's info)
  bool has_gpu() const { return !gpus_.empty(); }
  const std::vector<GpuInfo>& gpus() const { return gpus_; }
  // The GPUs a window's energy covers (with gpus_by_process, those the program used).
  std::vector<GpuInfo> gpus_in(const WindowResult& r) const;
  // A reading of selected GPU i now (outside the sampler).
  GpuSample gpu_sample(std::size_t i) const { return nvml_->sample(gpus_.at(i)); }
  std::string gpu_driver() const { return nvml_ ? nvml_->driver_version() : ""; }
  // Throws InputError naming each requested GPU (index, UUID, PCI bus id) that matched no GPU here.
  void check_selection() const;

  void start();  // starts the sampler thread (idempotent)
  void stop();

  Window begin(const std::string& name);
  // Ends the window; `samples` (optional) receives the sampler's samples inside it (its timeline), which
  // the meter may drop once no open window needs them.
  WindowResult end(Window& w, std::vector<Sample>* samples = nullptr);
  // The window so far, as end() would give it now, leaving it open (a tracker's flush: the row so far).
  WindowResult read(const Window& w, std::vector<Sample>* samples = nullptr);

  // Measures idle power for `seconds` and uses it as baseline of every later window.
  // synchronize = false: without the device sync at the window's ends (which would create a CUDA context).
  WindowResult measure_idle(double seconds, bool synchronize = true);
  const std::map<std::string, double>& idle_power_w() const { return idle_w_; }
  double idle_gpu_power_w() const;  // the last idle window's mean power summed over its GPUs (0: none)

  // Samples with t in [t0, t1] that are still kept (those of open windows and of the last history_s).
  std::vector<Sample> timeline(double t0, double t1) const;
  std::size_t samples_kept() const;

 private:
  void sampler_loop();
  Sample take_sample(CpuTimes& last);
  void check_processes(Sample& s);  // sampler thread
  bool in_owner_tree(unsigned pid);  // sampler thread
  // Parts of end(): which GPUs the window keeps (and their sharing), each sensor's energy, GPU activity,
  // and the job's share of the host.
  std::vector<bool> attribute_gpus(const std::vector<Sample>& samples, WindowResult& r) const;
  void add_domains(const Window& w, const std::vector<Sample>& samples, const CpuTimes& cpu1,
                   const std::vector<bool>& keep, WindowResult& r) const;
  void add_gpu_activity(const std::vector<Sample>& samples, const std::vector<bool>& keep, WindowResult& r) const;
  void apply_host_share(WindowResult& r) const;

  MeterOptions opt_;
  std::unique_ptr<Nvml> nvml_;
  std::string nvml_why_;
  std::vector<GpuInfo> gpus_;
  Rapl rapl_;
  SensorSet sensors_;  // made once the GPUs are selected
  std::map<std::string, double> idle_w_;  // key: domain + "/" + device
  // This job's share of the host's CPU/RAM energy: allocated CPUs / online CPUs (1 when nothing limits it).
  double job_share_ = 1.0;
  std::string job_share_note_;

  mutable std::mutex mu_;
  std::deque<Sample> samples_;      // in time order; bounded by prune()
  std::multiset<double> open_t0_;  // start times of open windows: their samples are kept
  void prune(double now);          // with mu_ held
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::mutex wake_mu_;  // the sampler waits on wake_ between samples, so stop() needs no whole period
  std::condition_variable wake_;
  long long tick_ = 0;
  // Process checks (sampler thread only, but process_why_ under mu_).
  double next_process_check_ = 0;
  std::map<unsigned, bool> in_tree_;              // PID -> in owner_pid's tree
  std::vector<unsigned long long> util_seen_us_;  // per GPU: newest per-process utilization sample read
  std::string process_why_;                       // why NVML could not list processes ("" when it could)
};

}  // namespace sedenergy::energy
