// Which findings hold on every GPU and under every idle baseline: the analysis asked again of each GPU's
// runs and under each baseline, its headline quantities side by side with a verdict from their intervals.
#include "analysis/questions.hpp"

#include <algorithm>
#include <functional>

#include "analysis/stats.hpp"
#include "analysis/cross_checks.hpp"
#include "common/text.hpp"

namespace sedenergy::analysis {

namespace {
// A headline quantity of one analysis: a number with its interval and the value that means "no difference",
// or a name (the first of a ranking). What the cross-checks compare between analyses.
struct Quantity {
  std::string name;
  double none = NAN;  // NaN: a name (in text), not a number
  double v = NAN, lo = NAN, hi = NAN;
  std::string text;
  Contrast contrast = Contrast::difference;  // how two analyses' values are set against each other
  const Draws* draws = nullptr;              // the bootstrap behind the interval (null: none kept)
};

using RowName = std::function<std::string(const Table&, const std::vector<json>&)>;  // "": not a headline row

// The rows of table `id` with a number and its interval, named by `name` ("": not a headline row). A ratio's
// no-difference is 1 and two analyses' ratios are contrasted by their ratio; anything else by its difference.
void numbers(const Analysis& sub, const std::string& id, const RowName& name, double none, const IntervalColumns& c,
             std::vector<Quantity>& out, Contrast contrast = Contrast::difference) {
  const Table* t = table(sub, id);
  if (!t) return;
  const std::string &v = c.v, &lo = c.lo, &hi = c.hi;
  for (std::size_t i = 0; i < t->rows.size(); ++i) {
    const auto& row = t->rows[i];
    const std::string n = name(*t, row);
    if (n.empty() || !at(*t, row, v).is_number() || !at(*t, row, lo).is_number() || !at(*t, row, hi).is_number()) continue;
    out.push_back({n, none, at(*t, row, v).get<double>(), at(*t, row, lo).get<double>(), at(*t, row, hi).get<double>(), "",
                   contrast, draws_of(sub, id, i, v)});
  }
}

// The first configuration of a ranking: per phase, the dearest and the cheapest per FLOP; the cheapest to
// reach the learning target.
void rankings(const Analysis& sub, std::vector<Quantity>& out) {
  if (const Table* t = table(sub, "per_flop")) {
    std::map<std::string, std::pair<std::string, std::string>> ends;  // phase -> dearest, cheapest
    for (const auto& row : t->rows) {
      auto& e = ends[cell_text(*t, row, "phase") + gpu_of(*t, row)];
      if (at(*t, row, "rank") == 1) e.first = cell_text(*t, row, "config");
      e.second = cell_text(*t, row, "config");  // ranked from the dearest: the last row is the cheapest
    }
    for (const auto& [phase, e] : ends) {
      out.push_back({"dearest configuration per FLOP (" + phase + ")", NAN, NAN, NAN, NAN, e.first});
      out.push_back({"cheapest configuration per FLOP (" + phase + ")", NAN, NAN, NAN, NAN, e.second});
    }
  }
  if (const Table* t = table(sub, "energy_to_target")) {
    double least = INFINITY;
    std::string cheapest;
    for (const auto& row : t->rows) {
      const json& e = at(*t, row, "energy_j_median");
      if (e.is_number() && e.get<double>() < least) least = e.get<double>(), cheapest = cell_text(*t, row, "config");
    }
    if (!cheapest.empty()) out.push_back({"cheapest configuration to reach the target validation mAP", NAN, NAN, NAN, NAN, cheapest});
  }
}

// The headline quantities of an analysis. The power gap reads no energy: it only goes in comparisons
// between GPUs (`with_power`), where it can differ.
std::vector<Quantity> headline_quantities(const Analysis& sub, bool with_power) {
  std::vector<Quantity> out;
  const char* where_of[] = {"low end", "middle", "high end"};
  for (int k = 0; k < 3; ++k) {
    const std::string where = where_of[k];
    numbers(sub, "two_trends", [&](const Table& t, const std::vector<json>& row) {
      return "MLP/RNN over CNN/CRNN energy at equal FLOPs, " + where + " of the shared range (" + cell_text(t, row, "phase") +
             gpu_of(t, row) + ")";
    }, 1, with_ci(trend_ratio_column(kTrendPositions[k])), out, Contrast::ratio);
  }
  numbers(sub, "slopes", [](const Table& t, const std::vector<json>& row) {
    return "log-log slope of energy on FLOPs, " + cell_text(t, row, "family") + " (" + cell_text(t, row, "phase") +
           (distinct(t, "frames") > 1 ? ", " + cell_text(t, row, "frames") + " frames" : "") + gpu_of(t, row) + ")";
  }, 1, with_ci("slope"), out);
  numbers(sub, "correlations", [](const Table& t, const std::vector<json>& row) -> std::string {
    if (cell_text(t, row, "variable") != "GPU utilization %" || cell_text(t, row, "group") != "all") return "";
    return "Spearman of GPU utilization and energy (" + cell_text(t, row, "phase") + gpu_of(t, row) + ")";
  }, 0, with_ci("spearman"), out);
  numbers(sub, "software_choices", [&](const Table& t, const std::vector<json>& row) -> std::string {
    if (cell_text(t, row, "impl") == sub.reference_impl) return "";
    return "energy of " + cell_text(t, row, "impl") + " over " + sub.reference_impl + ", " + cell_text(t, row, "config") +
           " (" + cell_text(t, row, "phase") + gpu_of(t, row) + ")";
  }, 1, {"ratio_to_reference", "ratio_ci_lo", "ratio_ci_hi"}, out, Contrast::ratio);
  if (with_power) {
    numbers(sub, "power_gap", [](const Table& t, const std::vector<json>& row) {
      return "training minus testing power, W (" + cell_text(t, row, "family") + gpu_of(t, row) + ")";
    }, 0, {"gap_w", "gap_ci_lo_w", "gap_ci_hi_w"}, out);
  }
  rankings(sub, out);
  return out;
}

// What one cross-check compares: the analyses' column, the question its finding answers, and whether the
// analyses resampled the same units (one set of runs under several idle baselines: a contrast pairs their
// bootstrap draws) or independent ones (each GPU's own runs).
struct CrossCheck {
  std::string id, title, column, question;
  bool paired = false;
};

// The three verdicts, and only these: what the intervals show of a quantity across the analyses.
constexpr const char* kHolds = "holds";                     // every interval on one side of no difference
constexpr const char* kDiffers = "differs";                 // else, a contrast's interval excludes none
constexpr const char* kNotEstablished = "not established";  // neither
constexpr const char* kVerdictRule =
    "verdict: 'holds' when every interval lies on the same side of no difference (1 for a ratio or a slope, 0 for "
    "a gap or a correlation: the finding holds in every analysis), or a ranking names the same configuration in "
    "every one; else 'differs' when the 95 % bootstrap interval of some analysis's contrast with the first (its "
    "ratio to the first's for a ratio, its difference otherwise: columns contrast_*) excludes no contrast; else "
    "'not established' (so is a ranking that names different configurations: it carries no interval to say "
    "they differ). A contrast pairs the two analyses' bootstrap draws where they resampled the same runs (idle "
    "baselines) and pairs them at random where the runs are independent (GPUs)";

// One analysis's quantity against the first analysis's: the contrast and its bootstrap interval.
struct Against {
  double v = NAN;
  Interval ci;
};

std::vector<Against> against_first(const std::vector<Quantity>& values, bool paired) {
  std::vector<Against> out(values.size());
  const Quantity& first = values.front();
  for (std::size_t k = 1; k < values.size() && !std::isnan(first.none); ++k) {
    out[k].v = contrast_of(values[k].v, first.v, first.contrast);
    if (values[k].draws && first.draws) out[k].ci = contrast_interval(*values[k].draws, *first.draws, first.contrast, paired);
  }
  return out;
}

std::string verdict_of(const std::vector<Quantity>& values, const std::vector<Against>& contrasts) {
  if (std::isnan(values.front().none)) {
    const bool same = std::all_of(values.begin(), values.end(), [&](const Quantity& q) { return q.text == values.front().text; });
    return same ? kHolds : kNotEstablished;
  }
  std::size_t above = 0, below = 0;
  for (const auto& q : values) above += q.lo > q.none, below += q.hi < q.none;
  if (above == values.size() || below == values.size()) return kHolds;
  const double no_contrast = values.front().contrast == Contrast::ratio ? 1 : 0;
  const bool differs = std::any_of(contrasts.begin(), contrasts.end(), [&](const Against& c) {
    return c.ci.lo > no_contrast || c.ci.hi < no_contrast;  // false for NaN: no interval
  });
  return differs ? kDiffers : kNotEstablished;
}

// The cross-check's finding: how many quantities hold, differ or are not established, and those that differ
// with their values.
void add_cross_check_finding(Analysis& a, const CrossCheck& c, std::map<std::string, int> count,
                             const std::vector<std::string>& differing) {
  const int n = count[kHolds] + count[kDiffers] + count[kNotEstablished];
  std::string f = c.question + " Of " + std::to_string(n) + " headline quantities: " + kHolds + " " +
                  std::to_string(count[kHolds]) + ", " + kDiffers + " " + std::to_string(count[kDiffers]) + ", " +
                  kNotEstablished + " " + std::to_string(count[kNotEstablished]);
  const std::size_t shown = std::min<std::size_t>(differing.size(), 6);
  if (shown) {
    f += "; differ: " + join(std::vector<std::string>(differing.begin(), differing.begin() + static_cast<long>(shown)), " | ");
  }
  if (differing.size() > shown) f += " | and " + std::to_string(differing.size() - shown) + " more";
  a.findings.push_back(f + " (" + c.id + " table).");
}

// What a contrast with the first analysis is, in words: "ratio to H100", "minus H100".
std::string contrast_name(const Quantity& q, const std::string& first) {
  return (q.contrast == Contrast::ratio ? "ratio to " : "minus ") + first;
}

// The rows of one quantity in the cross-check's table, and its part of the finding where it differs.
void add_quantity_rows(Table& t, const std::string& name, const std::vector<std::pair<std::string, Quantity>>& list,
                       const std::vector<Against>& contrasts, const std::string& verdict, std::vector<std::string>& differing) {
  std::vector<std::string> parts;
  for (std::size_t k = 0; k < list.size(); ++k) {
    const auto& [label, q] = list[k];
    const bool named = std::isnan(q.none), contrasted = k > 0 && !named;
    t.rows.push_back({name, label, named ? json(q.text) : num(q.v), named ? json(nullptr) : num(q.lo),
                      named ? json(nullptr) : num(q.hi), contrasted ? json(contrast_name(q, list.front().first)) : json(nullptr),
                      num(contrasts[k].v), num(contrasts[k].ci.lo), num(contrasts[k].ci.hi), verdict});
    parts.push_back(label + " " + (named ? q.text : fmt(q.v) + interval_text({q.lo, q.hi}, "%.3g")));
    if (contrasted) parts.back() += " (" + contrast_name(q, list.front().first) + " " + fmt(contrasts[k].v) +
                                    interval_text(contrasts[k].ci, "%.3g") + ")";
  }
  if (verdict == kDiffers) differing.push_back(name + ": " + join(parts, "; "));
}

// The headline quantities of each analysis side by side, with whether they hold in every one.
void add_cross_check(Analysis& a, const CrossCheck& c, const std::vector<std::pair<std::string, const Analysis*>>& subs,
                     bool with_power) {
  std::map<std::string, std::vector<std::pair<std::string, Quantity>>> by_name;  // quantity -> (analysis, value)
  std::vector<std::string> order;  // the quantities in the order the analyses give them
  for (const auto& [label, sub] : subs) {
    for (auto& q : headline_quantities(*sub, with_power)) {
      if (!by_name.count(q.name)) order.push_back(q.name);
      by_name[q.name].emplace_back(label, std::move(q));
    }
  }
  Table t{c.id, c.title, std::string("each analysis's own numbers; ") + kVerdictRule,
          {"quantity", c.column, "value", "ci_lo", "ci_hi", "contrast", "contrast_value", "contrast_ci_lo", "contrast_ci_hi", "verdict"},
          {}};
  std::map<std::string, int> count;
  std::vector<std::string> differing;
  for (const auto& name : order) {
    const auto& list = by_name[name];
    if (list.size() < subs.size()) continue;  // not computable in every analysis
    std::vector<Quantity> values;
    for (const auto& [label, q] : list) values.push_back(q);
    const auto contrasts = against_first(values, c.paired);
    const std::string verdict = verdict_of(values, contrasts);
    ++count[verdict];
    add_quantity_rows(t, name, list, contrasts, verdict, differing);
  }
  if (t.rows.empty()) return;
  a.tables.push_back(t);
  add_cross_check_finding(a, c, count, differing);
}

// Which findings hold on every GPU: each GPU's own analysis, side by side.
void add_findings_by_gpu(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options) {
  std::map<std::string, std::vector<store::RunPhaseRow>> by_gpu;
  for (const auto& r : rows) by_gpu[device_of(r)].push_back(r);
  if (by_gpu.size() < 2) return;
  std::vector<Analysis> subs;
  std::vector<std::pair<std::string, const Analysis*>> labelled;
  subs.reserve(by_gpu.size());
  for (const auto& [gpu, sub_rows] : by_gpu) labelled.emplace_back(gpu, &subs.emplace_back(analyze(sub_rows, options)));
  add_cross_check(a, {"by_gpu", "Findings on each GPU, and whether they hold on every one", "gpu", "On every GPU?", false},
                  labelled, true);
  std::set<std::string> gpus;
  for (const auto& [gpu, sub_rows] : by_gpu) gpus.insert(gpu);
  if (const auto caveat = code_versions_caveat(a, gpus); !caveat.empty()) a.findings.push_back("On every GPU?" + caveat);
}

// Which findings hold whatever idle baseline is taken off the GPU energy: the analysis under each baseline
// every run has (none always; the session's idle with a CUDA context; before it, from schema 9).
void add_findings_by_baseline(Analysis& a, const std::vector<store::RunPhaseRow>& rows, AnalysisOptions options) {
  if (a.estimated) return;
  std::vector<Analysis> subs;
  std::vector<std::pair<std::string, const Analysis*>> labelled;
  subs.reserve(baseline_choices().size());
  for (const auto& b : baseline_choices()) {
    if (b.baseline == a.baseline) {
      labelled.emplace_back(b.name, &a);
      continue;
    }
    options.baseline = b.baseline;
    const Analysis& sub = subs.emplace_back(analyze(rows, options));
    if (sub.baseline == b.baseline) labelled.emplace_back(b.name, &sub);  // else the runs have no such baseline
  }
  if (labelled.size() < 2) return;
  add_cross_check(a, {"by_baseline", "Findings under each idle baseline, and whether they hold under every one",
                      "baseline", "Under every idle baseline?", true},
                  labelled, false);
}

}  // namespace

void add_cross_checks(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options) {
  add_findings_by_gpu(a, rows, options);
  add_findings_by_baseline(a, rows, options);
}

}  // namespace sedenergy::analysis
