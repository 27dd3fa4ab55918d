// The C ABI of libsedenergy (include/sedenergy/sedenergy.h): the one boundary the Python package, C/C++
// users and the examples go through. Every entry point catches everything: errors become a return value
// and a per-thread message, never an exception across the ABI.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "common/error.hpp"
#include "common/host.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "energy/cuda_device.hpp"
#include "energy/emissions.hpp"
#include "energy/meter.hpp"
#include "sedenergy/build_info.hpp"
#include "sedenergy/sedenergy.h"
#include "usage/user_runs.hpp"

using nlohmann::json;
namespace energy = sedenergy::energy;

struct sed_meter {
  std::unique_ptr<energy::Meter> meter;
  bool timeline = true;
  std::mutex mu;  // guards windows, next_id and last_json: windows may be begun and ended from any thread
  std::map<int, energy::Window> windows;
  int next_id = 0;
  std::string last_json;
  json idle;  // the idle baseline's window, when one was measured
};

namespace {

thread_local std::string g_last_error;

// Runs f, turning any exception into `fail` and the thread's last error.
template <typename F, typename R>
R guarded(R fail, F&& f) {
  try {
    g_last_error.clear();
    return f();
  } catch (const std::exception& e) {
    g_last_error = e.what();
  } catch (...) {
    g_last_error = "unknown error";
  }
  return fail;
}

char* owned_copy(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (!out) throw sedenergy::Error("out of memory");
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

json parse_json(const char* text, const char* what) {
  if (!text || !*text) return json::object();
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw sedenergy::InputError(std::string(what) + ": not valid JSON (" + e.what() + ")");
  }
}

// GPU selection from the options: "all", "none", NVML ids, or CUDA ordinals of this process.
void select_gpus(const json& o, energy::MeterOptions& mo) {
  if (o.contains("gpus")) {
    const auto& g = o["gpus"];
    if (g.is_string() && g == "none") mo.use_gpus = false;
    else if (g.is_array()) {
      for (const auto& id : g) {
        const std::string text = id.is_number_integer() ? std::to_string(id.get<long long>())
                                 : id.is_string()       ? id.get<std::string>()
                                                        : "";
        if (!energy::add_gpu_id(text, mo)) throw sedenergy::InputError("gpus: '" + id.dump() + "' is no NVML index or UUID");
      }
      mo.gpu_selection = "gpus " + g.dump() + " (NVML ids)";
    } else if (!(g.is_string() && g == "all")) {
      throw sedenergy::InputError("gpus: expected \"all\", \"none\" or a list of NVML indices / UUIDs");
    }
  }
  if (o.contains("cuda_devices")) {
    if (!o["cuda_devices"].is_array()) throw sedenergy::InputError("cuda_devices: expected a list of CUDA ordinals");
    for (const auto& d : o["cuda_devices"]) {
      if (!d.is_number_integer() || d.get<long long>() < 0) {
        throw sedenergy::InputError("cuda_devices: '" + d.dump() + "' is not a CUDA device ordinal (0, 1, ...)");
      }
      const int ordinal = d.get<int>();
      std::string why;
      if (!energy::select_cuda_ordinal(ordinal, mo, &why)) {
        throw sedenergy::InputError("cuda_devices: no CUDA device " + std::to_string(ordinal) + " (" + why + ")");
      }
    }
    mo.gpu_selection = "CUDA devices " + o["cuda_devices"].dump() + " of this process, by PCI bus id" +
                       (mo.gpu_pci_bus_ids.empty() ? " (no CUDA driver: from CUDA_VISIBLE_DEVICES)" : "");
  }
  if (mo.gpu_selection.empty() && mo.use_gpus) mo.gpu_selection = "every GPU";
}

energy::MeterOptions meter_options(const json& o, bool& timeline, double& idle_s) {
  static const std::vector<std::string> known = {"period_s", "gpus",      "cuda_devices", "idle_s",    "timeline",
                                                 "activity", "gpm",       "cpu_tdp_w",    "host_share", "rapl_root",
                                                 "proc_stat", "check_sharing"};
  sedenergy::refuse_unknown_keys(o, known, "meter options");
  energy::MeterOptions mo;
  try {
    mo.period_s = o.value("period_s", mo.period_s);
    mo.activity = o.value("activity", mo.activity);
    mo.gpm = o.value("gpm", mo.gpm);
    mo.cpu_tdp_w = o.value("cpu_tdp_w", mo.cpu_tdp_w);
    mo.host_share = o.value("host_share", mo.host_share);
    mo.rapl_root = o.value("rapl_root", mo.rapl_root);
    mo.proc_stat = o.value("proc_stat", mo.proc_stat);
    timeline = o.value("timeline", true);
    idle_s = o.value("idle_s", 0.0);
    // This process and its children (data-loader workers) are the program; other processes on its GPUs
    // are flagged as sharing them.
    if (o.value("check_sharing", true)) mo.owner_pid = getpid();
  } catch (const json::exception& e) {
    throw sedenergy::InputError(std::string("meter options: a value has the wrong type (") + e.what() + ")");
  }
  energy::check_sampler_period(mo.period_s, "period_s");
  if (!(idle_s >= 0 && idle_s <= energy::kMaxIdleS)) {
    throw sedenergy::InputError("idle_s must be in [0, " + sedenergy::format_number(energy::kMaxIdleS) + "] s");
  }
  if (!(mo.cpu_tdp_w >= 0 && mo.cpu_tdp_w <= energy::kMaxCpuTdpW)) {
    throw sedenergy::InputError("cpu_tdp_w must be in [0, " + sedenergy::format_number(energy::kMaxCpuTdpW) + "] W");
  }
  select_gpus(o, mo);
  return mo;
}

json window_json(sed_meter* m, const energy::Window& w, const energy::WindowResult& r,
                 const std::vector<energy::Sample>& samples) {
  json j = r.to_json();
  if (m->timeline) {
    std::size_t stride = 1;
    j["timeline"] = energy::timeline_json(samples, w.t0(), 5000, &stride);
    if (stride > 1) j["timeline_stride"] = stride;
  }
  return j;
}

// Open window `id` of the meter, taken out of the map when `take` (it is being ended).
energy::Window find_window(sed_meter* m, int id, bool take) {
  if (!m) throw sedenergy::InputError("no meter (NULL)");
  std::lock_guard lock(m->mu);
  auto it = m->windows.find(id);
  if (it == m->windows.end()) throw sedenergy::InputError("no open window with id " + std::to_string(id));
  energy::Window w = it->second;
  if (take) m->windows.erase(it);
  return w;
}

// Ends window `id` and returns its record (the window is gone from the map either way).
json end_window(sed_meter* m, int id, energy::WindowResult* result) {
  energy::Window w = find_window(m, id, true);
  std::vector<energy::Sample> samples;
  energy::WindowResult r = m->meter->end(w, &samples);
  json j = window_json(m, w, r, samples);
  {
    std::lock_guard lock(m->mu);
    m->last_json = sedenergy::json_text(j);
  }
  if (result) *result = std::move(r);
  return j;
}

// The record of window `id` so far; the window stays open.
json read_window(sed_meter* m, int id) {
  const energy::Window w = find_window(m, id, false);
  std::vector<energy::Sample> samples;
  const energy::WindowResult r = m->meter->read(w, &samples);
  return window_json(m, w, r, samples);
}

// The row of a window record: appended, or in place of its run's row (RowWrite).
int write_emissions(const char* csv_path, const char* window_json_text, const char* context_json,
                    energy::RowWrite how) {
  return guarded(-2, [&] {
    if (!csv_path || !*csv_path) throw sedenergy::InputError("emissions: no CSV path");
    const auto w = energy::WindowResult::from_json(parse_json(window_json_text, "window record"));
    const auto ctx = energy::emissions_context_from_json(parse_json(context_json, "emissions context"));
    energy::write_emissions_csv(csv_path, w, ctx, how);
    return 0;
  });
}

}  // namespace

extern "C" {

const char* sed_version(void) { return sedenergy::build::kVersion; }

const char* sed_last_error(void) { return g_last_error.c_str(); }

void sed_string_free(char* text) { std::free(text); }

sed_meter* sed_meter_open_json(const char* options_json) {
  return guarded(static_cast<sed_meter*>(nullptr), [&]() -> sed_meter* {
    const json o = parse_json(options_json, "meter options");
    auto m = std::make_unique<sed_meter>();
    double idle_s = 0;
    m->meter = std::make_unique<energy::Meter>(meter_options(o, m->timeline, idle_s));
    m->meter->check_selection();
    m->meter->start();
    if (idle_s > 0) m->idle = m->meter->measure_idle(idle_s).to_json();
    return m.release();
  });
}

sed_meter* sed_meter_open(double period_s, char* error, size_t error_size) {
  const std::string options = period_s > 0 ? json{{"period_s", period_s}}.dump() : "{}";
  sed_meter* m = sed_meter_open_json(options.c_str());
  if (!m && error && error_size) {
    std::strncpy(error, g_last_error.c_str(), error_size - 1);
    error[error_size - 1] = 0;
  }
  return m;
}

char* sed_meter_info_json(sed_meter* m) {
  return guarded(static_cast<char*>(nullptr), [&] {
    if (!m) throw sedenergy::InputError("no meter (NULL)");
    json j;
    j["sensors"] = m->meter->sensors_json();
    j["gpus"] = json::array();
    for (const auto& g : m->meter->gpus()) {
      j["gpus"].push_back({{"index", g.index}, {"name", g.name}, {"uuid", g.uuid}, {"pci_bus_id", g.pci_bus_id},
                           {"energy_counter", g.has_energy_counter}});
    }
    j["gpu_driver"] = m->meter->gpu_driver();
    if (!m->idle.is_null()) j["idle"] = m->idle;
    const auto host = sedenergy::read_host_info();
    j["host"] = {{"hostname", host.hostname}, {"os", host.os}, {"cpu_model", host.cpu_model},
                 {"cpu_count", host.cpu_count}, {"ram_total_gb", host.ram_total_gb}};
    j["version"] = sedenergy::build::kVersion;
    return owned_copy(sedenergy::json_text(j));
  });
}

int sed_window_begin(sed_meter* m, const char* name) {
  return guarded(-2, [&] {
    if (!m) throw sedenergy::InputError("no meter (NULL)");
    energy::Window w = m->meter->begin(name ? name : "window");
    std::lock_guard lock(m->mu);
    const int id = m->next_id++;
    m->windows.emplace(id, std::move(w));
    return id;
  });
}

int sed_window_end(sed_meter* m, int id, sed_window_result* out) {
  return guarded(-2, [&] {
    energy::WindowResult r;
    end_window(m, id, &r);
    if (out) {
      const auto t = energy::totals(r);
      out->duration_s = r.duration_s;
      out->energy_j = t.energy_j;
      out->gpu_energy_j = t.of(energy::Domain::gpu);
      out->cpu_energy_j = t.of(energy::Domain::cpu);
      out->ram_energy_j = t.of(energy::Domain::ram);
      out->gpu_utilization_pct = r.gpu_util_pct;
      out->estimated = t.estimated ? 1 : 0;
      out->gpu_count = static_cast<int>(m->meter->gpus_in(r).size());
    }
    return 0;
  });
}

char* sed_window_end_json(sed_meter* m, int id) {
  return guarded(static_cast<char*>(nullptr), [&] { return owned_copy(sedenergy::json_text(end_window(m, id, nullptr))); });
}

const char* sed_last_window_json(sed_meter* m) {
  if (!m) return nullptr;
  std::lock_guard lock(m->mu);
  return m->last_json.empty() ? nullptr : m->last_json.c_str();
}

void sed_meter_close(sed_meter* m) { delete m; }

char* sed_window_read_json(sed_meter* m, int id) {
  return guarded(static_cast<char*>(nullptr), [&] { return owned_copy(sedenergy::json_text(read_window(m, id))); });
}

int sed_emissions_append(const char* csv_path, const char* window_json, const char* context_json) {
  return write_emissions(csv_path, window_json, context_json, energy::RowWrite::kAppend);
}

int sed_emissions_update(const char* csv_path, const char* window_json, const char* context_json) {
  return write_emissions(csv_path, window_json, context_json, energy::RowWrite::kReplaceRunRow);
}

char* sed_emissions_row_json(const char* window_json, const char* context_json) {
  return guarded(static_cast<char*>(nullptr), [&] {
    const auto w = energy::WindowResult::from_json(parse_json(window_json, "window record"));
    const auto ctx = energy::emissions_context_from_json(parse_json(context_json, "emissions context"));
    const auto values = energy::emissions_row(w, ctx);
    const auto& columns = energy::emissions_columns();
    json row = json::object();  // nlohmann's object is sorted: the order goes with the column list
    json order = json::array();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      row[columns[i]] = values[i];
      order.push_back(columns[i]);
    }
    return owned_copy(json{{"columns", order}, {"row", row}}.dump());
  });
}

long long sed_store_window(const char* db_path, const char* run_json, const char* window_json) {
  return guarded(-2LL, [&]() -> long long {
    if (!db_path || !*db_path) throw sedenergy::InputError("store: no database path");
    return sedenergy::usage::record_window(db_path, parse_json(run_json, "run record"),
                                           parse_json(window_json, "window record"));
  });
}

}  // extern "C"
