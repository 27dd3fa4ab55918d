#include "energy/records.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy::energy {

const char* domain_name(Domain d) {
  switch (d) {
    case Domain::gpu: return "gpu";
    case Domain::cpu: return "cpu";
    case Domain::ram: return "ram";
  }
  return "?";
}

std::string estimate_flag(Domain d, const std::string& why) {
  return std::string(domain_name(d)) + " energy estimated (" + why + ")";
}

FlagKind flag_kind(const std::string& flag) {
  for (Domain d : kDomains) {
    if (flag.rfind(std::string(domain_name(d)) + " energy estimated", 0) == 0) return FlagKind::estimate;
  }
  return FlagKind::validity;
}

double WindowResult::energy_j(Domain domain) const {
  double s = 0;
  for (const auto& d : domains) {
    if (d.is(domain)) s += d.energy_j;
  }
  return s;
}

WindowTotals totals(const WindowResult& w) {
  WindowTotals t;
  std::array<std::vector<std::string>, 3> methods;
  std::vector<std::string> names;
  bool has_net = false;
  for (const auto& d : w.domains) {
    t.energy_j += d.energy_j;
    t.estimated |= d.estimated;
    for (Domain k : kDomains) {
      if (!d.is(k)) continue;
      t.domain_j[static_cast<std::size_t>(k)] += d.energy_j;
      t.domain_w[static_cast<std::size_t>(k)] += d.mean_power_w;
      auto& m = methods[static_cast<std::size_t>(k)];
      if (std::find(m.begin(), m.end(), d.method) == m.end()) m.push_back(d.method);
    }
    if (!d.is(Domain::gpu)) continue;
    if (d.uncertainty_j >= 0) t.gpu_uncertainty_j += d.uncertainty_j;
    if (d.net_energy_j >= 0) t.net_gpu_energy_j = (has_net ? t.net_gpu_energy_j : 0) + d.net_energy_j, has_net = true;
    const auto space = d.device.find(' ');  // device is "gpuN NAME": the name identifies the hardware
    names.push_back(space == std::string::npos ? d.device : d.device.substr(space + 1));
  }
  for (std::size_t k = 0; k < methods.size(); ++k) t.methods[k] = join(methods[k], "; ");
  t.gpu_names = join(names, ", ");
  return t;
}

double WindowResult::total_energy_j() const {
  double s = 0;
  for (const auto& d : domains) s += d.energy_j;
  return s;
}

nlohmann::json WindowResult::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  if (!started_at.empty()) j["started_at"] = started_at;
  j["duration_s"] = duration_s;
  j["samples"] = samples;
  j["cpu_load"] = cpu_load;
  if (gpu_util_pct >= 0) j["gpu_utilization_pct"] = gpu_util_pct;
  for (const auto& [k, v] : gpu_activity) j["gpu_activity"][k] = v;
  if (mem_util_pct >= 0) j["gpu_memory_utilization_pct"] = mem_util_pct;
  j["flags"] = flags;
  if (!gpu_selection.empty()) j["gpu_selection"] = gpu_selection;
  for (const auto& [gpu, sh] : gpu_sharing) {
    j["gpu_sharing"][gpu] = {{"other_processes", sh.other_pids.size()}, {"other_pids", sh.other_pids}};
    if (sh.other_sm_share >= 0) j["gpu_sharing"][gpu]["other_sm_util_share"] = sh.other_sm_share;
  }
  j["total_energy_j"] = total_energy_j();
  for (const auto& d : domains) {
    nlohmann::json e = {{"domain", d.domain},     {"device", d.device},           {"method", d.method},
                        {"estimated", d.estimated}, {"energy_j", d.energy_j},     {"mean_power_w", d.mean_power_w},
                        {"peak_power_w", d.peak_power_w}};
    if (d.integral_energy_j >= 0) e["integral_energy_j"] = d.integral_energy_j;
    if (d.uncertainty_j >= 0) e["uncertainty_j"] = d.uncertainty_j;
    if (d.idle_power_w >= 0) {
      e["idle_power_w"] = d.idle_power_w;
      e["net_energy_j"] = d.net_energy_j;
    }
    j["domains"].push_back(e);
  }
  return j;
}

WindowResult WindowResult::from_json(const nlohmann::json& j) {
  auto get = [](const nlohmann::json& o, const char* key, auto fallback) {
    using T = decltype(fallback);
    if (!o.is_object() || !o.contains(key) || o[key].is_null()) return fallback;
    try {
      return o[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      throw InputError(std::string("window record: '") + key + "' has the wrong type");
    }
  };
  if (!j.is_object()) throw InputError("window record: expected a JSON object");
  WindowResult r;
  r.name = get(j, "name", std::string());
  r.started_at = get(j, "started_at", std::string());
  r.duration_s = get(j, "duration_s", 0.0);
  r.samples = get(j, "samples", 0);
  r.cpu_load = get(j, "cpu_load", 0.0);
  r.gpu_util_pct = get(j, "gpu_utilization_pct", -1.0);
  r.mem_util_pct = get(j, "gpu_memory_utilization_pct", -1.0);
  r.flags = get(j, "flags", std::vector<std::string>());
  r.gpu_activity = get(j, "gpu_activity", std::map<std::string, double>());
  r.gpu_selection = get(j, "gpu_selection", std::string());
  const nlohmann::json sharing = get(j, "gpu_sharing", nlohmann::json::object());
  for (const auto& [gpu, sh] : sharing.items()) {
    r.gpu_sharing[gpu].other_pids = get(sh, "other_pids", std::vector<unsigned>());
    r.gpu_sharing[gpu].other_sm_share = get(sh, "other_sm_util_share", -1.0);
  }
  for (const auto& e : get(j, "domains", nlohmann::json::array())) {
    DomainEnergy d;
    d.domain = get(e, "domain", std::string());
    d.device = get(e, "device", std::string());
    d.method = get(e, "method", std::string());
    d.estimated = get(e, "estimated", false);
    d.energy_j = get(e, "energy_j", 0.0);
    d.mean_power_w = get(e, "mean_power_w", 0.0);
    d.peak_power_w = get(e, "peak_power_w", 0.0);
    d.integral_energy_j = get(e, "integral_energy_j", -1.0);
    d.uncertainty_j = get(e, "uncertainty_j", -1.0);
    d.idle_power_w = get(e, "idle_power_w", -1.0);
    d.net_energy_j = get(e, "net_energy_j", -1.0);
    if (std::none_of(kDomains.begin(), kDomains.end(), [&](Domain k) { return d.is(k); })) {
      throw InputError("window record: unknown domain '" + d.domain + "' (gpu, cpu, ram)");
    }
    r.domains.push_back(d);
  }
  return r;
}

nlohmann::json timeline_json(const std::vector<Sample>& samples, double t0, std::size_t max_rows,
                             std::size_t* stride) {
  const std::size_t k = std::max<std::size_t>(1, (samples.size() + max_rows - 1) / std::max<std::size_t>(1, max_rows));
  if (stride) *stride = k;
  auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < samples.size(); i += k) {
    const auto& s = samples[i];
    nlohmann::json row = {{"t_s", s.t - t0}, {"cpu_load", s.cpu_load}};
    for (const auto& g : s.gpus) {
      row["gpus"].push_back({{"power_avg_w", finite(g.power_avg_w)}, {"power_instant_w", finite(g.power_instant_w)},
                             {"util_gpu_pct", finite(g.util_gpu_pct)}, {"util_mem_pct", finite(g.util_mem_pct)},
                             {"mem_used_gb", finite(g.mem_used_gb)}, {"sm_clock_mhz", finite(g.sm_clock_mhz)}});
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace sedenergy::energy
