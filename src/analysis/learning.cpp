// Quality for the energy: models that did not learn, the energy/mAP Pareto front, and the energy to reach a
// validation mAP from learning runs.
#include "analysis/questions.hpp"

#include <algorithm>
#include <set>

#include "analysis/stats.hpp"
#include "common/absent.hpp"
#include "common/text.hpp"
#include "store/json_columns.hpp"

namespace sedenergy::analysis {

// Models that learned nothing (test mAP within the margin of a constant model's) are marked on every point
// of their configuration, said by name, and kept off the energy/quality front: their energy buys no quality.
void mark_did_not_learn(Analysis& a, double margin) {
  std::set<std::string> learned_nothing, judged;
  for (auto& p : a.points) {
    if (p.map < 0 || p.map_chance < 0) continue;
    judged.insert(p.variant);
    p.did_not_learn = p.map < p.map_chance + margin;
    if (p.did_not_learn) learned_nothing.insert(p.variant);
  }
  if (judged.empty()) {
    a.cannot.push_back("did-not-learn: the chance mAP of the test set is not recorded (runs before schema 8)");
    return;
  }
  std::vector<std::string> names(learned_nothing.begin(), learned_nothing.end());
  a.findings.push_back("Models that learn: " + std::to_string(names.size()) + " of " + std::to_string(judged.size()) +
                       " configurations reached a test mAP within " + fmt(margin) +
                       " of a constant model's (did-not-learn, kept off the Pareto front)" +
                       (names.empty() ? "." : ": " + join(names, ", ") + "."));
}

void add_pareto(Analysis& a) {
  std::vector<const Point*> pts;
  std::vector<double> cost, quality;
  for (const Point* p : select(a, "train", "")) {
    if (p->map >= 0 && !p->did_not_learn) pts.push_back(p), cost.push_back(p->energy_j), quality.push_back(p->map);
  }
  if (pts.size() < 2) {
    a.cannot.push_back("Pareto front: test-set mAP is not recorded for at least two configurations that learned");
  } else {
    Table t{"pareto", "Training energy against test mAP: the Pareto front",
            "configurations not beaten by another that costs less energy per epoch and reaches a higher mAP; those "
            "that did not learn (mAP within the margin of a constant model's) left out",
            {"config", "family", "train_energy_j", "map"}, {}};
    a.pareto = json::array();
    for (int i : pareto_front(cost, quality)) {
      t.rows.push_back({pts[i]->variant, pts[i]->family, num(cost[i]), num(quality[i])});
      a.pareto.push_back(pts[i]->variant);
    }
    a.tables.push_back(t);
  }
}

namespace {
// One learning run's curve (store::RunRecord::learning_json), with the energy the analysis reads.
struct LearningRun {
  std::string variant, family;
  const store::RunSite* site;  // its session's data and fixed target
  int best_epoch = 0;
  std::vector<double> map, energy;  // per epoch: validation mAP, cumulative energy
};

std::vector<LearningRun> learning_runs(const std::vector<store::RunPhaseRow>& rows, const std::string& impl, const EnergyUse& use) {
  std::vector<LearningRun> out;
  for (const auto& r : rows) {
    if (r.run->status != "ok" || r.phase.phase != "train" || r.run->impl != impl) continue;
    const auto curve = store::read_learning(r.run->learning_json);
    if (!curve) continue;
    LearningRun run{r.run->variant, r.run->family, r.site.get(), curve->best_epoch, {}, {}};
    for (const auto& e : curve->epochs) {
      run.map.push_back(e.validation_map);
      run.energy.push_back(use.gpu ? above_baseline(e.gpu_energy_j, baseline_watts(r, use.baseline), e.seconds)
                                   : e.energy_j);
    }
    if (!run.map.empty()) out.push_back(std::move(run));
  }
  return out;
}

// The target a comparison of learning runs reads, and how it was set: the report's option, else the one the
// sessions fixed before the runs (study --target-map), else 0.9 x the lowest family best, chosen after them.
struct Target {
  double map;
  std::string how;
};

Target learning_target(const std::vector<LearningRun>& runs, double option) {
  if (std::isfinite(option)) return {option, "report --target-map"};
  std::set<double> fixed;
  for (const auto& r : runs) fixed.insert(r.site->target_map);
  if (fixed.size() == 1 && present(*fixed.begin())) return {*fixed.begin(), "fixed before the runs: study --target-map"};
  std::map<std::string, double> best;
  for (const auto& r : runs) best[r.family] = std::max(best[r.family], *std::max_element(r.map.begin(), r.map.end()));
  double lowest = INFINITY;
  for (const auto& [family, m] : best) lowest = std::min(lowest, m);
  const bool some_fixed = std::any_of(fixed.begin(), fixed.end(), [](double t) { return present(t); });
  const char* why = !some_fixed         ? "none was fixed before them"
                    : present(*fixed.begin()) ? "the sessions fixed different targets"
                                        : "some sessions fixed none before them";
  return {std::isfinite(lowest) ? 0.9 * lowest : NAN,
          "chosen after the runs, 0.9 x the lowest of the families' best: " + std::string(why)};
}

// What the learning runs trained on, as a finding names it: the generated set or the clips' folder. A session
// records generated data as "synthetic ..." (runner/study_data.cpp); older ones only by the study's own
// folder for it (synth-N-seedS).
std::string data_named(const std::vector<LearningRun>& runs) {
  std::set<std::string> names;
  for (const auto& r : runs) {
    if (r.site->dataset.empty()) {
      names.insert("not recorded");
      continue;
    }
    const std::string root = r.site->dataset.substr(0, r.site->dataset.find(" ("));
    const bool synthetic = root.find("/synth-") != std::string::npos || r.site->dataset.rfind("synthetic", 0) == 0;
    names.insert(synthetic ? "synthetic clips (sedenergy synth)" : "clips of " + root);
  }
  return join(std::vector<std::string>(names.begin(), names.end()), ", ");
}

// A configuration that reached the learning target: the median, least and most energy of its repetitions.
struct Reached {
  double median, least, most;
  std::string name;  // "config (family)"
  std::size_t repetitions;
};

// Which configurations the repetitions (each from its own seed) cannot tell from the cheapest: those whose
// least energy lies within the cheapest's range.
std::string seed_spread_text(const std::vector<Reached>& by_median) {
  const Reached& cheapest = by_median.front();
  if (by_median.size() < 2 || cheapest.repetitions < 2) return "";
  std::vector<std::string> within;
  for (std::size_t i = 1; i < by_median.size(); ++i) {
    if (by_median[i].least <= cheapest.most) within.push_back(by_median[i].name);
  }
  const std::string range = " (" + fmt(cheapest.least) + "-" + fmt(cheapest.most) + " J over its repetitions)";
  if (within.empty()) return " Every other configuration's repetitions all cost more than the cheapest's most" + range + ".";
  return " Within the cheapest's range" + range + ": " + join(within, ", ") + " (" + std::to_string(within.size()) + " of " +
         std::to_string(by_median.size() - 1) + "), so the repetitions do not tell " +
         (within.size() == 1 ? "it" : "them") + " from the cheapest.";
}

}  // namespace

namespace {
// One configuration's learning runs against the target: each run that reached it gives the epochs it took
// and the energy spent, and so the energy per epoch on the way.
struct Reach {
  std::vector<double> epochs, energy, per_epoch, best_map, best_epoch;
};

Reach reach_of(const std::vector<const LearningRun*>& list, double target) {
  Reach out;
  for (const LearningRun* r : list) {
    out.best_map.push_back(*std::max_element(r->map.begin(), r->map.end()));
    out.best_epoch.push_back(r->best_epoch);
    for (std::size_t e = 0; e < r->map.size(); ++e) {
      if (r->map[e] < target) continue;
      out.epochs.push_back(static_cast<double>(e + 1));
      out.energy.push_back(r->energy[e]);
      out.per_epoch.push_back(r->energy[e] / static_cast<double>(e + 1));
      break;
    }
  }
  return out;
}

// The row of energy_to_target: the medians, the energy's least and most, and the intervals of the median
// epochs and energy per epoch (distribution-free, over the repetitions that reached the target).
std::vector<json> reach_row(const std::string& variant, const std::vector<const LearningRun*>& list, const Reach& r,
                            double target) {
  const bool any = !r.energy.empty();
  const json none = nullptr;
  const Summary epochs = summarize(r.epochs), per_epoch = summarize(r.per_epoch);
  auto bound = [&](double v) { return any && r.energy.size() >= 2 ? num(v) : none; };
  return {variant, list.front()->family, static_cast<int>(list.size()), static_cast<int>(r.energy.size()), num(target),
          any ? num(epochs.median) : none, any ? num(median(r.energy)) : none,
          any ? num(*std::min_element(r.energy.begin(), r.energy.end())) : none,
          any ? num(*std::max_element(r.energy.begin(), r.energy.end())) : none, num(median(r.best_map)),
          num(median(r.best_epoch)), bound(epochs.median_ci.lo), bound(epochs.median_ci.hi),
          any ? num(per_epoch.median) : none, bound(per_epoch.median_ci.lo), bound(per_epoch.median_ci.hi),
          bound(epochs.median_coverage)};
}

std::string energy_to_target_finding(const Target& target, const std::string& data, std::vector<Reached> reached,
                                     const std::vector<std::string>& never) {
  std::sort(reached.begin(), reached.end(), [](const Reached& x, const Reached& y) { return x.median < y.median; });
  std::string f = "Energy to reach validation mAP " + fmt(target.map) + " (" + target.how + "; data: " + data + "): ";
  if (reached.empty()) return f + "no configuration reached it.";
  f += "the cheapest is " + reached.front().name + " with " + fmt(reached.front().median) + " J, the dearest " +
       reached.back().name + " with " + fmt(reached.back().median) + " J (" +
       fmt(reached.back().median / reached.front().median) + "x, medians)";
  f += never.empty() ? "; every configuration reached it." : "; " + std::to_string(never.size()) + " never did: " + join(never, ", ") + ".";
  return f + seed_spread_text(reached) +
         " The epochs it took and the energy per epoch on the way are in energy_to_target, each with its interval.";
}
}  // namespace

// Energy to reach a validation mAP: per configuration, the energy spent (training and validation, from the
// start weights) up to the first epoch whose validation mAP reaches the target, median over repetitions with
// the least and the most, and apart: the epochs it took and the energy per epoch, each with the interval of
// its median; configurations whose runs never reach it say so.
void add_energy_to_target(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options,
                          const EnergyUse& use) {
  const auto runs = learning_runs(rows, a.reference_impl, use);
  if (runs.empty()) return;
  const Target target = learning_target(runs, options.target_map);
  const std::string what = !use.gpu ? "energy, all domains"
                           : use.baseline == Baseline::none ? "GPU energy"
                                                            : std::string("GPU energy above the ") + baseline_choice(use.baseline).name;
  Table t{"energy_to_target", "Energy to reach a validation mAP",
          "learning runs (--early-stop): " + what + " (J, meter windows per epoch, cumulative) up to the first epoch "
              "whose validation mAP reaches " + fmt(target.map) + " (" + target.how + "), median over the "
              "repetitions that reach it, with the least and the most of them (learning runs train each repetition "
              "from its own seed, so the spread is training's); apart, the epochs it took and the energy per epoch "
              "on the way, each median with its distribution-free interval (lo, hi; coverage as stated, [min, max] "
              "up to 8 repetitions)",
          {"config", "family", "runs", "reached", "target_map", "epochs_median", "energy_j_median", "energy_j_min",
           "energy_j_max", "best_validation_map", "best_epoch_median", "epochs_lo", "epochs_hi",
           "energy_per_epoch_j_median", "energy_per_epoch_j_lo", "energy_per_epoch_j_hi", "interval_coverage"},
          {}};
  std::map<std::string, std::vector<const LearningRun*>> by_variant;
  for (const auto& r : runs) by_variant[r.variant].push_back(&r);
  std::vector<Reached> reached;
  std::vector<std::string> never;
  for (const auto& [variant, list] : by_variant) {
    const Reach r = reach_of(list, target.map);
    t.rows.push_back(reach_row(variant, list, r, target.map));
    if (r.energy.empty()) never.push_back(variant);
    else reached.push_back({median(r.energy), *std::min_element(r.energy.begin(), r.energy.end()),
                            *std::max_element(r.energy.begin(), r.energy.end()),
                            variant + " (" + list.front()->family + ")", r.energy.size()});
  }
  a.tables.push_back(t);
  a.findings.push_back(energy_to_target_finding(target, data_named(runs), std::move(reached), never));
}

}  // namespace sedenergy::analysis
