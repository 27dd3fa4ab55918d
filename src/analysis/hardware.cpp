// Across GPUs: energy normalised by two reference configurations, and that normalisation validated by
// predicting every other configuration.
#include "analysis/questions.hpp"

#include <algorithm>
#include <set>

#include "analysis/stats.hpp"

namespace sedenergy::analysis {

namespace {
// Hardware normalisation validated: every configuration's energy on each other GPU predicted from the
// base GPU's energy of it times the factor two reference configurations give (the cheapest and the dearest
// on the base GPU, per phase), against what was measured there.
void add_hardware_prediction(Analysis& a, const std::set<std::string>& gpus, const std::string& base) {
  Table t{"hardware_prediction", "Hardware normalisation: each configuration predicted from " + base + " and two references",
          "predicted = energy on " + base + " x factor; factor = geometric mean of the two reference configurations' "
          "ratios (the cheapest and the dearest on " + base + ", per phase); error = predicted / measured - 1",
          {"gpu", "phase", "config", "measured_j", "predicted_j", "error_pct", "reference"},
          {}};
  for (const auto& phase : phases_of(a)) {
    std::map<std::string, std::map<std::string, double>> e;  // variant @frames -> gpu -> energy
    for (const auto& p : a.points) {
      if (p.phase == phase) e[p.variant + " @" + std::to_string(p.frames) + " frames"][p.gpu] = p.energy_j;
    }
    std::vector<std::pair<double, std::string>> common;
    for (const auto& [v, m] : e) {
      if (m.size() == gpus.size()) common.push_back({m.at(base), v});
    }
    if (common.size() < 3) continue;
    std::sort(common.begin(), common.end());
    const std::string r1 = common.front().second, r2 = common.back().second;
    for (const auto& g : gpus) {
      if (g == base) continue;
      const double f = std::sqrt(e[r1][g] / e[r1][base] * (e[r2][g] / e[r2][base]));
      std::vector<double> err;
      for (const auto& [eb, v] : common) {
        const double pred = eb * f, meas = e[v][g], pct = 100 * (pred / meas - 1);
        const bool ref = v == r1 || v == r2;
        if (!ref) err.push_back(std::abs(pct));
        t.rows.push_back({g, phase, v, num(meas), num(pred), num(pct), ref});
      }
      if (err.empty()) continue;
      a.findings.push_back("Hardware normalisation (" + phase + ", " + g + " from " + base + "): energy x " + fmt(f, "%.3g") +
                           " (two reference configurations) predicts the other " + std::to_string(err.size()) +
                           " configurations with a median error of " + fmt(median(err), "%.0f") + " % (largest " +
                           fmt(*std::max_element(err.begin(), err.end()), "%.0f") + " %; hardware_prediction table)." +
                           code_versions_caveat(a, {g, base}));
    }
  }
  if (!t.rows.empty()) a.tables.push_back(t);
}

}  // namespace

void add_hardware(Analysis& a) {
  std::set<std::string> gpus;
  for (const auto& p : a.points) gpus.insert(p.gpu);
  if (gpus.size() < 2) {
    a.cannot.push_back("hardware comparison: all runs come from one device (" + *gpus.begin() +
                       "); merge databases from other GPUs with `sedenergy merge` or pass several to `report`");
  } else {
    // Reference configurations: the cheapest and the most expensive training run present on every device.
    std::map<std::string, std::map<std::string, double>> e;  // variant -> gpu -> energy (train)
    for (const auto& p : a.points) {
      if (p.phase == "train") e[p.variant + " @" + std::to_string(p.frames) + " frames"][p.gpu] = p.energy_j;
    }
    std::vector<std::pair<double, std::string>> common;
    const std::string base = *gpus.begin();
    for (const auto& [v, m] : e) {
      if (m.size() == gpus.size()) common.push_back({m.at(base), v});
    }
    if (common.size() < 2) {
      a.cannot.push_back("hardware comparison: fewer than two configurations were run on every device");
    } else {
      std::sort(common.begin(), common.end());
      const std::string r1 = common.front().second, r2 = common.back().second;
      Table t{"hardware", "Hardware comparison, normalised by two reference configurations",
              "factor: geometric mean of the energy ratios to " + base + " of " + r1 + " and " + r2 +
                  "; normalised energy = energy / factor",
              {"gpu", "factor", "configs_in_common"}, {}};
      for (const auto& g : gpus) {
        const double f = std::sqrt(e[r1][g] / e[r1][base] * (e[r2][g] / e[r2][base]));
        t.rows.push_back({g, num(f), static_cast<int>(common.size())});
      }
      a.tables.push_back(t);
      add_hardware_prediction(a, gpus, base);
    }
  }
}

}  // namespace sedenergy::analysis
