#include "store/json_columns.hpp"

#include "store/store.hpp"

namespace sedenergy::store {
namespace {

using nlohmann::json;

// The text parsed; null when empty or not JSON.
json parsed(const std::string& text) {
  return text.empty() ? json() : json::parse(text, nullptr, false, /*ignore_comments=*/false);
}

double number_or(const json& j, const char* key, double otherwise) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : otherwise;
}

StoredSample sample_of(const json& s) {
  StoredSample out{s.value("t_s", 0.0), s.value("cpu_load", 0.0), {}};
  if (!s.contains("gpus")) return out;
  for (const auto& g : s["gpus"]) {
    const double instant = number_or(g, "power_instant_w", NAN);
    out.gpus.emplace_back(std::isfinite(instant) ? instant : number_or(g, "power_avg_w", NAN),
                          number_or(g, "util_gpu_pct", NAN));
  }
  return out;
}

StoredWindow window_of(const json& w) {
  StoredWindow out;
  out.duration_s = w.value("duration_s", 0.0);
  if (w.contains("gpu_activity")) {
    for (const auto& [key, v] : w["gpu_activity"].items()) out.gpu_activity[key] = v.get<double>();
  }
  for (const auto& d : w.value("domains", json::array())) {
    if (!d.is_object()) continue;
    out.domains.push_back({d.value("domain", std::string()), d.value("device", std::string()), d.value("energy_j", 0.0),
                           d.value("integral_energy_j", -1.0), d.value("idle_power_w", -1.0)});
  }
  if (w.contains("rank") && w["rank"].is_object()) {
    const json& r = w["rank"];
    out.rank = StoredRank{r.value("job_id", std::string()), r.value("node", std::string()), r.value("rank", 0),
                          r.value("world_size", 1)};
  }
  for (const auto& s : w.value("timeline", json::array())) out.timeline.push_back(sample_of(s));
  return out;
}

}  // namespace

// sessions.hardware_json (HardwareProbes::to_json): each probe, kAbsent where absent or damaged.
HardwareProbes HardwareProbes::from_json(const std::string& text) {
  const json j = parsed(text);
  HardwareProbes p;
  if (!j.is_object()) return p;
  p.launch_s = number_or(j, "launch_s", kAbsent);
  p.matmul_flops_s = number_or(j, "matmul_flops_s", kAbsent);
  p.copy_bytes_s = number_or(j, "copy_bytes_s", kAbsent);
  p.idle_no_context_w = number_or(j, "idle_no_context_w", kAbsent);
  p.ieee_j_per_flop = number_or(j, "ieee_j_per_flop", kAbsent);
  p.tf32_j_per_flop = number_or(j, "tf32_j_per_flop", kAbsent);
  p.ieee_s_per_flop = number_or(j, "ieee_s_per_flop", kAbsent);
  p.tf32_s_per_flop = number_or(j, "tf32_s_per_flop", kAbsent);
  return p;
}

double read_target_map(const std::string& config_json) {
  const double target = number_or(parsed(config_json), "target_map", kAbsent);
  return target > 0 ? target : kAbsent;
}

std::optional<SpecRecord> read_spec_record(const std::string& spec_json) {
  if (spec_json.empty()) return SpecRecord{};
  const json j = parsed(spec_json);
  if (!j.is_object()) return std::nullopt;
  try {
    return SpecRecord{j.value("mels", 0), j.value("frames", 0), j.value("impl", std::string())};
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::vector<double> read_epoch_times(const std::string& epoch_times_json) {
  try {
    const json j = parsed(epoch_times_json);
    return j.is_array() ? j.get<std::vector<double>>() : std::vector<double>{};
  } catch (const json::exception&) {
    return {};
  }
}

std::optional<LearningCurve> read_learning(const std::string& learning_json) {
  const json j = parsed(learning_json);
  if (!j.is_object() || !j.contains("curve")) return std::nullopt;
  try {
    LearningCurve c{j.value("best_epoch", 0), {}};
    for (const auto& e : j["curve"]) {
      c.epochs.push_back({number_or(e, "validation_map", NAN), number_or(e, "seconds", NAN),
                          number_or(e, "gpu_energy_j", NAN), number_or(e, "energy_j", NAN)});
    }
    return c;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<StoredWindow> read_window(const std::string& window_json) {
  return read_window_from(parsed(window_json));
}

std::optional<StoredWindow> read_window_from(const json& w) {
  if (!w.is_object()) return std::nullopt;
  try {
    return window_of(w);
  } catch (const json::exception&) {
    return std::nullopt;  // a damaged record contributes nothing
  }
}

json read_window_record(const std::string& window_json) {
  const json w = parsed(window_json);
  return w.is_discarded() ? json() : w;
}

double StoredWindow::activity(const std::string& key) const {
  const auto it = gpu_activity.find(key);
  return it == gpu_activity.end() ? -1 : it->second;
}

}  // namespace sedenergy::store
