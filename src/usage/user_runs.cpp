#include "usage/user_runs.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/host.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"

namespace sedenergy::usage {
namespace {

// The methods of one domain's devices, distinct, joined ("nvml total-energy counter delta").
std::string methods(const energy::WindowResult& w, const std::string& domain) {
  std::vector<std::string> out;
  for (const auto& d : w.domains) {
    if (d.domain == domain && std::find(out.begin(), out.end(), d.method) == out.end()) out.push_back(d.method);
  }
  return join(out, "; ");
}

std::string gpu_names(const energy::WindowResult& w) {
  std::vector<std::string> out;
  for (const auto& d : w.domains) {
    if (d.domain != "gpu") continue;
    // device is "gpuN NAME": the name is what identifies the hardware.
    const auto space = d.device.find(' ');
    out.push_back(space == std::string::npos ? d.device : d.device.substr(space + 1));
  }
  return join(out, ", ");
}

}  // namespace

store::UserWindowRecord user_window_record(const nlohmann::json& run, const energy::WindowResult& w,
                                           const nlohmann::json& window_json) {
  static const std::vector<std::string> known = {"run_uuid", "source", "project_name", "experiment_id", "command"};
  refuse_unknown_keys(run, known, "run record");
  for (const auto& [k, v] : run.items()) {
    if (!v.is_string()) throw InputError("run record: '" + k + "' must be a string");
  }
  store::UserWindowRecord r;
  r.run_uuid = run.value("run_uuid", "");
  if (r.run_uuid.empty()) throw InputError("run record: run_uuid is required");
  r.source = run.value("source", "");
  r.project_name = run.value("project_name", "");
  r.experiment_id = run.value("experiment_id", "");
  r.command = run.value("command", "");
  r.name = w.name;
  r.started_at = window_json.value("started_at", utc_now_iso());
  r.duration_s = w.duration_s;
  r.energy_j = w.total_energy_j();
  r.gpu_energy_j = w.energy_j("gpu");
  r.cpu_energy_j = w.energy_j("cpu");
  r.ram_energy_j = w.energy_j("ram");
  double net = 0;
  bool have_net = false;
  for (const auto& d : w.domains) {
    if (d.domain == "gpu" && d.net_energy_j >= 0) {
      net += d.net_energy_j;
      have_net = true;
    }
    r.estimated |= d.estimated;
  }
  r.net_gpu_energy_j = have_net ? net : -1;
  r.gpu_method = methods(w, "gpu");
  r.cpu_method = methods(w, "cpu");
  r.ram_method = methods(w, "ram");
  r.gpu_util_pct = w.gpu_util_pct;
  r.cpu_load = w.cpu_load;
  r.flags = join(w.flags, "; ");
  r.hostname = read_host_info().hostname;
  r.gpu_name = gpu_names(w);
  r.window_json = json_text(window_json);
  return r;
}

std::int64_t record_window(const std::string& db_path, const nlohmann::json& run, const nlohmann::json& window_json) {
  const auto w = energy::WindowResult::from_json(window_json);
  const auto record = user_window_record(run, w, window_json);
  store::Store db(db_path);
  const auto id = db.add_user_window(record);
  db.settle();  // one file between windows, unless another process records at the same time
  return id;
}

}  // namespace sedenergy::usage
