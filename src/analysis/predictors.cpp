// Predicting energy per epoch before the model runs: each predictor fitted per GPU and validated leaving
// one family out, and the choice of predictor validated the same way (nested).
#include "analysis/questions.hpp"

#include <algorithm>
#include <set>

#include "analysis/stats.hpp"
#include "common/text.hpp"

namespace sedenergy::analysis {

namespace {
// log10 of a positive quantity; NaN (left out of fits) otherwise.
double log10_or_nan(double v) { return v > 0 ? std::log10(v) : NAN; }

// What a predictor needs before the model runs: its 'needs' column, and what the analysis reads from it
// (which predictors a run-free choice may pick, which say the kernel counts were borrowed).
constexpr const char* kNeedsCounts = "counts";

constexpr const char* kNeedsKernels = "counts and kernels per step";

constexpr const char* kNeedsProbes = "counts, kernels per step and the session's hardware probes";

constexpr const char* kNeedsPrecisionCost = "counts, kernels per step and one configuration run at both precisions";

constexpr const char* kNeedsARun = "a run of the model";

// A predictor of energy per epoch: its features, what it needs, and how it is fitted.
struct Predictor {
  std::string name;
  std::string needs;  // what must be known before the model runs (or "a run of the model")
  bool relative;      // least squares on joules weighted by 1 / energy^2 (relative errors); else on log10 energy
  std::vector<double> (*features)(const Point&);
  // A term whose cost in joules is known, not fitted: taken off the energy before the fit and added to the
  // predictions (relative predictors only). nullptr: none. NaN: the point cannot be predicted.
  double (*known_j)(const Point&) = nullptr;
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
       kinds_of_work, [](const Point& p) { return ieee_matrix_flops(p) * p.ieee_extra_j; }},
      {"estimated time from measured rates", kNeedsProbes, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(estimated_time_s(p))}; }},
      {"FLOPs + GPU utilization", kNeedsARun, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(p.flops), p.gpu_util >= 0 ? p.gpu_util : NAN}; }},
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
  std::set<std::string> measured_from;  // where its IEEE float32 cost was measured (Point::ieee_extra_from)
};

Design design_of(const Predictor& pr, const std::vector<const Point*>& pts) {
  Design d;
  for (const Point* p : pts) {
    auto f = pr.features(*p);
    const double known = pr.known_j ? pr.known_j(*p) : 0;
    if (!std::all_of(f.begin(), f.end(), [](double v) { return std::isfinite(v); }) || !std::isfinite(known)) continue;
    d.X.push_back(f);
    d.e.push_back(p->energy_j);
    d.known.push_back(known);
    d.y.push_back(pr.relative ? p->energy_j - known : std::log10(p->energy_j));
    d.w.push_back(pr.relative ? 1 / (p->energy_j * p->energy_j) : 1.0);
    d.fam.push_back(static_cast<int>(std::find(kFamilies.begin(), kFamilies.end(), p->family) - kFamilies.begin()));
    d.used.push_back(p);
    d.borrowed |= !p->kernels_counted_on.empty() && pr.needs != kNeedsCounts;
    if (pr.needs == kNeedsPrecisionCost) d.measured_from.insert(p->ieee_extra_from);
  }
  return d;
}

// The rows of `d` of every family but `family`.
Design rows_without(const Design& d, int family) {
  Design out;
  out.borrowed = d.borrowed;
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

// Each row predicted by a fit on the other families (leave one family out), in joules.
std::vector<double> held_out_families(const Predictor& pr, const Design& d) {
  return in_joules(pr, d, predict_held_out(d.X, d.y, d.fam, d.w));
}

// Enough rows to fit the predictor's features and validate it: three more than its coefficients.
bool enough_rows(const Design& d) { return d.X.size() >= (d.X.empty() ? 1 : d.X[0].size()) + 3; }

// Enough rows, from at least two families (leave one family out needs one to fit on).
bool fittable(const Design& d) {
  const std::set<int> fams(d.fam.begin(), d.fam.end());
  return fams.size() >= 2 && enough_rows(d);
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
                  : pr.needs == kNeedsPrecisionCost ? "no configuration ran at fp32 and at tf32 on a GPU with this one's compute die"
                                                     : "not recorded for these runs");
    return row;
  }
  const auto fit = least_squares_of_varying(d.X, d.y, d.w);
  const auto lofo = fams.size() >= 2 ? predict_held_out(d.X, d.y, d.fam, d.w) : std::vector<double>(n, NAN);
  lofo_j = in_joules(pr, d, lofo);
  const auto kf = in_joules(pr, d, predict_held_out(d.X, d.y, kfold_groups(n, std::min(5, n), 11), d.w));
  std::vector<double> in_sample(n);
  for (int i = 0; i < n; ++i) in_sample[i] = fit.ok ? fit.predict(d.X[i]) + d.known[i] : NAN;
  const auto [med, ci] = median_with_ci(ape_pct(d.e, lofo_j));
  std::string note = fams.size() < 2 ? "one family only: no leave-one-family-out" : "";
  if (d.borrowed) note += std::string(note.empty() ? "" : "; ") + "kernels per step counted on another GPU's runs of the same variants";
  if (!d.measured_from.empty()) {
    note += std::string(note.empty() ? "" : "; ") + "an IEEE float32 FLOP costs " +
            join(std::vector<std::string>(d.measured_from.begin(), d.measured_from.end()), ", ") + " beyond a TF32 one";
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
    Design split = pick->second;  // two groups: the held-out family, and the others it is fitted on
    for (auto& f : split.fam) f = f == held;
    const auto predicted = held_out_families(*pick->first, split);
    for (std::size_t i = 0; i < split.fam.size(); ++i) {
      if (split.fam[i]) s.measured.push_back(split.e[i]), s.predicted.push_back(predicted[i]), s.family.push_back(held);
    }
    s.chosen.push_back(kFamilies[static_cast<std::size_t>(held)] + ": " + pick->first->name);
  }
  return s;
}

// The row of the predictor chosen out of sample (select_out_of_sample), and the sentence the predictor
// finding ends with ("" when no family could be predicted so).
constexpr const char* kChosenOnOtherFamilies = "the best, chosen on the other families (nested leave-one-family-out)";

std::string add_selection_row(Table& t, const std::vector<const Point*>& pts, const std::string& gpu,
                              const std::string& phase) {
  const Selection s = select_out_of_sample(pts);
  const auto ape = ape_pct(s.measured, s.predicted);
  if (ape.empty()) return "";
  const auto [med, ci] = median_with_ci(ape);
  t.rows.push_back({gpu, phase, kChosenOnOtherFamilies, "what the chosen predictor needs", static_cast<int>(ape.size()),
                    nullptr, num(med), num(ci.lo), num(ci.hi), num(mape_pct(s.measured, s.predicted)), nullptr, nullptr,
                    nullptr, by_family_text(s.measured, s.predicted, s.family),
                    "chosen per held-out family: " + join(s.chosen, "; ")});
  return " Choosing the predictor out of sample too (by its error on the other families, then predicting the "
         "held-out one): " + fmt(med, "%.0f") + " %" + interval_text(ci, "%.0f") + " (" + join(s.chosen, "; ") + ").";
}

// Every predictor over one GPU's points of one phase; the best that needs no run of the model (by LOFO
// median APE) gives the finding and the measured-vs-predicted chart.
void add_predictor_rows(Analysis& a, Table& t, const std::vector<const Point*>& pts, const std::string& gpu,
                        const std::string& phase) {
  double best_ape = INFINITY, flops_ape = NAN, flops_mean = NAN, best_mean = NAN;
  Interval best_ci{NAN, NAN};
  std::string best, best_by_family;
  json best_pred;
  for (const auto& pr : predictors()) {
    std::vector<const Point*> used;
    std::vector<double> lofo;
    auto row = predictor_row(pr, pts, gpu, phase, used, lofo);
    const json& med = at(t, row, "median_ape_lofo_pct");
    t.rows.push_back(row);
    if (med.is_null()) continue;
    if (pr.name == "FLOPs") flops_ape = med, flops_mean = at(t, row, "mape_lofo_pct");
    if (pr.needs == kNeedsARun || !(med.get<double>() < best_ape)) continue;
    best_ape = med;
    best_mean = at(t, row, "mape_lofo_pct");
    best_ci = {at(t, row, "median_ape_ci_lo").is_null() ? NAN : at(t, row, "median_ape_ci_lo").get<double>(),
               at(t, row, "median_ape_ci_hi").is_null() ? NAN : at(t, row, "median_ape_ci_hi").get<double>()};
    best = pr.name;
    const json& by_family = at(t, row, "median_ape_lofo_by_family");
    best_by_family = by_family.is_string() ? by_family.get<std::string>() : "";
    best_pred = json::array();
    for (std::size_t i = 0; i < used.size(); ++i) {
      if (!std::isfinite(lofo[i])) continue;
      best_pred.push_back({{"config", used[i]->variant}, {"family", used[i]->family}, {"phase", phase}, {"gpu", gpu},
                           {"measured_j", used[i]->energy_j}, {"predicted_j", lofo[i]}});
    }
  }
  if (best.empty()) return;
  auto& chart = a.predictions[phase];
  if (!chart.is_object()) chart = {{"predictor", best}, {"points", json::array()}};
  for (const auto& pt : best_pred) chart["points"].push_back(pt);
  a.findings.push_back("Predictor (" + phase + ", " + gpu + "): the best out of sample of those that need no run of "
                       "the model is " + best + ", with a leave-one-family-out median error of " + fmt(best_ape, "%.0f") +
                       " %" + interval_text(best_ci, "%.0f") + " (mean " + fmt(best_mean, "%.0f") + " %" +
                       (best_by_family.empty() ? "" : "; by held-out family: " + best_by_family) + "), against " +
                       fmt(flops_ape, "%.0f") + " % (mean " + fmt(flops_mean, "%.0f") + " %) for FLOPs alone." +
                       add_selection_row(t, pts, gpu, phase));
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
