// Which physical GPU a CUDA device ordinal is, through the CUDA driver API loaded at run time
// (libcuda.so.1; no build dependency). CUDA numbers devices fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID,
// and within CUDA_VISIBLE_DEVICES, while NVML numbers them by PCI bus: the PCI bus id is what both agree on.
#pragma once
#include <string>

namespace sedenergy::energy {

// The normalised PCI bus id ("0000:1b:00.0") of CUDA device `ordinal` as this process sees it; "" when
// there is no CUDA driver or no such device (`why` says which).
std::string cuda_pci_bus_id(int ordinal, std::string* why = nullptr);

}  // namespace sedenergy::energy
