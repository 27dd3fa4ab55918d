// Predicting energy per epoch before the model runs: each predictor fitted per GPU and validated leaving
// one family out, and the choice of predictor validated the same way (nested).
#include "analysis/questions.hpp"

#include <algorithm>
#include <set>

#include "analysis/stats.hpp"
#include "common/absent.hpp"
#include "common/text.hpp"

namespace sedenergy::analysis {

namespace {
// log10 of a positive quantity; NaN (left out of fits) otherwise.
double log10_or_nan(double v) { return v > 0 ? std::log10(v) : NAN; }

// Families left out, and one more (an index into kFamilies).
std::set<std::string> and_family(std::set<std::string> excluded, int family) {
  excluded.insert(kFamilies[static_cast<std::size_t>(family)]);
  return excluded;
}

// A point's family as an index into kFamilies.
int family_index(const Point& p) {
  return static_cast<int>(std::find(kFamilies.begin(), kFamilies.end(), p.family) - kFamilies.begin());
}

// What a predictor needs before the model runs: its 'needs' column, and what the analysis reads from it
// (which predictors a run-free choice may pick, which say the kernel counts were borrowed).
constexpr const char* kNeedsCounts = "counts";

constexpr const char* kNeedsKernels = "counts and kernels per step";

constexpr const char* kNeedsProbes = "counts, kernels per step and the session's hardware probes";

constexpr const char* kNeedsPrecisionCost =
    "counts, kernels per step and the cost of IEEE float32 (the session's microbenchmark, or one configuration run at both precisions)";

constexpr const char* kNeedsARun = "a run of the model";

// A predictor of energy per epoch: its features, what it needs, and how it is fitted.
struct Predictor {
  std::string name;
  std::string needs;  // what must be known before the model runs (or "a run of the model")
  bool relative;      // least squares on joules weighted by 1 / energy^2 (relative errors); else on log10 energy
  std::vector<double> (*features)(const Point&);
  // A term whose cost in joules is known, not fitted: taken off the energy before the fit and added to the
  // predictions (relative predictors only), its cost measured on no configuration of the `excluded` families
  // (those held out). nullptr: none. NaN: the point cannot be predicted.
  double (*known_j)(const Point&, const std::set<std::string>& excluded) = nullptr;
};

double launches(const Point& p) { return p.kernels_per_step > 0 && p.steps > 0 ? p.kernels_per_step * p.steps : NAN; }

// The time an epoch would take from the session's measured rates: every kernel launched from the host at
// the probed launch cost, plus the FLOPs at the probed matmul rate and the traffic at the probed copy rate.
double estimated_time_s(const Point& p) {
  if (!p.hardware.measured()) return NAN;
  return launches(p) * p.hardware.launch_s + p.flops / p.hardware.matmul_flops_s + p.traffic_bytes / p.hardware.copy_bytes_s;
}

// Kernel launches and FLOPs by kind of work.
std::vector<double> kinds_of_work(const Point& p) {
  if (!p.work) return {NAN};
  return {launches(p), p.work->matrix, p.work->single_channel_conv, p.work->conv, p.work->serial_recurrent};
}

const std::vector<Predictor>& predictors() {
  static const std::vector<Predictor> list = {
      {"FLOPs", kNeedsCounts, false, [](const Point& p) { return std::vector<double>{log10_or_nan(p.flops)}; }},
      {"parameters", kNeedsCounts, false, [](const Point& p) { return std::vector<double>{log10_or_nan(p.params)}; }},
      {"memory traffic", kNeedsCounts, false, [](const Point& p) { return std::vector<double>{log10_or_nan(p.traffic_bytes)}; }},
      {"FLOPs + parameters", kNeedsCounts, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(p.flops), log10_or_nan(p.params)}; }},
      {"FLOPs + parameters + memory traffic", kNeedsCounts, false,
       [](const Point& p) {
         return std::vector<double>{log10_or_nan(p.flops), log10_or_nan(p.params), log10_or_nan(p.traffic_bytes)};
       }},
      // E = c + a x launches + b x FLOPs + d x bytes: the idle power over the launch-bound time, and the
      // energy of the arithmetic and of the memory traffic, each linear, fitted per GPU.
      {"kernel launches + FLOPs + memory traffic (linear)", kNeedsKernels, true,
       [](const Point& p) { return std::vector<double>{launches(p), p.flops, p.traffic_bytes}; }},
      // The same with FLOPs by kind of work, each at its own cost: a one-channel convolution's FLOP takes
      // ~100x the time of a wide one's, a recurrent step waits for the one before (docs/FACTS.md §6.4).
      {"kernel launches + FLOPs by kind of layer (linear)", kNeedsKernels, true, kinds_of_work},
      // The same, with what each IEEE float32 product costs beyond a TF32 one as measured on this GPU's die:
      // at PyTorch's float32 defaults an MLP's products run in IEEE float32, an RNN's on TF32.
      {"kernel launches + FLOPs by kind of layer + the measured cost of IEEE float32 (linear)", kNeedsPrecisionCost, true,
       kinds_of_work, [](const Point& p, const std::set<std::string>& excluded) {
         const auto* cost = ieee_cost_without(p, excluded);
         return cost ? ieee_matrix_flops(p) * cost->j : NAN;
       }},
      {"estimated time from measured rates", kNeedsProbes, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(estimated_time_s(p))}; }},
      {"FLOPs + GPU utilization", kNeedsARun, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(p.flops), or_nan(p.gpu_util)}; }},
  };
  return list;
}

// One predictor's view of a GPU's points: the rows it can use (every feature finite), what it fits (log10
// energy, or joules weighted by 1 / energy^2) and each row's family (an index into kFamilies).
struct Design {
  std::vector<std::vector<double>> X;
  std::vector<double> y, w, e;  // fitted target, weight, energy in joules
  std::vector<double> known;    // the predictor's known term in joules (0 without one)
  std::vector<int> fam;
  std::vector<const Point*> used;
  bool borrowed = false;  // kernel counts taken from another GPU's runs
  std::set<std::string> measured_from;  // where its IEEE float32 cost was measured (Point::IeeeCost::from)
  std::set<std::string> excluded;       // families left out before (their costs price no known term)
};

Design design_of(const Predictor& pr, const std::vector<const Point*>& pts, const std::set<std::string>& excluded = {}) {
  Design d;
  d.excluded = excluded;
  for (const Point* p : pts) {
    auto f = pr.features(*p);
    const double known = pr.known_j ? pr.known_j(*p, excluded) : 0;
    if (!std::all_of(f.begin(), f.end(), [](double v) { return std::isfinite(v); }) || !std::isfinite(known)) continue;
    d.X.push_back(f);
    d.e.push_back(p->energy_j);
    d.known.push_back(known);
    d.y.push_back(pr.relative ? p->energy_j - known : std::log10(p->energy_j));
    d.w.push_back(pr.relative ? 1 / (p->energy_j * p->energy_j) : 1.0);
    d.fam.push_back(family_index(*p));
    d.used.push_back(p);
    d.borrowed |= !p->kernels_counted_on.empty() && pr.needs != kNeedsCounts;
    if (const auto* cost = ieee_cost_without(*p, excluded); cost && pr.needs == kNeedsPrecisionCost) {
      d.measured_from.insert(cost->from);
    }
  }
  return d;
}

// The rows of `d` of every family but `family`.
Design rows_without(const Design& d, int family) {
  Design out;
  out.borrowed = d.borrowed;
  out.excluded = and_family(d.excluded, family);
  for (std::size_t i = 0; i < d.X.size(); ++i) {
    if (d.fam[i] == family) continue;
    out.X.push_back(d.X[i]), out.y.push_back(d.y[i]), out.w.push_back(d.w[i]), out.e.push_back(d.e[i]);
    out.known.push_back(d.known[i]);
    out.fam.push_back(d.fam[i]), out.used.push_back(d.used[i]);
  }
  return out;
}

// Predictions of the fitted target for the rows of `d` back in joules, with the known term.
std::vector<double> in_joules(const Predictor& pr, const Design& d, std::vector<double> v) {
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = pr.relative ? v[i] + d.known[i] : std::pow(10.0, v[i]);
  return v;
}

// The rows of family `held` predicted by a fit on the rows of the other families, in joules (NaN for the
// rest). A known term is priced again without the held-out family (nor those `d` left out before), so no
// cost measured on the family predicted enters its prediction; a row it then cannot price stays NaN.
std::vector<double> predict_family(const Predictor& pr, const Design& d, int held) {
  const Design fold = pr.known_j ? design_of(pr, d.used, and_family(d.excluded, held)) : d;
  std::vector<int> group(fold.fam.size());
  for (std::size_t i = 0; i < group.size(); ++i) group[i] = fold.fam[i] == held;
  const auto predicted = in_joules(pr, fold, predict_held_out(fold.X, fold.y, group, fold.w));
  std::map<const Point*, double> of_point;
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (group[i]) of_point[fold.used[i]] = predicted[i];
  }
  std::vector<double> out(d.used.size(), NAN);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (const auto it = of_point.find(d.used[i]); it != of_point.end()) out[i] = it->second;
  }
  return out;
}

// Each row predicted by a fit on the other families (leave one family out), as the fitted target (log10
// energy, or joules less `d`'s known term).
std::vector<double> held_out_target(const Predictor& pr, const Design& d) {
  if (!pr.known_j) return predict_held_out(d.X, d.y, d.fam, d.w);
  std::vector<double> out(d.y.size(), NAN);
  for (int held : std::set<int>(d.fam.begin(), d.fam.end())) {
    const auto predicted = predict_family(pr, d, held);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (d.fam[i] == held) out[i] = predicted[i] - d.known[i];  // relative: target = joules - known
    }
  }
  return out;
}

// The same, in joules.
std::vector<double> held_out_families(const Predictor& pr, const Design& d) {
  return in_joules(pr, d, held_out_target(pr, d));
}

// Enough rows to fit the predictor's features and validate it: three more than its coefficients.
bool enough_rows(const Design& d) { return d.X.size() >= (d.X.empty() ? 1 : d.X[0].size()) + 3; }

// Enough rows, from at least two families (leave one family out needs one to fit on).
bool fittable(const Design& d) {
  const std::set<int> fams(d.fam.begin(), d.fam.end());
  return fams.size() >= 2 && enough_rows(d);
}

// How the IEEE float32 cost is priced when each family is held out, where that is not the cost the note
// names: another family's configuration's, or none (the family is then not predicted).
std::string held_out_pricing(const Design& d) {
  if (d.used.empty()) return "";
  const Point& any = *d.used.front();  // every point of one phase and die has the same costs
  const auto* usual = ieee_cost_without(any, d.excluded);
  std::string out;
  for (int f : std::set<int>(d.fam.begin(), d.fam.end())) {
    const auto* cost = ieee_cost_without(any, and_family(d.excluded, f));
    if (cost == usual) continue;
    out += "; held-out " + kFamilies[static_cast<std::size_t>(f)] + (cost ? " priced at " + cost->from
                                          : " not predicted: only its own configurations ran at both precisions");
  }
  return out;
}

// The median APE with its bootstrap interval.
std::pair<double, Interval> median_with_ci(const std::vector<double>& ape) {
  const auto ci = ape.size() >= 2 ? bootstrap_ci(static_cast<int>(ape.size()), [&](const std::vector<int>& idx) {
    std::vector<double> v;
    for (int k : idx) v.push_back(ape[k]);
    return median(v);
  }) : Interval{NAN, NAN};
  return {median(ape), ci};
}

// The median APE of each family's held-out predictions ("MLP 29 %; CNN 9 %"; null when none), where a
// family's error hides in the median over all.
json by_family_text(const std::vector<double>& measured, const std::vector<double>& predicted,
                    const std::vector<int>& family) {
  std::vector<std::string> parts;
  for (std::size_t f = 0; f < kFamilies.size(); ++f) {
    std::vector<double> m, p;
    for (std::size_t i = 0; i < family.size(); ++i) {
      if (family[i] == static_cast<int>(f)) m.push_back(measured[i]), p.push_back(predicted[i]);
    }
    const auto ape = ape_pct(m, p);
    if (!ape.empty()) parts.push_back(kFamilies[f] + " " + fmt(median(ape), "%.0f") + " %");
  }
  return parts.empty() ? json(nullptr) : json(join(parts, "; "));
}

// One predictor over the points of one GPU and phase: its table row; `used` and `lofo_j` get the points it
// could use and their held-out predictions.
std::vector<json> predictor_row(const Predictor& pr, const std::vector<const Point*>& pts, const std::string& gpu,
                                const std::string& phase, std::vector<const Point*>& used, std::vector<double>& lofo_j) {
  const Design d = design_of(pr, pts);
  used = d.used;
  const int n = static_cast<int>(d.y.size());
  const std::set<int> fams(d.fam.begin(), d.fam.end());
  std::vector<json> row = {gpu, phase, pr.name, pr.needs, n};
  if (!enough_rows(d)) {
    row.insert(row.end(), {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr});
    row.push_back(n > 0 ? "too few configurations to fit and validate"
                  : pr.needs == kNeedsPrecisionCost ? "no microbenchmark, and no configuration ran at fp32 and at tf32, on a GPU with this one's compute die"
                                                     : "not recorded for these runs");
    return row;
  }
  const auto fit = least_squares_of_varying(d.X, d.y, d.w);
  const auto lofo = fams.size() >= 2 ? held_out_target(pr, d) : std::vector<double>(n, NAN);
  lofo_j = in_joules(pr, d, lofo);
  const auto kf = in_joules(pr, d, predict_held_out(d.X, d.y, kfold_groups(n, std::min(5, n), 11), d.w));
  std::vector<double> in_sample(n);
  for (int i = 0; i < n; ++i) in_sample[i] = fit.ok ? fit.predict(d.X[i]) + d.known[i] : NAN;
  const auto [med, ci] = median_with_ci(ape_pct(d.e, lofo_j));
  std::string note = fams.size() < 2 ? "one family only: no leave-one-family-out" : "";
  if (d.borrowed) note += std::string(note.empty() ? "" : "; ") + "kernels per step counted on another GPU's runs of the same variants";
  if (!d.measured_from.empty()) {
    note += std::string(note.empty() ? "" : "; ") + "an IEEE float32 FLOP costs " +
            join(std::vector<std::string>(d.measured_from.begin(), d.measured_from.end()), ", ") + " beyond a TF32 one" +
            held_out_pricing(d);
  }
  row.insert(row.end(), {num(pr.relative ? r_squared(d.e, in_sample) : fit.r2), num(med), num(ci.lo), num(ci.hi),
                         num(mape_pct(d.e, lofo_j)), num(r_squared(d.y, lofo)), num(mape_pct(d.e, kf)),
                         num(median(ape_pct(d.e, kf)))});
  row.push_back(by_family_text(d.e, lofo_j, d.fam));  // null with one family: nothing was held out
  row.push_back(note);
  return row;
}

// The choice of predictor validated as well: for each family in turn, of the predictors that need no run
// and can use every point, the one with the lowest leave-one-family-out median error over the other
// families is fitted on them and predicts that family. Its errors are out of sample twice over: neither
// the fit nor the choice saw the family predicted.
struct Selection {
  std::vector<double> measured, predicted;
  std::vector<int> family;
  std::vector<const Point*> points;
  std::vector<std::string> chosen;  // "family: predictor"
};

Selection select_out_of_sample(const std::vector<const Point*>& pts) {
  std::vector<std::pair<const Predictor*, Design>> candidates;
  for (const auto& pr : predictors()) {
    if (pr.needs == kNeedsARun) continue;
    Design d = design_of(pr, pts);
    if (d.used.size() == pts.size()) candidates.emplace_back(&pr, std::move(d));
  }
  Selection s;
  if (candidates.empty()) return s;
  const std::set<int> fams(candidates[0].second.fam.begin(), candidates[0].second.fam.end());  // each covers every point
  for (int held : fams) {
    double best = INFINITY;
    const std::pair<const Predictor*, Design>* pick = nullptr;
    for (const auto& c : candidates) {
      const Design others = rows_without(c.second, held);
      if (!fittable(others)) continue;
      const double m = median(ape_pct(others.e, held_out_families(*c.first, others)));
      if (m < best) best = m, pick = &c;
    }
    if (!pick) continue;
    const Design& all = pick->second;
    const auto predicted = predict_family(*pick->first, all, held);
    for (std::size_t i = 0; i < all.fam.size(); ++i) {
      if (all.fam[i] != held) continue;
      s.measured.push_back(all.e[i]), s.predicted.push_back(predicted[i]), s.family.push_back(held);
      s.points.push_back(all.used[i]);
    }
    s.chosen.push_back(kFamilies[static_cast<std::size_t>(held)] + ": " + pick->first->name);
  }
  return s;
}

// A predictor's leave-one-family-out errors as a finding quotes them.
struct Errors {
  double median = NAN, mean = NAN;
  Interval ci{NAN, NAN};
  std::string by_family;
  std::string text() const {
    return fmt(median, "%.0f") + " %" + interval_text(ci, "%.0f") + " (mean " + fmt(mean, "%.0f") + " %" +
           (by_family.empty() ? "" : "; by held-out family: " + by_family) + ")";
  }
};

Errors errors_of(const std::vector<double>& measured, const std::vector<double>& predicted, const std::vector<int>& family) {
  const auto [med, ci] = median_with_ci(ape_pct(measured, predicted));
  const json by = by_family_text(measured, predicted, family);
  return {med, mape_pct(measured, predicted), ci, by.is_string() ? by.get<std::string>() : ""};
}

// The same errors as predictor_row wrote them into its row (its bootstrap not run again).
Errors errors_in_row(const Table& t, const std::vector<json>& row) {
  auto number = [&](const char* column) {
    const json& v = at(t, row, column);
    return v.is_number() ? v.get<double>() : NAN;
  };
  const json& by = at(t, row, "median_ape_lofo_by_family");
  return {number("median_ape_lofo_pct"), number("mape_lofo_pct"),
          {number("median_ape_ci_lo"), number("median_ape_ci_hi")}, by.is_string() ? by.get<std::string>() : ""};
}

// The predictions of one predictor over one GPU's points of one phase, for the measured-vs-predicted chart.
json prediction_points(const std::vector<const Point*>& points, const std::vector<double>& predicted,
                       const std::string& gpu, const std::string& phase) {
  json out = json::array();
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(predicted[i])) continue;
    out.push_back({{"config", points[i]->variant}, {"family", points[i]->family}, {"phase", phase}, {"gpu", gpu},
                   {"measured_j", points[i]->energy_j}, {"predicted_j", predicted[i]}});
  }
  return out;
}

// The row of the predictor chosen out of sample (select_out_of_sample); its errors (median NaN when no family
// could be predicted so).
constexpr const char* kChosenOnOtherFamilies = "the best, chosen on the other families (nested leave-one-family-out)";

Errors add_selection_row(Table& t, const Selection& s, const std::string& gpu, const std::string& phase) {
  const auto n = ape_pct(s.measured, s.predicted).size();
  if (n == 0) return {};
  const Errors e = errors_of(s.measured, s.predicted, s.family);
  t.rows.push_back({gpu, phase, kChosenOnOtherFamilies, "what the chosen predictor needs", static_cast<int>(n), nullptr,
                    num(e.median), num(e.ci.lo), num(e.ci.hi), num(e.mean), nullptr, nullptr, nullptr,
                    e.by_family.empty() ? json(nullptr) : json(e.by_family), "chosen per held-out family: " + join(s.chosen, "; ")});
  return e;
}

// Every predictor over one GPU's points of one phase, and the one chosen without each held-out family (nested
// leave-one-family-out), whose errors head the finding and whose predictions the chart shows. The single
// predictor with the lowest error, picked after seeing every family's, is quoted after it as the optimistic
// figure it is.
void add_predictor_rows(Analysis& a, Table& t, const std::vector<const Point*>& pts, const std::string& gpu,
                        const std::string& phase) {
  Errors best, flops;
  std::string best_name;
  json best_points;
  for (const auto& pr : predictors()) {
    std::vector<const Point*> used;
    std::vector<double> lofo;
    auto row = predictor_row(pr, pts, gpu, phase, used, lofo);
    t.rows.push_back(row);
    if (at(t, row, "median_ape_lofo_pct").is_null()) continue;
    const Errors e = errors_in_row(t, row);
    if (pr.name == "FLOPs") flops = e;
    if (pr.needs == kNeedsARun || !(e.median < (best_name.empty() ? INFINITY : best.median))) continue;
    best = e, best_name = pr.name, best_points = prediction_points(used, lofo, gpu, phase);
  }
  if (best_name.empty()) return;
  const Selection s = select_out_of_sample(pts);
  const Errors nested = add_selection_row(t, s, gpu, phase);
  const std::string chosen = "chosen per held-out family: " + join(s.chosen, "; ");
  auto& chart = a.predictions[phase];
  if (!chart.is_object()) chart = {{"predictor", std::isfinite(nested.median) ? chosen : best_name}, {"points", json::array()}};
  std::string finding = "Predictor (" + phase + ", " + gpu + "): ";
  if (std::isfinite(nested.median)) {
    for (const auto& pt : prediction_points(s.points, s.predicted, gpu, phase)) chart["points"].push_back(pt);
    finding += "chosen without the held-out family (nested leave-one-family-out: neither the fit nor the choice "
               "sees the family predicted), the median error is " + nested.text() + ", against " + flops.text() +
               " for FLOPs alone (" + chosen + "). ";
  } else {
    for (const auto& pt : best_points) chart["points"].push_back(pt);
    finding += "too few configurations to choose a predictor without the held-out family. ";
  }
  a.findings.push_back(finding + "The lowest single predictor's error, picked after seeing every family's (so "
                       "optimistic): " + best_name + ", " + best.text() + ".");
}

}  // namespace

void add_predictors(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"predictors", "Predicting energy per epoch, validated out of sample",
          "per GPU: least squares on log10 energy, or on joules weighted by 1/energy^2 (linear predictors: each "
          "term a cost in joules, relative errors; a term the fitted rows never have, such as recurrent steps "
          "when the CRNNs are held out, is priced at zero); leave-one-family-out (LOFO: fitted on three families, "
          "predicting the fourth) and 5-fold cross-validation; absolute percentage error (APE) of the energy in "
          "joules, median with a 95 % bootstrap interval over configurations, and mean; R2 in sample (on what "
          "was fitted) and LOFO; the LOFO median APE of each held-out family. 'needs': what must be known before "
          "the model runs",
          {"gpu", "phase", "predictor", "needs", "n", "r2_in_sample", "median_ape_lofo_pct", "median_ape_ci_lo",
           "median_ape_ci_hi", "mape_lofo_pct", "r2_lofo", "mape_kfold_pct", "median_ape_kfold_pct",
           "median_ape_lofo_by_family", "note"},
          {}};
  std::set<std::string> gpus;
  for (const auto& p : a.points) gpus.insert(p.gpu);
  for (const auto& gpu : gpus) {
    for (const auto& phase : phases) {
      std::vector<const Point*> pts;
      for (const Point* p : select(a, phase, "")) {
        if (p->gpu == gpu) pts.push_back(p);
      }
      add_predictor_rows(a, t, pts, gpu, phase);
    }
  }
  a.tables.push_back(t);
}

}  // namespace sedenergy::analysis
