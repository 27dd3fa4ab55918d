#include "energy/cpu_model.hpp"

#include <algorithm>

namespace sedenergy::energy {

double CpuPowerModel::power_w(double load) const {
  load = std::clamp(load, 0.0, 1.0);
  return tdp_w * (0.1 + 0.9 * load * load * load);
}

CpuPowerModel cpu_power_model(const std::string& cpu_model, double override_w) {
  CpuPowerModel m;
  if (override_w > 0) {
    m.tdp_w = override_w;
    m.source = "--cpu-tdp " + std::to_string(static_cast<int>(override_w)) + " W";
    return m;
  }
  // Vendor TDPs of common server and desktop CPUs (per socket).
  struct Entry {
    const char* needle;
    double tdp;
  };
  static const Entry table[] = {
      {"Platinum 8480", 350}, {"Platinum 8470", 350}, {"Platinum 8468", 350}, {"Platinum 8462Y", 300},
      {"Platinum 8380", 270}, {"Platinum 8358", 250}, {"Gold 6248", 150},     {"Gold 6230", 125},
      {"EPYC 9654", 360},     {"EPYC 7763", 280},     {"EPYC 7742", 225},     {"EPYC 7B13", 240},
      {"i9-13900K", 125},     {"i7-12700", 65},       {"Ryzen 9 7950X", 170},
  };
  for (const auto& e : table) {
    if (cpu_model.find(e.needle) != std::string::npos) {
      m.tdp_w = e.tdp;
      m.source = std::string("table: ") + e.needle;
      return m;
    }
  }
  m.source = "default 85 W (CPU model not in the table; set --cpu-tdp)";
  return m;
}

double ram_power_w(double ram_gb) { return 3.0 * ram_gb / 8.0; }

}  // namespace sedenergy::energy
