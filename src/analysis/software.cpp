// Software choices: one model's energy under each implementation against the reference implementation's,
// and how far that moves the energy next to the choice of model family.
#include "analysis/questions.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <optional>

#include "analysis/stats.hpp"
#include "common/absent.hpp"
#include "common/text.hpp"

namespace sedenergy::analysis {

namespace {
// The energy ratio of two sets of repetitions (mean over mean), with a 95 % bootstrap interval.
struct Ratio {
  double value = NAN;
  Interval ci;
  Draws draws;
};

Ratio mean_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  auto mean_of = [](const std::vector<double>& v, const std::vector<int>& idx) {
    double s = 0;
    for (int i : idx) s += v[i];
    return idx.empty() ? NAN : s / static_cast<double>(idx.size());
  };
  std::vector<int> ia(a.size()), ib(b.size());
  for (std::size_t i = 0; i < ia.size(); ++i) ia[i] = static_cast<int>(i);
  for (std::size_t i = 0; i < ib.size(); ++i) ib[i] = static_cast<int>(i);
  Ratio r;
  r.value = mean_of(a, ia) / mean_of(b, ib);
  std::vector<Draws> draws;
  r.ci = bootstrap_two_samples(static_cast<int>(a.size()), static_cast<int>(b.size()), 1,
                               [&](const std::vector<int>& ja, const std::vector<int>& jb) {
                                 return std::vector<double>{mean_of(a, ja) / mean_of(b, jb)};
                               }, 1000, 7, &draws)[0];
  r.draws = std::move(draws[0]);
  return r;
}

// One phase's software choices: per configuration the implementation with the least energy (the reference
// itself, at ratio 1, included), and per other implementation the configurations where its interval lies
// below 1 and above 1.
struct SoftwareTally {
  std::map<std::string, std::pair<double, std::string>> lowest;  // config -> ratio, implementation
  std::map<std::string, std::array<int, 3>> sides;               // impl -> below 1, above 1, configurations
};

SoftwareTally tally_software(const Analysis& a, const Table& t, const std::string& phase) {
  SoftwareTally s;
  for (const auto& row : t.rows) {
    const json& r = at(t, row, "ratio_to_reference");
    if (at(t, row, "phase") != phase || !r.is_number()) continue;
    const std::string impl = at(t, row, "impl").get<std::string>();
    auto& low = s.lowest.try_emplace(at(t, row, "config").get<std::string>(), 1.0, a.reference_impl).first->second;
    if (r.get<double>() < low.first) low = {r.get<double>(), impl};
    if (impl == a.reference_impl) continue;
    auto& side = s.sides[impl];
    side[0] += at(t, row, "ratio_ci_hi").is_number() && at(t, row, "ratio_ci_hi").get<double>() < 1;
    side[1] += at(t, row, "ratio_ci_lo").is_number() && at(t, row, "ratio_ci_lo").get<double>() > 1;
    ++side[2];
  }
  return s;
}

// A factor of energy between two choices (>= 1, either way round) with its 95 % interval and bootstrap draws, from
// a ratio; none when the ratio's interval includes 1 (the factor is not established).
struct Factor {
  double v = NAN, lo = NAN, hi = NAN;
  Draws draws;  // empty: none kept
};
std::optional<Factor> established_factor(const json& r, const json& lo, const json& hi, const Draws* draws) {
  if (!r.is_number() || !lo.is_number() || !hi.is_number()) return std::nullopt;
  const double v = r.get<double>(), l = lo.get<double>(), h = hi.get<double>();
  if (l <= 1 && h >= 1) return std::nullopt;
  Factor f = l > 1 ? Factor{v, l, h, {}} : Factor{1 / v, 1 / h, 1 / l, {}};
  if (draws) {
    for (double d : *draws) f.draws.push_back(l > 1 ? d : 1 / d);
  }
  return f;
}

// The largest established factor of rows of table `id` for one phase, or none; `columns` name its ratios.
std::optional<Factor> largest_factor(const Analysis& a, const std::string& id, const std::string& phase,
                                     const std::vector<IntervalColumns>& columns,
                                     const std::function<bool(const std::vector<json>&)>& use) {
  const Table& t = *table(a, id);
  std::optional<Factor> best;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const auto& row = t.rows[i];
    if (at(t, row, "phase") != phase || !use(row)) continue;
    for (const auto& [v, lo, hi] : columns) {
      auto f = established_factor(at(t, row, v), at(t, row, lo), at(t, row, hi), draws_of(a, id, i, v));
      if (f && (!best || f->v > best->v)) best = std::move(f);
    }
  }
  return best;
}

// The software choice against the family choice, each the largest factor its intervals establish, judged on the
// bootstrap interval of their ratio (the two resampled independently), as the cross-checks judge a contrast.
std::string software_against_family(const Analysis& a, const std::string& phase, const std::string& gpu) {
  const Table &software = *table(a, "software_choices"), &trends = *table(a, "two_trends");
  const std::string& reference = a.reference_impl;
  auto here = [&](const Table& t, const std::vector<json>& row) { return gpu.empty() || cell_text(t, row, "gpu") == gpu; };
  auto other_impl_here = [&](const std::vector<json>& row) {
    return at(software, row, "impl") != reference && here(software, row);
  };
  if (std::none_of(software.rows.begin(), software.rows.end(), other_impl_here)) {
    return "no implementation but " + reference + " ran here, so no software choice is compared.";
  }
  const auto soft = largest_factor(a, software.id, phase, {{"ratio_to_reference", "ratio_ci_lo", "ratio_ci_hi"}}, other_impl_here);
  std::vector<IntervalColumns> positions;
  for (const char* pos : kTrendPositions) positions.push_back(with_ci(trend_ratio_column(pos)));
  const auto family = largest_factor(a, trends.id, phase, positions, [&](const std::vector<json>& row) { return here(trends, row); });
  auto text = [](const Factor& f) { return fmt(f.v) + "x" + interval_text({f.lo, f.hi}, "%.3g"); };
  if (!family) return "the family's factor at equal FLOPs is not established (every interval includes 1), so the two are not compared.";
  if (!soft) return "the family's factor is up to " + text(*family) + "; no software choice's saving is established beyond its interval.";
  const Interval ci = contrast_interval(soft->draws, family->draws, Contrast::ratio, false);
  const std::string verdict = ci.lo > 1 ? "more than" : ci.hi < 1 ? "less than" : "not established as more or less than";
  return "the software choice saves up to " + text(*soft) + " on one model, the family choice up to " + text(*family) +
         ": the software choice's is " + verdict + " the family's (software over family " + fmt(soft->v / family->v) +
         "x" + (std::isnan(ci.lo) ? std::string(", no interval") : interval_text(ci, "%.3g")) + ").";
}

// The finding of one phase: how far the best implementation moves each configuration's energy from the
// reference implementation's, where each other implementation saves or costs energy beyond its interval,
// against how far the model family moves it at equal FLOPs (the two-trends table).
void add_software_finding(Analysis& a, const Table& t, const std::string& phase) {
  const SoftwareTally s = tally_software(a, t, phase);
  if (s.sides.empty()) return;
  std::vector<double> ratios;
  std::map<std::string, int> wins;
  for (const auto& [config, low] : s.lowest) ratios.push_back(low.first), ++wins[low.second];
  std::vector<std::string> lowest_for, sides;
  for (const auto& [impl, n] : wins) lowest_for.push_back("'" + impl + "' for " + std::to_string(n));
  for (const auto& [impl, side] : s.sides) {
    sides.push_back("'" + impl + "' uses less energy on " + std::to_string(side[0]) + " of " + std::to_string(side[2]) +
                    " configurations and more on " + std::to_string(side[1]));
  }
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  std::string text = "Software choices (" + phase + "): over " + std::to_string(s.lowest.size()) +
                     " configurations, the implementation with the least energy (" + a.reference_impl +
                     " included) uses a median " + fmt(summarize(ratios).median) + "x the energy per epoch of " +
                     a.reference_impl + " (from " + fmt(*lo) + "x to " + fmt(*hi) + "x; least: " + join(lowest_for, ", ") +
                     "). Beyond the 95 % intervals, " + join(sides, "; ") + ".";
  if (const Table* trends = table(a, "two_trends")) {
    for (const auto& row : trends->rows) {
      if (at(*trends, row, "phase") != phase) continue;
      std::vector<double> across;  // the ratio at the low end, middle and high end of the shared FLOPs range
      for (const char* pos : kTrendPositions) {
        const json& r = at(*trends, row, trend_ratio_column(pos));
        if (r.is_number()) across.push_back(r.get<double>());
      }
      if (across.empty()) continue;
      const auto [rlo, rhi] = std::minmax_element(across.begin(), across.end());
      const bool by_gpu = std::find(trends->columns.begin(), trends->columns.end(), "gpu") != trends->columns.end();
      text += " Model choice at equal FLOPs" + gpu_of(*trends, row) + ": MLP/RNN use " + fmt(*rlo) + "x to " + fmt(*rhi) +
              "x the energy of CNN/CRNN across the FLOPs range both cover; " +
              software_against_family(a, phase, by_gpu ? cell_text(*trends, row, "gpu") : "");
    }
  }
  a.findings.push_back(text);
}

}  // namespace

// Each configuration under each implementation against the reference implementation's runs of it (same GPU,
// input and phase): pytorch-default where there are runs of it (split_implementations).
void add_software_choices(Analysis& a, const std::map<std::string, Acc>& acc) {
  std::map<std::string, std::map<std::string, const Acc*>> by;
  for (const auto& [k, g] : acc) {
    by[comparison_key(g.p)][g.p.impl] = &g;
  }
  Table t{"software_choices", "Software choices: one model's energy under each implementation",
          "energy per epoch under each implementation against " + a.reference_impl + "'s for the same "
          "configuration and phase: ratio of the means over repetitions with a 95 % bootstrap interval (each side "
          "resampled separately), and of the time per epoch; kernels per step counted on a captured CUDA graph "
          "(measured, not estimated); " + a.energy_label,
          {"config", "family", "phase", "gpu", "impl", "repetitions", "energy_mean_j", "ratio_to_reference",
           "ratio_ci_lo", "ratio_ci_hi", "time_ratio", "kernels_per_step", "flops_per_epoch"},
          {}};
  bool several = false;
  for (const auto& [key, impls] : by) {
    several |= impls.size() > 1;
    const auto ref = impls.find(a.reference_impl);
    if (impls.size() < 2 || ref == impls.end()) continue;
    for (const auto& [impl, g] : impls) {
      Ratio r = mean_ratio(g->e, ref->second->e);
      const double time_ratio = summarize(g->d).mean / summarize(ref->second->d).mean;
      t.rows.push_back({without_impl(g->p), g->p.family, g->p.phase, g->p.gpu, impl, static_cast<int>(g->e.size()),
                        num(summarize(g->e).mean), num(r.value), num(r.ci.lo), num(r.ci.hi), num(time_ratio),
                        or_null(g->p.kernels_per_step), num(g->p.flops)});
      keep_draws(a, t, "ratio_to_reference", std::move(r.draws));
    }
  }
  if (t.rows.empty()) {
    if (several) {
      a.cannot.push_back("software choices: no configuration ran under both " + a.reference_impl +
                         " and another implementation on one GPU");
    }
    return;
  }
  a.tables.push_back(t);
  for (const auto& phase : {"train", "test"}) add_software_finding(a, t, phase);
}

}  // namespace sedenergy::analysis
