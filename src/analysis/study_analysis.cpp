// The study's questions in order (questions.hpp), each asked per GPU where its answer belongs to one.
#include "analysis/study_analysis.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "analysis/questions.hpp"
#include "analysis/stats.hpp"

namespace sedenergy::analysis {

namespace {
// A question whose answer belongs to one GPU (a fit, a correlation or a ranking over configurations): in a
// database of several GPUs it is asked of each GPU's points alone, so that no fit pools two GPUs. Its tables
// gain a gpu column, its findings and what it could not compute the GPU's name.
void per_gpu(Analysis& a, const std::function<void(Analysis&)>& question) {
  std::set<std::string> gpus;
  for (const auto& p : a.points) gpus.insert(p.gpu);
  if (gpus.size() < 2) return question(a);
  for (const auto& gpu : gpus) {
    Analysis sub;
    sub.energy_label = a.energy_label;
    for (const auto& p : a.points) {
      if (p.gpu == gpu) sub.points.push_back(p);
    }
    question(sub);
    for (const auto& t : sub.tables) {
      auto it = std::find_if(a.tables.begin(), a.tables.end(), [&](const Table& x) { return x.id == t.id; });
      if (it == a.tables.end()) {
        std::vector<std::string> columns = {"gpu"};
        columns.insert(columns.end(), t.columns.begin(), t.columns.end());
        it = a.tables.insert(a.tables.end(), Table{t.id, t.title, t.note, columns, {}});
      }
      const std::size_t offset = it->rows.size();
      for (auto row : t.rows) it->rows.push_back((row.insert(row.begin(), gpu), row));
      for (auto& [key, draws] : sub.draws) {
        const auto& [id, row, column] = key;
        if (id == t.id) a.draws[{id, offset + row, column}] = std::move(draws);
      }
    }
    for (const auto& f : sub.findings) a.findings.push_back(gpu + ": " + f);
    for (const auto& c : sub.cannot) a.cannot.push_back(gpu + ": " + c);
  }
}

}  // namespace

Analysis analyze(const std::vector<store::RunPhaseRow>& recorded, const AnalysisOptions& options) {
  Analysis a;
  std::string loops_note;
  const auto apart = loops_named_apart(recorded, loops_note);
  const auto& rows = apart ? *apart : recorded;
  if (!loops_note.empty()) a.findings.push_back(loops_note);
  const EnergyUse use = choose_energy(rows, options, a);
  std::vector<WindowFacts> facts;
  facts.reserve(rows.size());
  for (const auto& r : rows) facts.push_back(r.phase.phase.empty() ? WindowFacts{} : window_facts(r.phase.window_json));
  const auto acc = aggregate(rows, facts, use, a);
  for (const auto& r : rows) a.code_versions[device_of(r)].insert(r.site->code_version);
  split_implementations(a);
  borrow_kernel_counts(a);
  measure_ieee_extra(a);
  if (a.points.empty()) {
    a.cannot.push_back(a.runs == 0 ? "no runs in the database: nothing to analyse"
                                   : "no finished run with a measured phase: nothing to analyse");
    return a;
  }
  const auto phases = phases_of(a);
  // One function per study question, each adding its table and findings.
  add_runs_summary(a, acc);
  per_gpu(a, [](Analysis& g) {
    add_correlations(g, phases_of(g));
    add_utilization_finding(g);
  });
  per_gpu(a, [](Analysis& g) { add_slopes(g, phases_of(g)); });
  per_gpu(a, [](Analysis& g) { add_two_trends(g, phases_of(g)); });
  per_gpu(a, add_power_gap);
  per_gpu(a, [](Analysis& g) { add_per_flop_ranking(g, phases_of(g)); });
  add_predictors(a, phases);
  add_scaling(a);
  mark_did_not_learn(a, options.learn_margin);
  add_pareto(a);
  add_hardware(a);
  add_software_choices(a, acc);
  add_stalls(a, acc, options.stall_factor);
  add_energy_to_target(a, rows, options, use);
  add_measurement_quality(a, rows, facts);
  if (a.estimated) {
    a.findings.insert(a.findings.begin(),
                      "Energies here are ESTIMATED (no GPU or RAPL sensor for some runs): the findings describe "
                      "CodeCarbon's CPU/RAM model, not measured energy.");
  }
  return a;
}

}  // namespace sedenergy::analysis
