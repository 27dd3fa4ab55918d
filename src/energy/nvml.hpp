// NVIDIA GPUs through NVML, loaded at run time with dlopen (no build dependency on the driver).
// Every call goes through NvmlApi, a table of functions, so tests can substitute a fake driver.
// Struct layouts follow NVIDIA's public NVML documentation.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sedenergy::energy {

// NVML return codes used here.
inline constexpr int kNvmlSuccess = 0;
inline constexpr int kNvmlErrorNotSupported = 3;
inline constexpr int kNvmlErrorNoPermission = 4;
inline constexpr int kNvmlErrorNotFound = 6;
inline constexpr int kNvmlErrorInsufficientSize = 7;
inline constexpr int kNvmlErrorGpuIsLost = 15;

// nvmlFieldValue_t
struct NvmlFieldValue {
  unsigned int field_id;
  unsigned int scope_id;
  long long timestamp;
  long long latency_usec;
  int value_type;
  int nvml_return;
  union {
    double d;
    unsigned int ui;
    unsigned long ul;
    unsigned long long ull;
    long long sll;
    int si;
    unsigned short us;
  } value;
};
static_assert(sizeof(NvmlFieldValue) == 40, "nvmlFieldValue_t layout");

struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemory {
  unsigned long long total, free, used;
};
// nvmlPciInfo_t (v3)
struct NvmlPciInfo {
  char bus_id_legacy[16];
  unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
};

// nvmlProcessInfo_t as nvmlDeviceGetComputeRunningProcesses_v3 fills it (the _v2 layout is the same).
struct NvmlProcessInfo {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id, compute_instance_id;
};
static_assert(sizeof(NvmlProcessInfo) == 24, "nvmlProcessInfo_t layout");
// nvmlProcessUtilizationSample_t: one process's utilization at timestamp_us (CPU time, microseconds).
struct NvmlProcessUtilization {
  unsigned int pid;
  unsigned long long timestamp_us;
  unsigned int sm_util, mem_util, enc_util, dec_util;
};
static_assert(sizeof(NvmlProcessUtilization) == 32, "nvmlProcessUtilizationSample_t layout");

// GPM (GPU performance monitoring, Hopper and later): nvmlGpmSupport_t, nvmlGpmMetric_t, nvmlGpmMetricsGet_t.
struct NvmlGpmSupport {
  unsigned int version;  // 1
  unsigned int is_supported_device;
};
struct NvmlGpmMetric {
  unsigned int metric_id;
  int nvml_return;
  double value;
  struct {
    char* short_name;
    char* long_name;
    char* unit;
  } info;
};
static_assert(sizeof(NvmlGpmMetric) == 40, "nvmlGpmMetric_t layout");
using NvmlGpmSample = void*;
inline constexpr int kGpmMetricsCapacity = 210;  // NVML_GPM_METRIC_MAX of recent headers (older: 98)
struct NvmlGpmMetricsGet {
  unsigned int version;  // 1
  unsigned int num_metrics;
  NvmlGpmSample sample1, sample2;
  NvmlGpmMetric metrics[kGpmMetricsCapacity];
};
// nvmlGpmMetricId_t values sampled here, with the names they get in results.
struct GpmMetricName {
  unsigned id;
  const char* name;
};
inline constexpr GpmMetricName kGpmMetrics[] = {{2, "sm_util_pct"},      {3, "sm_occupancy_pct"},
                                                {5, "tensor_util_pct"},  {10, "dram_bw_util_pct"},
                                                {12, "fp32_util_pct"},   {13, "fp16_util_pct"}};
inline constexpr int kGpmMetricCount = 6;

inline constexpr unsigned kFieldPowerAverage = 185;  // NVML_FI_DEV_POWER_AVERAGE (mW)
inline constexpr unsigned kFieldPowerInstant = 186;  // NVML_FI_DEV_POWER_INSTANT (mW)

using NvmlDevice = void*;

struct NvmlApi {
  std::function<int()> init;
  std::function<int()> shutdown;
  std::function<const char*(int)> error_string;
  std::function<int(char*, unsigned)> driver_version;
  std::function<int(unsigned*)> device_count;
  std::function<int(unsigned, NvmlDevice*)> handle_by_index;
  std::function<int(NvmlDevice, char*, unsigned)> name;
  std::function<int(NvmlDevice, char*, unsigned)> uuid;
  std::function<int(NvmlDevice, NvmlPciInfo*)> pci_info;
  std::function<int(NvmlDevice, unsigned long long*)> total_energy_mj;
  std::function<int(NvmlDevice, unsigned*)> power_mw;  // trailing 1 s average on recent GPUs
  std::function<int(NvmlDevice, int, NvmlFieldValue*)> field_values;
  std::function<int(NvmlDevice, NvmlUtilization*)> utilization;
  std::function<int(NvmlDevice, NvmlMemory*)> memory;
  std::function<int(NvmlDevice, int, unsigned*)> clock_mhz;  // 1: SM, 2: memory
  std::function<int(NvmlDevice, int, unsigned*)> temperature_c;
  std::function<int(NvmlDevice, unsigned*)> power_limit_mw;
  // Optional (older drivers lack it): nvmlDeviceGetCurrentClocksEventReasons / ...ThrottleReasons.
  std::function<int(NvmlDevice, unsigned long long*)> clock_event_reasons;
  // Optional: the processes holding a context on a GPU (compute, graphics) and their utilization samples.
  std::function<int(NvmlDevice, unsigned*, NvmlProcessInfo*)> compute_processes;
  std::function<int(NvmlDevice, unsigned*, NvmlProcessInfo*)> graphics_processes;
  std::function<int(NvmlDevice, NvmlProcessUtilization*, unsigned*, unsigned long long)> process_utilization;
  // Optional: GPM (driver >= 520, Hopper and later).
  std::function<int(NvmlDevice, NvmlGpmSupport*)> gpm_query_support;
  std::function<int(NvmlGpmSample*)> gpm_sample_alloc;
  std::function<int(NvmlGpmSample)> gpm_sample_free;
  std::function<int(NvmlDevice, NvmlGpmSample)> gpm_sample_get;
  std::function<int(NvmlGpmMetricsGet*)> gpm_metrics_get;
};

// "0000:1B:00.0", "00000000:1b:00.0" and "1b:00.0" name the same device: lower-case domain:bus:device.function
// with a 4-digit domain. Returns "" for text that is no PCI bus id.
std::string normalize_pci_bus_id(const std::string& text);

// Clock event reasons that slow the GPU down: software power cap (0x4), hardware slowdown (0x8),
// software thermal (0x20), hardware thermal (0x40), hardware power brake (0x80).
inline constexpr unsigned long long kThrottleReasonsMask = 0x4 | 0x8 | 0x20 | 0x40 | 0x80;

// Loads libnvidia-ml.so.1. Returns nullptr and sets `why` when it cannot.
std::shared_ptr<NvmlApi> load_nvml(std::string& why);

struct GpuInfo {
  unsigned index = 0;
  NvmlDevice handle = nullptr;
  std::string name, uuid, pci_bus_id;
  bool has_energy_counter = false;
  bool has_instant_power = false;
  bool has_gpm = false;
  double power_limit_w = 0;
};

// One sample of a GPU's state; NaN where a reading failed.
struct GpuSample {
  double power_avg_w = NAN;
  double power_instant_w = NAN;
  double util_gpu_pct = NAN;
  double util_mem_pct = NAN;
  double mem_used_gb = NAN;
  double mem_free_gb = NAN;
  double sm_clock_mhz = NAN;
  double mem_clock_mhz = NAN;
  double temperature_c = NAN;
  unsigned long long clock_event_reasons = 0;  // bit set of NVML clock event reasons (0 when unknown)
  // GPM metrics over the interval since the previous sample, in kGpmMetrics order; NaN when absent.
  double gpm[kGpmMetricCount] = {NAN, NAN, NAN, NAN, NAN, NAN};
  // Who holds a context on the GPU (filled by the meter when it checks processes; -1: not checked):
  // processes of the measured program's tree, and the others' PIDs.
  int own_processes = -1;
  std::vector<unsigned> other_pids;
  // PIDs absent from this process's /proc: another PID namespace (a container), so whose they are is unknown.
  std::vector<unsigned> foreign_pids;
  // SM utilization NVML attributes per process since the previous check, summed over the program's
  // processes and over the others (NaN: no per-process sample).
  double own_sm_pct = NAN, other_sm_pct = NAN;
};

// A GPU's processes as NVML sees them.
struct GpuProcesses {
  bool known = false;     // false: NVML could not list them (`why` says why)
  std::string why;
  std::vector<unsigned> pids;  // compute and graphics contexts, each PID once
};

// An initialised NVML session with its devices.
class Nvml {
 public:
  // Initialises NVML through `api`; on failure available() is false and why() says why.
  explicit Nvml(std::shared_ptr<NvmlApi> api);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool available() const { return ok_; }
  const std::string& why() const { return why_; }
  const std::string& driver_version() const { return driver_; }
  const std::vector<GpuInfo>& gpus() const { return gpus_; }
  // Cumulative energy in joules; returns false on failure (and fills `error`).
  bool energy_j(const GpuInfo& g, double& joules, std::string& error) const;
  // Power always; with `activity` also utilization, memory, clocks, temperature and clock event reasons.
  GpuSample sample(const GpuInfo& g, bool activity = true) const;
  // Fills s.gpm with the GPM metrics since the previous call for this GPU (nothing on the first call or
  // without GPM). Stateful: call it from one thread (the sampler).
  void gpm_update(const GpuInfo& g, GpuSample& s);
  // The processes holding a context on g now.
  GpuProcesses processes(const GpuInfo& g) const;
  // Per-process utilization samples newer than since_us (empty when none, or when NVML cannot tell).
  std::vector<NvmlProcessUtilization> process_utilization(const GpuInfo& g, unsigned long long since_us) const;
  std::string error_text(int code) const;

 private:
  std::shared_ptr<NvmlApi> api_;
  bool ok_ = false;
  std::string why_, driver_;
  std::vector<GpuInfo> gpus_;
  struct GpmState {
    NvmlGpmSample previous = nullptr, current = nullptr;
    bool primed = false;
    std::unique_ptr<NvmlGpmMetricsGet> query;  // ~8 KB, allocated once: the sampler never allocates
  };
  std::vector<GpmState> gpm_;  // by NVML index
};

}  // namespace sedenergy::energy
