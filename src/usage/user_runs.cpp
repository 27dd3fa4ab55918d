#include "usage/user_runs.hpp"

#include "common/error.hpp"
#include "common/host.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"

namespace sedenergy::usage {

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
  const auto t = energy::totals(w);
  r.energy_j = t.energy_j;
  r.gpu_energy_j = t.of(energy::Domain::gpu);
  r.cpu_energy_j = t.of(energy::Domain::cpu);
  r.ram_energy_j = t.of(energy::Domain::ram);
  r.net_gpu_energy_j = t.net_gpu_energy_j;
  r.estimated = t.estimated;
  r.gpu_method = t.method(energy::Domain::gpu);
  r.cpu_method = t.method(energy::Domain::cpu);
  r.ram_method = t.method(energy::Domain::ram);
  r.gpu_util_pct = w.gpu_util_pct;
  r.cpu_load = w.cpu_load;
  r.flags = join(w.flags, "; ");
  r.hostname = read_host_info().hostname;
  r.gpu_name = t.gpu_names;
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
