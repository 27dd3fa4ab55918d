#include "energy/cuda_device.hpp"

#include <dlfcn.h>

#include "common/error.hpp"
#include "common/text.hpp"
#include "energy/meter.hpp"
#include "energy/nvml.hpp"

namespace sedenergy::energy {

std::string cuda_pci_bus_id(int ordinal, std::string* why) {
  auto fail = [&](const std::string& msg) {
    if (why) *why = msg;
    return std::string();
  };
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return fail("no CUDA driver (libcuda.so.1 not found)");
  using InitFn = int (*)(unsigned);
  using GetFn = int (*)(int*, int);
  using BusFn = int (*)(char*, int, int);
  auto init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
  auto get = reinterpret_cast<GetFn>(dlsym(lib, "cuDeviceGet"));
  auto bus = reinterpret_cast<BusFn>(dlsym(lib, "cuDeviceGetPCIBusId"));
  // The library stays loaded: the CUDA runtime of this process uses it too.
  if (!init || !get || !bus) return fail("libcuda.so.1 lacks cuInit / cuDeviceGet / cuDeviceGetPCIBusId");
  if (int rc = init(0); rc != 0) return fail("cuInit failed (CUDA error " + std::to_string(rc) + ")");
  int device = 0;
  if (int rc = get(&device, ordinal); rc != 0) {
    return fail("no CUDA device " + std::to_string(ordinal) + " (CUDA error " + std::to_string(rc) + ")");
  }
  char text[64] = {0};
  if (int rc = bus(text, sizeof text, device); rc != 0) {
    return fail("cuDeviceGetPCIBusId failed (CUDA error " + std::to_string(rc) + ")");
  }
  return normalize_pci_bus_id(text);
}

int cuda_primary_context_active(int ordinal) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return -1;
  using InitFn = int (*)(unsigned);
  using GetFn = int (*)(int*, int);
  using StateFn = int (*)(int, unsigned*, int*);
  auto init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
  auto get = reinterpret_cast<GetFn>(dlsym(lib, "cuDeviceGet"));
  auto state = reinterpret_cast<StateFn>(dlsym(lib, "cuDevicePrimaryCtxGetState"));
  int device = 0, active = 0;
  unsigned flags = 0;
  if (!init || !get || !state || init(0) != 0 || get(&device, ordinal) != 0 || state(device, &flags, &active) != 0) {
    return -1;
  }
  return active ? 1 : 0;
}

bool select_cuda_visible(const char* env, int ordinal, MeterOptions& mo, std::string* note) {
  if (!env) return false;
  const auto entries = split(env, ',');
  std::vector<std::string> bus;
  std::string why;
  for (int i = ordinal < 0 ? 0 : ordinal; i < static_cast<int>(entries.size()) && (ordinal < 0 || i == ordinal); ++i) {
    auto b = cuda_pci_bus_id(i, &why);
    if (b.empty()) break;
    bus.push_back(b);
  }
  mo.gpu_indices.clear();
  mo.gpu_uuids.clear();
  mo.gpu_pci_bus_ids.clear();
  if (!bus.empty()) {
    mo.gpu_pci_bus_ids = bus;
    if (note) *note = "GPUs of CUDA_VISIBLE_DEVICES=" + std::string(env) + ", by PCI bus id: " + join(bus, ", ");
    return true;
  }
  // No CUDA driver to ask: read the entries themselves (what CUDA would do with them, in its order).
  for (int i = 0; i < static_cast<int>(entries.size()); ++i) {
    if (ordinal >= 0 && i != ordinal) continue;
    if (!add_gpu_id(trim(entries[i]), mo)) break;  // CUDA ignores an invalid entry and everything after it
  }
  if (mo.gpu_indices.empty() && mo.gpu_uuids.empty()) mo.use_gpus = false;  // "" or "-1": no GPU visible
  if (note) *note = "GPUs of CUDA_VISIBLE_DEVICES=" + std::string(env) + " (" + why + "; entries read as NVML ids)";
  return true;
}

bool select_cuda_ordinal(int ordinal, MeterOptions& mo, std::string* why) {
  const std::string bus = cuda_pci_bus_id(ordinal, why);
  if (!bus.empty()) {
    mo.gpu_pci_bus_ids.push_back(bus);
    return true;
  }
  MeterOptions one;
  if (!select_cuda_visible(std::getenv("CUDA_VISIBLE_DEVICES"), ordinal, one) ||
      (one.gpu_indices.empty() && one.gpu_uuids.empty())) {
    return false;
  }
  mo.gpu_uuids.insert(mo.gpu_uuids.end(), one.gpu_uuids.begin(), one.gpu_uuids.end());
  mo.gpu_indices.insert(mo.gpu_indices.end(), one.gpu_indices.begin(), one.gpu_indices.end());
  return true;
}

std::string select_program_gpus(MeterOptions& mo, const std::function<const char*(const char*)>& env) {
  const char* visible = env("CUDA_VISIBLE_DEVICES");
  std::string note;
  if (visible && !cuda_pci_bus_id(0).empty() && select_cuda_visible(visible, -1, mo, &note)) {
    return mo.gpu_selection = note;
  }
  for (const char* name : {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}) {
    const char* ids = env(name);
    if (!ids || !*ids) continue;
    MeterOptions slurm;
    for (const auto& id : split(ids, ',')) {
      if (!add_gpu_id(trim(id), slurm)) throw InputError(std::string(name) + "='" + ids + "': expected NVML indices like 0,1");
    }
    mo.gpu_indices = slurm.gpu_indices;
    mo.gpu_uuids = slurm.gpu_uuids;
    mo.gpu_pci_bus_ids.clear();
    return mo.gpu_selection = std::string("the GPUs Slurm gave this job: ") + name + "=" + ids + " (NVML indices)";
  }
  if (visible && select_cuda_visible(visible, -1, mo, &note)) return mo.gpu_selection = note;
  mo.gpus_by_process = true;
  return mo.gpu_selection = "every GPU, each window keeping those on which the program held a context";
}

}  // namespace sedenergy::energy
