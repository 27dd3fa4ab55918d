// Energy against the work: correlations with each variable, log-log slopes on FLOPs, the two trends
// (MLP/RNN against CNN/CRNN), energy per FLOP ranked, the train/test power gap, and scaling with the samples.
#include "analysis/questions.hpp"

#include <algorithm>
#include <set>

#include "analysis/stats.hpp"
#include "common/text.hpp"

namespace sedenergy::analysis {

namespace {
struct Xvar {
  std::string name;
  double (*get)(const Point&);
  bool positive;  // may go on a log axis
};

const std::vector<Xvar>& xvars() {
  static const std::vector<Xvar> v = {
      {"FLOPs per epoch", [](const Point& p) { return p.flops; }, true},
      {"parameters", [](const Point& p) { return p.params; }, true},
      {"DRAM traffic per epoch (estimated)", [](const Point& p) { return p.traffic_bytes; }, true},
      {"GPU utilization %", [](const Point& p) { return p.gpu_util; }, false},
      {"GPU memory utilization %", [](const Point& p) { return p.mem_util; }, false},
      {"SM activity % (GPM)", [](const Point& p) { return p.sm_util; }, false},
      {"DRAM bandwidth % (GPM)", [](const Point& p) { return p.dram_bw; }, false},
  };
  return v;
}

bool spans_decades(const std::vector<double>& v) {
  double lo = INFINITY, hi = 0;
  for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x);
  return lo > 0 && hi / lo >= 10;
}

// log10 FLOPs and log10 energy (as the analysis chose it: gross, net or estimated) of the points where both
// are positive.
void loglog(const std::vector<const Point*>& pts, std::vector<double>& lx, std::vector<double>& ly) {
  for (const Point* p : pts) {
    if (!(p->flops > 0 && p->energy_j > 0)) continue;
    lx.push_back(std::log10(p->flops));
    ly.push_back(std::log10(p->energy_j));
  }
}

// The log-log slope over the points `idx` (a bootstrap resample).
double slope_of(const std::vector<double>& lx, const std::vector<double>& ly, const std::vector<int>& idx) {
  std::vector<std::vector<double>> X;
  std::vector<double> y;
  for (int i : idx) X.push_back({lx[i]}), y.push_back(ly[i]);
  auto f = least_squares(X, y);
  return f.ok ? f.coef[1] : NAN;
}

}  // namespace

// The finding that links GPU utilization to energy, from the correlations table.
void add_utilization_finding(Analysis& a) {
  const Table* t = table(a, "correlations");
  if (!t) return;
  for (const auto& row : t->rows) {
    if (at(*t, row, "variable") != "GPU utilization %" || at(*t, row, "group") != "all" || at(*t, row, "spearman").is_null()) continue;
    const auto& lo = at(*t, row, "spearman_ci_lo");
    a.findings.push_back("GPU utilization and energy per epoch (" + at(*t, row, "phase").get<std::string>() + "): Spearman " +
                         fmt(at(*t, row, "spearman").get<double>(), "%.2f") +
                         (lo.is_null() ? "" : interval_text({lo.get<double>(), at(*t, row, "spearman_ci_hi").get<double>()})) +
                         " over " + std::to_string(at(*t, row, "n").get<int>()) + " configurations.");
  }
}

void add_correlations(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"correlations", "Energy per epoch against each variable",
          "Pearson on log10 of both variables when both span a decade or more (column log), Spearman on ranks; "
          "95 % intervals from 1000 seeded bootstrap resamples of the configurations",
          {"variable", "phase", "group", "n", "log", "pearson", "pearson_ci_lo", "pearson_ci_hi", "spearman",
           "spearman_ci_lo", "spearman_ci_hi", "note"},
          {}};
  for (const auto& phase : phases) {
    std::vector<std::string> groups = {"all"};
    groups.insert(groups.end(), kFamilies.begin(), kFamilies.end());
    for (const std::string& group : groups) {
      auto pts = select(a, phase, group == "all" ? "" : group);
      for (const auto& xv : xvars()) {
        std::vector<double> x, y;
        for (const Point* p : pts) {
          const double v = xv.get(*p);
          if (std::isfinite(v) && (xv.positive ? v > 0 : v >= 0)) x.push_back(v), y.push_back(p->energy_j);
        }
        if (pts.empty()) continue;
        const int n = static_cast<int>(x.size());
        if (n < 3) {
          if (n > 0 || !xv.positive) {
            t.rows.push_back({xv.name, phase, group, n, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                              n == 0 ? "not recorded for these runs" : "fewer than 3 configurations"});
          }
          continue;
        }
        const bool lg = xv.positive && spans_decades(x) && spans_decades(y);
        std::vector<double> xs = x, ys = y;
        if (lg) {
          for (auto& v : xs) v = std::log10(v);
          for (auto& v : ys) v = std::log10(v);
        }
        auto sub = [&](const std::vector<int>& idx, bool rank) {
          std::vector<double> a1, b1;
          for (int i : idx) a1.push_back(xs[i]), b1.push_back(ys[i]);
          return rank ? spearman(a1, b1) : pearson(a1, b1);
        };
        const double pr = pearson(xs, ys), sp = spearman(x, y);
        auto pci = bootstrap_ci(n, [&](const std::vector<int>& i) { return sub(i, false); });
        Draws spearman_draws;
        auto sci = bootstrap_ci(n, [&](const std::vector<int>& i) { return sub(i, true); }, 1000, 1, &spearman_draws);
        std::string note = std::isfinite(pr) ? "" : "the variable is constant over these configurations";
        if (n < 6 && note.empty()) note = "few configurations: wide interval";
        t.rows.push_back({xv.name, phase, group, n, lg, num(pr), num(pci.lo), num(pci.hi), num(sp), num(sci.lo),
                          num(sci.hi), note});
        keep_draws(a, t, "spearman", std::move(spearman_draws));
      }
    }
  }
  a.tables.push_back(t);
}

void add_slopes(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"slopes", "Log-log slope of energy per epoch against FLOPs per epoch",
          "least squares on log10 values; 95 % bootstrap interval of the slope; slope 1 means energy proportional to "
          "FLOPs",
          {"family", "phase", "frames", "n", "slope", "slope_ci_lo", "slope_ci_hi", "intercept_log10_j", "r2", "note"},
          {}};
  std::set<int> frame_set;
  std::vector<std::string> by_frames;  // input length comparison (the fullinput configuration)
  for (const auto& p : a.points) frame_set.insert(p.frames);
  for (const auto& phase : phases) {
    for (int frames : frame_set) {
      for (const auto& fam : kFamilies) {
        std::vector<const Point*> pts;
        for (const Point* p : select(a, phase, fam)) {
          if (p->frames == frames) pts.push_back(p);
        }
        if (pts.empty()) continue;
        std::vector<double> lx, ly;
        loglog(pts, lx, ly);
        std::vector<std::vector<double>> X;
        for (double v : lx) X.push_back({v});
        auto f = least_squares(X, ly);
        if (!f.ok) {
          t.rows.push_back({fam, phase, frames, static_cast<int>(lx.size()), nullptr, nullptr, nullptr, nullptr, nullptr,
                            lx.size() < 3 ? "fewer than 3 configurations" : "FLOPs do not vary"});
          continue;
        }
        Draws draws;
        auto ci = bootstrap_ci(static_cast<int>(lx.size()), [&](const std::vector<int>& i) { return slope_of(lx, ly, i); },
                               1000, 1, &draws);
        t.rows.push_back({fam, phase, frames, f.n, num(f.coef[1]), num(ci.lo), num(ci.hi), num(f.coef[0]), num(f.r2), ""});
        keep_draws(a, t, "slope", std::move(draws));
        if (frame_set.size() > 1 && phase == "train") by_frames.push_back(fam + " " + fmt(f.coef[1], "%.2f") + interval_text(ci) + " at " +
                                                                 std::to_string(frames) + " frames");
      }
    }
  }
  if (!by_frames.empty()) {
    a.findings.push_back("Input length (training, log-log slope of energy on FLOPs per family): " +
                         join(by_frames, "; ") + ". Overlapping intervals mean the trend survives the longer input.");
  }
  a.tables.push_back(t);
}

namespace {
// The two trends' groups of one phase, MLP/RNN (a) and CNN/CRNN (b): log10 FLOPs and log10 energy of the
// points where both are positive.
struct TrendData {
  std::vector<double> ax, ay, bx, by;
};

TrendData trend_data(const Analysis& a, const std::string& phase) {
  TrendData d;
  for (const char* family : {"MLP", "RNN"}) loglog(select(a, phase, family), d.ax, d.ay);
  for (const char* family : {"CNN", "CRNN"}) loglog(select(a, phase, family), d.bx, d.by);
  return d;
}

// MLP/RNN against CNN/CRNN: one log-log line each, fitted on the rows ia of (ax, ay) and ib of (bx, by).
struct TrendFits {
  LinearFit a, b;
  bool ok() const { return a.ok && b.ok; }
  // Energy of MLP/RNN over that of CNN/CRNN at log10 FLOPs x.
  double ratio_at(double x) const { return ok() ? std::pow(10.0, a.predict({x}) - b.predict({x})) : NAN; }
};

TrendFits fit_trends(const std::vector<double>& ax, const std::vector<double>& ay, const std::vector<double>& bx,
                     const std::vector<double>& by, const std::vector<int>& ia, const std::vector<int>& ib) {
  std::vector<std::vector<double>> XA, XB;
  std::vector<double> YA, YB;
  for (int i : ia) XA.push_back({ax[i]}), YA.push_back(ay[i]);
  for (int i : ib) XB.push_back({bx[i]}), YB.push_back(by[i]);
  return {least_squares(XA, YA), least_squares(XB, YB)};
}

std::vector<int> all_rows(std::size_t n) {
  std::vector<int> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = static_cast<int>(i);
  return idx;
}

// Where the two trends are read: the low end, the (geometric) middle and the high end of the FLOPs range both
// groups cover (log10 FLOPs); empty when they share none.
std::vector<double> shared_range(const TrendData& d) {
  const double lo = std::max(*std::min_element(d.ax.begin(), d.ax.end()), *std::min_element(d.bx.begin(), d.bx.end()));
  const double hi = std::min(*std::max_element(d.ax.begin(), d.ax.end()), *std::max_element(d.bx.begin(), d.bx.end()));
  if (!(lo < hi)) return {};
  return {lo, (lo + hi) / 2, hi};
}

// The two-trends finding of one phase, read across the shared FLOPs range.
std::string two_trends_finding(const std::string& phase, const std::vector<double>& xs, const std::vector<double>& r,
                               const std::vector<Interval>& ci, double sa, double sb) {
  int above = 0, below = 0;
  std::vector<std::string> at, established;
  const char* where[] = {" FLOPs (the low end of the range both groups cover)", " (middle)", " (high end)"};
  const char* position[] = {"low end", "middle", "high end"};
  for (int k = 0; k < 3; ++k) {
    above += ci[k].lo > 1, below += ci[k].hi < 1;
    at.push_back(fmt(r[k]) + "x" + interval_text(ci[k], "%.3g") + " at " + fmt(std::pow(10.0, xs[k])) + where[k]);
    if (ci[k].lo > 1 || ci[k].hi < 1) established.push_back(std::string(position[k]) + (ci[k].lo > 1 ? " (above 1)" : " (below 1)"));
  }
  // "Cross" only where intervals lie on both sides of 1; an interval that includes 1 establishes nothing.
  const std::string verdict =
      above == 3 || below == 3
          ? ": MLP/RNN lie " + std::string(above == 3 ? "above" : "below") + " CNN/CRNN across the shared range, two distinct trends."
      : above > 0 && below > 0 ? ": the ratio lies above 1 at one position and below 1 at another, so the trends cross inside the shared range."
      : above + below == 0
          ? ": every interval includes 1, so a difference between the two trends is not established."
          : ": the difference is established only at the " + join(established, " and ") +
                "; elsewhere the interval includes 1, so it is not established across the range.";
  return "Two trends (" + phase + "): at equal FLOPs per epoch, MLP/RNN use the energy of CNN/CRNN times " +
         at[0] + ", " + at[1] + " and " + at[2] + verdict + " Log-log slopes " + fmt(sa, "%.2f") + " (MLP/RNN) and " +
         fmt(sb, "%.2f") + " (CNN/CRNN).";
}

}  // namespace

void add_two_trends(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"two_trends", "The two trends: MLP/RNN against CNN/CRNN",
          "each group fitted in log-log; the energy ratio MLP/RNN over CNN/CRNN at the low end, middle (geometric) and "
          "high end of the FLOPs range both groups cover, and the slope difference, with 95 % bootstrap intervals (each "
          "group resampled separately); " + a.energy_label,
          {"phase", "n_mlp_rnn", "n_cnn_crnn", "slope_mlp_rnn", "slope_cnn_crnn", "slope_difference", "slope_diff_ci_lo",
           "slope_diff_ci_hi", "flops_low", "ratio_low", "ratio_low_ci_lo", "ratio_low_ci_hi", "flops_mid", "ratio_mid",
           "ratio_mid_ci_lo", "ratio_mid_ci_hi", "flops_high", "ratio_high", "ratio_high_ci_lo", "ratio_high_ci_hi"},
          {}};
  for (const auto& phase : phases) {
    const TrendData d = trend_data(a, phase);
    if (d.ax.size() < 3 || d.bx.size() < 3) {
      a.cannot.push_back("two trends (" + phase + "): needs at least 3 configurations in MLP+RNN and in CNN+CRNN (have " +
                         std::to_string(d.ax.size()) + " and " + std::to_string(d.bx.size()) + ")");
      continue;
    }
    const auto xs = shared_range(d);
    if (xs.empty()) {
      a.cannot.push_back("two trends (" + phase + "): MLP/RNN and CNN/CRNN share no FLOPs range");
      continue;
    }
    // The slope difference and the ratio at each position, on all points and on resamples of each group.
    auto stats = [&](const std::vector<int>& ia, const std::vector<int>& ib) {
      const TrendFits f = fit_trends(d.ax, d.ay, d.bx, d.by, ia, ib);
      if (!f.ok()) return std::vector<double>(4, NAN);
      return std::vector<double>{f.a.coef[1] - f.b.coef[1], f.ratio_at(xs[0]), f.ratio_at(xs[1]), f.ratio_at(xs[2])};
    };
    const int na = static_cast<int>(d.ax.size()), nb = static_cast<int>(d.bx.size());
    const TrendFits fits = fit_trends(d.ax, d.ay, d.bx, d.by, all_rows(d.ax.size()), all_rows(d.bx.size()));
    const auto v = stats(all_rows(d.ax.size()), all_rows(d.bx.size()));
    std::vector<Draws> draws;
    const auto ci = bootstrap_two_samples(na, nb, 4, stats, 1000, 7, &draws);
    const double sa = fits.a.ok ? fits.a.coef[1] : NAN, sb = fits.b.ok ? fits.b.coef[1] : NAN;
    std::vector<json> row = {phase, na, nb, num(sa), num(sb), num(v[0]), num(ci[0].lo), num(ci[0].hi)};
    for (int k = 0; k < 3; ++k) {
      row.insert(row.end(), {num(std::pow(10.0, xs[k])), num(v[k + 1]), num(ci[k + 1].lo), num(ci[k + 1].hi)});
    }
    t.rows.push_back(row);
    for (int k = 0; k < 3; ++k) keep_draws(a, t, trend_ratio_column(kTrendPositions[k]), std::move(draws[k + 1]));
    if (fits.ok()) a.findings.push_back(two_trends_finding(phase, xs, {v[1], v[2], v[3]}, {ci[1], ci[2], ci[3]}, sa, sb));
  }
  a.tables.push_back(t);
}

// Energy per FLOP, ranked per phase: which configurations are dear for the work they do (computed, so that
// no sentence about it is written by hand).
void add_per_flop_ranking(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"per_flop", "Energy per FLOP, ranked",
          "energy per epoch over FLOPs per epoch, in nJ per FLOP, ranked from the dearest (1) within each phase; " +
              a.energy_label,
          {"phase", "rank", "config", "family", "nj_per_flop", "energy_j", "flops_per_epoch", "mean_power_w"},
          {}};
  for (const auto& phase : phases) {
    std::vector<const Point*> pts;
    for (const Point* p : select(a, phase, "")) {
      if (p->flops > 0) pts.push_back(p);
    }
    if (pts.size() < 2) continue;
    auto per_flop = [](const Point* p) { return p->energy_j / p->flops; };
    std::sort(pts.begin(), pts.end(), [&](const Point* x, const Point* y) { return per_flop(x) > per_flop(y); });
    for (std::size_t i = 0; i < pts.size(); ++i) {
      t.rows.push_back({phase, static_cast<int>(i + 1), pts[i]->variant, pts[i]->family, num(1e9 * per_flop(pts[i])),
                        num(pts[i]->energy_j), num(pts[i]->flops), num(pts[i]->power_w)});
    }
    const std::size_t k = std::min<std::size_t>(3, pts.size() / 2);
    auto names = [&](bool dearest) {
      std::vector<std::string> v;
      for (std::size_t i = 0; i < k; ++i) {
        const Point* p = pts[dearest ? i : pts.size() - 1 - i];
        v.push_back(p->variant + " (" + fmt(1e9 * per_flop(p)) + ")");
      }
      return join(v, ", ");
    };
    a.findings.push_back("Energy per FLOP (" + phase + ", nJ per FLOP): dearest " + names(true) + "; cheapest " +
                         names(false) + " (all " + std::to_string(pts.size()) + " ranked in the per_flop table).");
  }
  if (!t.rows.empty()) a.tables.push_back(t);
}

void add_power_gap(Analysis& a) {
  Table t{"power_gap", "Average power in training against testing, per family",
          "per configuration: mean power of the training window minus that of the testing window; mean over "
          "configurations with a 95 % t interval",
          {"family", "n", "train_power_w", "test_power_w", "gap_w", "gap_ci_lo_w", "gap_ci_hi_w", "ratio", "note"},
          {}};
  for (const auto& fam : kFamilies) {
    std::map<std::string, std::pair<double, double>> by;
    for (const auto& p : a.points) {
      if (p.family != fam) continue;
      auto& e = by[p.gpu + "|" + p.variant + "|" + std::to_string(p.frames)];
      (p.phase == "train" ? e.first : e.second) = p.power_w;
    }
    std::vector<double> tr, te, gap;
    for (const auto& [k, v] : by) {
      if (v.first > 0 && v.second > 0) tr.push_back(v.first), te.push_back(v.second), gap.push_back(v.first - v.second);
    }
    if (by.empty()) continue;
    if (gap.empty()) {
      t.rows.push_back({fam, 0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, "no configuration with both phases"});
      continue;
    }
    auto g = summarize(gap);
    const double mtr = summarize(tr).mean, mte = summarize(te).mean;
    t.rows.push_back({fam, g.n, num(mtr), num(mte), num(g.mean), num(g.ci95.lo), num(g.ci95.hi), num(mtr / mte),
                      g.n < 2 ? "one configuration: no interval" : ""});
    // The mean's bootstrap, for a contrast between GPUs (the table's interval is the t interval).
    Draws draws;
    bootstrap_ci(g.n, [&](const std::vector<int>& idx) {
      double sum = 0;
      for (int i : idx) sum += gap[i];
      return sum / static_cast<double>(idx.size());
    }, 1000, 1, &draws);
    keep_draws(a, t, "gap_w", std::move(draws));
    a.findings.push_back(fam + ": training draws " + fmt(mtr, "%.0f") + " W on average, testing " + fmt(mte, "%.0f") +
                         " W (gap " + fmt(g.mean, "%.0f") + " W" + interval_text(g.ci95, "%.0f") + ", n = " +
                         std::to_string(g.n) + ").");
  }
  a.tables.push_back(t);
}

void add_scaling(Analysis& a) {
  Table t{"scaling", "Scaling: energy of a run against the samples it processes",
          "per configuration and phase over every fraction x epochs setting: energy of the whole run (per-epoch energy x "
          "epochs) fitted as a + b x samples (clips x epochs): b is joules per sample, a the fixed cost; R2 and the "
          "largest residual",
          {"config", "phase", "settings", "j_per_sample", "intercept_j", "r2", "max_residual_pct", "note"},
          {}};
  std::map<std::string, std::vector<const Point*>> by;
  for (const auto& p : a.points) by[p.gpu + "|" + p.config + "|" + std::to_string(p.frames) + "|" + p.phase].push_back(&p);
  for (const auto& [k, pts] : by) {
    std::set<std::pair<double, int>> settings;
    for (const Point* p : pts) settings.insert({p->fraction, p->epochs_per_unit});
    if (settings.size() < 2) continue;
    std::vector<std::vector<double>> X;
    std::vector<double> y;
    for (const Point* p : pts) {
      const double samples = static_cast<double>(p->clips) * p->epochs_per_unit;
      X.push_back({samples});
      y.push_back(p->energy_j * p->epochs_per_unit);
    }
    auto f = least_squares(X, y);
    if (!f.ok) {
      t.rows.push_back({pts[0]->config, pts[0]->phase, static_cast<int>(pts.size()), nullptr, nullptr, nullptr, nullptr,
                        "too few settings to fit"});
      continue;
    }
    double worst = 0;
    for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(f.predict(X[i]) - y[i]) / y[i]);
    t.rows.push_back({pts[0]->config, pts[0]->phase, static_cast<int>(pts.size()), num(f.coef[1]), num(f.coef[0]),
                      num(f.r2), num(100 * worst), ""});
    if (pts[0]->phase == "train") {
      a.findings.push_back("Scaling (" + pts[0]->config + ", training): " + fmt(f.coef[1]) + " J per sample plus " +
                           fmt(f.coef[0]) + " J fixed, R2 " + fmt(f.r2, "%.3f") + " over " +
                           std::to_string(pts.size()) + " settings (largest residual " + fmt(100 * worst, "%.1f") +
                           " %): " + (f.r2 > 0.98 && worst < 0.1 ? "linear." : "not simply linear."));
    }
  }
  if (t.rows.empty()) {
    a.cannot.push_back("scaling: no configuration was run at several dataset fractions or epoch counts (run "
                       "`sedenergy study --config scaling`)");
  } else {
    a.tables.push_back(t);
  }
}

}  // namespace sedenergy::analysis
