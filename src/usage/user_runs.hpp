// Records of the user's own programs: a window record (energy::WindowResult as JSON) and the facts of the
// run it belongs to, turned into a row of the results store's user_windows table. The Python package
// (through the C API) and `measure --db` both record through here.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "energy/meter.hpp"
#include "store/store.hpp"

namespace sedenergy::usage {

// run: run_uuid (required), source, project_name, experiment_id, command; unknown keys are refused.
store::UserWindowRecord user_window_record(const nlohmann::json& run, const energy::WindowResult& window,
                                           const nlohmann::json& window_json);

// Opens (or creates) the database and adds the window in one transaction; returns its row id.
std::int64_t record_window(const std::string& db_path, const nlohmann::json& run, const nlohmann::json& window_json);

}  // namespace sedenergy::usage
