#include "energy/cuda_device.hpp"

#include <dlfcn.h>

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

}  // namespace sedenergy::energy
