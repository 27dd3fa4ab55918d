#include <cstring>
#include <map>
#include <memory>

#include "energy/meter.hpp"
#include "sedenergy/sedenergy.h"

struct sed_meter {
  std::unique_ptr<sedenergy::energy::Meter> meter;
  std::map<int, sedenergy::energy::Window> windows;
  int next_id = 0;
  std::string last_json;
};

extern "C" {

sed_meter* sed_meter_open(double period_s, char* error, size_t error_size) {
  try {
    sedenergy::energy::MeterOptions opt;
    if (period_s > 0) opt.period_s = period_s;
    auto m = std::make_unique<sed_meter>();
    m->meter = std::make_unique<sedenergy::energy::Meter>(opt);
    m->meter->start();
    return m.release();
  } catch (const std::exception& e) {
    if (error && error_size) {
      std::strncpy(error, e.what(), error_size - 1);
      error[error_size - 1] = 0;
    }
    return nullptr;
  }
}

int sed_window_begin(sed_meter* m, const char* name) {
  if (!m) return -1;
  try {
    int id = m->next_id++;
    m->windows.emplace(id, m->meter->begin(name ? name : "window"));
    return id;
  } catch (...) {
    return -2;
  }
}

int sed_window_end(sed_meter* m, int id, sed_window_result* out) {
  if (!m) return -1;
  auto it = m->windows.find(id);
  if (it == m->windows.end()) return -3;
  try {
    auto r = m->meter->end(it->second);
    m->windows.erase(it);
    m->last_json = r.to_json().dump();
    if (out) {
      out->duration_s = r.duration_s;
      out->energy_j = r.total_energy_j();
      out->gpu_energy_j = r.energy_j("gpu");
      out->cpu_energy_j = r.energy_j("cpu");
      out->ram_energy_j = r.energy_j("ram");
      out->gpu_utilization_pct = r.gpu_util_pct;
      out->estimated = 0;
      for (const auto& d : r.domains) out->estimated |= d.estimated ? 1 : 0;
      out->gpu_count = static_cast<int>(m->meter->gpus().size());
    }
    return 0;
  } catch (...) {
    return -2;
  }
}

const char* sed_last_window_json(sed_meter* m) {
  if (!m || m->last_json.empty()) return nullptr;
  return m->last_json.c_str();
}

void sed_meter_close(sed_meter* m) { delete m; }

}  // extern "C"
