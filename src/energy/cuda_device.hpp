// Which physical GPU a CUDA device ordinal is, through the CUDA driver API loaded at run time
// (libcuda.so.1; no build dependency). CUDA numbers devices fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID,
// and within CUDA_VISIBLE_DEVICES, while NVML numbers them by PCI bus: the PCI bus id is what both agree on.
#pragma once
#include <functional>
#include <string>

namespace sedenergy::energy {

// The normalised PCI bus id ("0000:1b:00.0") of CUDA device `ordinal` as this process sees it; "" when
// there is no CUDA driver or no such device (`why` says which).
std::string cuda_pci_bus_id(int ordinal, std::string* why = nullptr);

// Whether this process holds CUDA device `ordinal`'s primary context (the one the CUDA runtime, and so
// LibTorch, uses), asked of the driver without creating it: 1 yes, 0 no, -1 cannot tell (no driver).
int cuda_primary_context_active(int ordinal);

// The GPUs a CUDA program started with this environment would use, as a meter selection: by PCI bus id
// through the CUDA driver where it is present, else from CUDA_VISIBLE_DEVICES' entries (NVML indices or
// UUID prefixes, in CUDA's order). `ordinal` < 0: every visible device; else that one. Returns false (and
// leaves `mo` alone) when CUDA_VISIBLE_DEVICES is unset, so the caller keeps its default.
struct MeterOptions;
bool select_cuda_visible(const char* cuda_visible_devices, int ordinal, MeterOptions& mo, std::string* note = nullptr);

// Adds this process's CUDA device `ordinal` to mo's GPUs: by PCI bus id through the CUDA driver, else from this
// process's CUDA_VISIBLE_DEVICES entry. False when neither names it (`why`: the driver's reason).
bool select_cuda_ordinal(int ordinal, MeterOptions& mo, std::string* why = nullptr);

// The GPUs a program about to start will use, for measure: CUDA_VISIBLE_DEVICES mapped through the CUDA
// driver; else Slurm's SLURM_STEP_GPUS / SLURM_JOB_GPUS (NVML indices); else CUDA_VISIBLE_DEVICES' entries;
// else every GPU, each window keeping those on which the program's processes held a context
// (mo.gpus_by_process). Sets mo.gpu_selection and returns it. `env` reads the environment (tests pass theirs).
std::string select_program_gpus(MeterOptions& mo, const std::function<const char*(const char*)>& env = std::getenv);

}  // namespace sedenergy::energy
