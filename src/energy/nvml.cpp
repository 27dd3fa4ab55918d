#include "energy/nvml.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sedenergy::energy {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename Fn>
Fn* symbol(void* lib, const char* name, std::string& missing) {
  void* p = dlsym(lib, name);
  if (!p) missing += std::string(missing.empty() ? "" : ", ") + name;
  return reinterpret_cast<Fn*>(p);
}

// Reads a field value whatever its declared type (nvmlValueType_t).
double field_as_double(const NvmlFieldValue& f) {
  switch (f.value_type) {
    case 0: return f.value.d;
    case 1: return f.value.ui;
    case 2: return static_cast<double>(f.value.ul);
    case 3: return static_cast<double>(f.value.ull);
    case 4: return static_cast<double>(f.value.sll);
    case 5: return f.value.si;
    case 6: return f.value.us;
    default: return kNaN;
  }
}

}  // namespace

std::shared_ptr<NvmlApi> load_nvml(std::string& why) {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    why = "NVML not found (libnvidia-ml.so.1 could not be loaded: no NVIDIA driver on this machine)";
    return nullptr;
  }
  std::string missing;
  auto api = std::make_shared<NvmlApi>();
  auto init = symbol<int()>(lib, "nvmlInit_v2", missing);
  auto shutdown = symbol<int()>(lib, "nvmlShutdown", missing);
  auto err = symbol<const char*(int)>(lib, "nvmlErrorString", missing);
  auto drv = symbol<int(char*, unsigned)>(lib, "nvmlSystemGetDriverVersion", missing);
  auto count = symbol<int(unsigned*)>(lib, "nvmlDeviceGetCount_v2", missing);
  auto handle = symbol<int(unsigned, NvmlDevice*)>(lib, "nvmlDeviceGetHandleByIndex_v2", missing);
  auto name = symbol<int(NvmlDevice, char*, unsigned)>(lib, "nvmlDeviceGetName", missing);
  auto uuid = symbol<int(NvmlDevice, char*, unsigned)>(lib, "nvmlDeviceGetUUID", missing);
  auto pci = symbol<int(NvmlDevice, NvmlPciInfo*)>(lib, "nvmlDeviceGetPciInfo_v3", missing);
  auto energy = symbol<int(NvmlDevice, unsigned long long*)>(lib, "nvmlDeviceGetTotalEnergyConsumption", missing);
  auto power = symbol<int(NvmlDevice, unsigned*)>(lib, "nvmlDeviceGetPowerUsage", missing);
  auto fields = symbol<int(NvmlDevice, int, NvmlFieldValue*)>(lib, "nvmlDeviceGetFieldValues", missing);
  auto util = symbol<int(NvmlDevice, NvmlUtilization*)>(lib, "nvmlDeviceGetUtilizationRates", missing);
  auto mem = symbol<int(NvmlDevice, NvmlMemory*)>(lib, "nvmlDeviceGetMemoryInfo", missing);
  auto clock = symbol<int(NvmlDevice, int, unsigned*)>(lib, "nvmlDeviceGetClockInfo", missing);
  auto temp = symbol<int(NvmlDevice, int, unsigned*)>(lib, "nvmlDeviceGetTemperature", missing);
  auto limit = symbol<int(NvmlDevice, unsigned*)>(lib, "nvmlDeviceGetEnforcedPowerLimit", missing);
  // Optional symbols: the newer name first.
  void* reasons = dlsym(lib, "nvmlDeviceGetCurrentClocksEventReasons");
  if (!reasons) reasons = dlsym(lib, "nvmlDeviceGetCurrentClocksThrottleReasons");
  if (reasons) api->clock_event_reasons = reinterpret_cast<int (*)(NvmlDevice, unsigned long long*)>(reasons);
  void* compute = dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3");
  if (!compute) compute = dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v2");
  void* graphics = dlsym(lib, "nvmlDeviceGetGraphicsRunningProcesses_v3");
  if (!graphics) graphics = dlsym(lib, "nvmlDeviceGetGraphicsRunningProcesses_v2");
  using ProcessesFn = int (*)(NvmlDevice, unsigned*, NvmlProcessInfo*);
  if (compute) api->compute_processes = reinterpret_cast<ProcessesFn>(compute);
  if (graphics) api->graphics_processes = reinterpret_cast<ProcessesFn>(graphics);
  if (void* util = dlsym(lib, "nvmlDeviceGetProcessUtilization")) {
    api->process_utilization =
        reinterpret_cast<int (*)(NvmlDevice, NvmlProcessUtilization*, unsigned*, unsigned long long)>(util);
  }
  void* gpm_support = dlsym(lib, "nvmlGpmQueryDeviceSupport");
  void* gpm_alloc = dlsym(lib, "nvmlGpmSampleAlloc");
  void* gpm_free = dlsym(lib, "nvmlGpmSampleFree");
  void* gpm_get = dlsym(lib, "nvmlGpmSampleGet");
  void* gpm_metrics = dlsym(lib, "nvmlGpmMetricsGet");
  if (gpm_support && gpm_alloc && gpm_free && gpm_get && gpm_metrics) {
    api->gpm_query_support = reinterpret_cast<int (*)(NvmlDevice, NvmlGpmSupport*)>(gpm_support);
    api->gpm_sample_alloc = reinterpret_cast<int (*)(NvmlGpmSample*)>(gpm_alloc);
    api->gpm_sample_free = reinterpret_cast<int (*)(NvmlGpmSample)>(gpm_free);
    api->gpm_sample_get = reinterpret_cast<int (*)(NvmlDevice, NvmlGpmSample)>(gpm_get);
    api->gpm_metrics_get = reinterpret_cast<int (*)(NvmlGpmMetricsGet*)>(gpm_metrics);
  }
  if (!missing.empty()) {
    why = "NVML is too old: missing " + missing;
    dlclose(lib);
    return nullptr;
  }
  api->init = init;
  api->shutdown = shutdown;
  api->error_string = err;
  api->driver_version = drv;
  api->device_count = count;
  api->handle_by_index = handle;
  api->name = name;
  api->uuid = uuid;
  api->pci_info = pci;
  api->total_energy_mj = energy;
  api->power_mw = power;
  api->field_values = fields;
  api->utilization = util;
  api->memory = mem;
  api->clock_mhz = clock;
  api->temperature_c = temp;
  api->power_limit_mw = limit;
  return api;  // the library stays loaded for the life of the process
}

std::string Nvml::error_text(int code) const {
  const char* s = api_ && api_->error_string ? api_->error_string(code) : nullptr;
  return s ? std::string(s) + " (NVML error " + std::to_string(code) + ")" : "NVML error " + std::to_string(code);
}

Nvml::Nvml(std::shared_ptr<NvmlApi> api) : api_(std::move(api)) {
  if (!api_) {
    why_ = "NVML not loaded";
    return;
  }
  int rc = api_->init();
  if (rc != kNvmlSuccess) {
    why_ = "nvmlInit failed: " + error_text(rc);
    api_.reset();
    return;
  }
  char buf[96] = {0};
  if (api_->driver_version(buf, sizeof buf) == kNvmlSuccess) driver_ = buf;
  unsigned n = 0;
  rc = api_->device_count(&n);
  if (rc != kNvmlSuccess) {
    why_ = "nvmlDeviceGetCount failed: " + error_text(rc);
    return;
  }
  if (n == 0) {
    why_ = "NVML found no GPU";
    return;
  }
  for (unsigned i = 0; i < n; ++i) {
    GpuInfo g;
    g.index = i;
    rc = api_->handle_by_index(i, &g.handle);
    if (rc != kNvmlSuccess) continue;
    char text[96] = {0};
    if (api_->name(g.handle, text, sizeof text) == kNvmlSuccess) g.name = text;
    std::fill(std::begin(text), std::end(text), 0);
    if (api_->uuid(g.handle, text, sizeof text) == kNvmlSuccess) g.uuid = text;
    NvmlPciInfo pci{};
    if (api_->pci_info(g.handle, &pci) == kNvmlSuccess) g.pci_bus_id = pci.bus_id;
    unsigned long long mj = 0;
    g.has_energy_counter = api_->total_energy_mj(g.handle, &mj) == kNvmlSuccess;
    NvmlFieldValue fv{};
    fv.field_id = kFieldPowerInstant;
    g.has_instant_power = api_->field_values(g.handle, 1, &fv) == kNvmlSuccess && fv.nvml_return == kNvmlSuccess;
    unsigned mw = 0;
    if (api_->power_limit_mw(g.handle, &mw) == kNvmlSuccess) g.power_limit_w = mw / 1000.0;
    GpmState gs;
    if (api_->gpm_query_support) {
      NvmlGpmSupport sup{1, 0};
      if (api_->gpm_query_support(g.handle, &sup) == kNvmlSuccess && sup.is_supported_device &&
          api_->gpm_sample_alloc(&gs.previous) == kNvmlSuccess && api_->gpm_sample_alloc(&gs.current) == kNvmlSuccess) {
        g.has_gpm = true;
        gs.query = std::make_unique<NvmlGpmMetricsGet>();
      }
    }
    gpm_.resize(std::max<std::size_t>(gpm_.size(), i + 1));
    gpm_[i] = std::move(gs);
    gpus_.push_back(g);
  }
  ok_ = !gpus_.empty();
  if (!ok_) why_ = "no GPU handle could be opened";
}

Nvml::~Nvml() {
  for (auto& gs : gpm_) {
    if (gs.previous) api_->gpm_sample_free(gs.previous);
    if (gs.current) api_->gpm_sample_free(gs.current);
  }
  if (api_ && api_->shutdown) api_->shutdown();
}

void Nvml::gpm_update(const GpuInfo& g, GpuSample& s) {
  if (!g.has_gpm || g.index >= gpm_.size()) return;
  GpmState& st = gpm_[g.index];
  if (api_->gpm_sample_get(g.handle, st.current) != kNvmlSuccess) {
    st.primed = false;
    return;
  }
  if (st.primed && st.query) {
    NvmlGpmMetricsGet* q = st.query.get();
    *q = NvmlGpmMetricsGet{};
    q->version = 1;
    q->num_metrics = kGpmMetricCount;
    q->sample1 = st.previous;
    q->sample2 = st.current;
    for (int k = 0; k < kGpmMetricCount; ++k) q->metrics[k].metric_id = kGpmMetrics[k].id;
    if (api_->gpm_metrics_get(q) == kNvmlSuccess) {
      for (int k = 0; k < kGpmMetricCount; ++k) {
        if (q->metrics[k].nvml_return == kNvmlSuccess && std::isfinite(q->metrics[k].value)) s.gpm[k] = q->metrics[k].value;
      }
    }
  }
  std::swap(st.previous, st.current);
  st.primed = true;
}

GpuProcesses Nvml::processes(const GpuInfo& g) const {
  GpuProcesses out;
  if (!api_ || !api_->compute_processes) {
    out.why = "this NVML cannot list a GPU's processes";
    return out;
  }
  for (const auto* list : {&api_->compute_processes, &api_->graphics_processes}) {
    if (!*list) continue;
    std::vector<NvmlProcessInfo> infos(16);
    unsigned n = static_cast<unsigned>(infos.size());
    int rc = (*list)(g.handle, &n, infos.data());
    if (rc == kNvmlErrorInsufficientSize) {  // n now says how many there are; a few may start meanwhile
      infos.resize(n + 8);
      n = static_cast<unsigned>(infos.size());
      rc = (*list)(g.handle, &n, infos.data());
    }
    if (rc != kNvmlSuccess) {
      out.why = "listing gpu" + std::to_string(g.index) + "'s processes failed: " + error_text(rc);
      return out;
    }
    for (unsigned i = 0; i < n && i < infos.size(); ++i) {
      if (std::find(out.pids.begin(), out.pids.end(), infos[i].pid) == out.pids.end()) out.pids.push_back(infos[i].pid);
    }
  }
  out.known = true;
  return out;
}

std::vector<NvmlProcessUtilization> Nvml::process_utilization(const GpuInfo& g, unsigned long long since_us) const {
  std::vector<NvmlProcessUtilization> out;
  if (!api_ || !api_->process_utilization) return out;
  unsigned n = 0;
  // A first call with no buffer says how many samples there are (NVML_ERROR_INSUFFICIENT_SIZE).
  int rc = api_->process_utilization(g.handle, nullptr, &n, since_us);
  if (rc != kNvmlErrorInsufficientSize && rc != kNvmlSuccess) return out;
  if (n == 0) return out;
  out.resize(n);
  rc = api_->process_utilization(g.handle, out.data(), &n, since_us);
  if (rc != kNvmlSuccess) return {};
  out.resize(std::min<std::size_t>(n, out.size()));
  return out;
}

std::string normalize_pci_bus_id(const std::string& text) {
  unsigned domain = 0, bus = 0, device = 0, function = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%x:%x:%x.%x%c", &domain, &bus, &device, &function, &tail) == 4 ||
      (domain = 0, std::sscanf(text.c_str(), "%x:%x.%x%c", &bus, &device, &function, &tail) == 3)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, device, function);
    return buf;
  }
  return "";
}

bool Nvml::energy_j(const GpuInfo& g, double& joules, std::string& error) const {
  unsigned long long mj = 0;
  int rc = api_->total_energy_mj(g.handle, &mj);
  if (rc != kNvmlSuccess) {
    error = error_text(rc);
    return false;
  }
  joules = static_cast<double>(mj) / 1000.0;
  return true;
}

GpuSample Nvml::sample(const GpuInfo& g, bool activity) const {
  GpuSample s;
  unsigned v = 0;
  if (api_->power_mw(g.handle, &v) == kNvmlSuccess) s.power_avg_w = v / 1000.0;
  if (g.has_instant_power) {
    NvmlFieldValue fv{};
    fv.field_id = kFieldPowerInstant;
    if (api_->field_values(g.handle, 1, &fv) == kNvmlSuccess && fv.nvml_return == kNvmlSuccess) {
      s.power_instant_w = field_as_double(fv) / 1000.0;
    }
  }
  if (!activity) return s;
  NvmlUtilization u{};
  if (api_->utilization(g.handle, &u) == kNvmlSuccess) {
    s.util_gpu_pct = u.gpu;
    s.util_mem_pct = u.memory;
  }
  NvmlMemory m{};
  if (api_->memory(g.handle, &m) == kNvmlSuccess) {
    s.mem_used_gb = m.used / 1e9;
    s.mem_free_gb = m.free / 1e9;
  }
  if (api_->clock_mhz(g.handle, 1, &v) == kNvmlSuccess) s.sm_clock_mhz = v;
  if (api_->clock_mhz(g.handle, 2, &v) == kNvmlSuccess) s.mem_clock_mhz = v;
  if (api_->temperature_c(g.handle, 0, &v) == kNvmlSuccess) s.temperature_c = v;
  unsigned long long reasons = 0;
  if (api_->clock_event_reasons && api_->clock_event_reasons(g.handle, &reasons) == kNvmlSuccess) {
    s.clock_event_reasons = reasons;
  }
  return s;
}

}  // namespace sedenergy::energy
