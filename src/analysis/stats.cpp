#include "analysis/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace sedenergy::analysis {

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double reference_median(const std::vector<double>& v, const std::vector<bool>& in_median) {
  std::vector<double> reference;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (in_median.empty() || in_median[i]) reference.push_back(v[i]);
  }
  return reference.size() >= 2 ? median(reference) : NAN;
}

std::vector<double> over_median(const std::vector<double>& v, const std::vector<bool>& in_median) {
  const double m = reference_median(v, in_median);
  std::vector<double> out;
  for (double x : v) out.push_back(x / m);
  return out;
}

double t_quantile_975(int dof) {
  static const double table[] = {NAN,   12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080, 2.074,  2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof < 1) return NAN;
  if (dof <= 30) return table[dof];
  return 1.959964 + 2.4 / dof;  // close to the exact quantile beyond 30 degrees of freedom
}

Summary summarize(const std::vector<double>& in) {
  Summary s;
  std::vector<double> v;
  for (double x : in) {
    if (std::isfinite(x)) v.push_back(x);
  }
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / s.n;
  s.median = median(v);
  if (s.n >= 2) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / (s.n - 1));
    const double half = t_quantile_975(s.n - 1) * s.sd / std::sqrt(static_cast<double>(s.n));
    s.ci95 = {s.mean - half, s.mean + half};
  }
  std::sort(v.begin(), v.end());
  // tail(k) = P(Binomial(n, 1/2) < k): the chance that the median lies below x_(k).
  auto tail = [&](int k) {
    double p = 0, c = 1;  // c = binomial(n, j)
    for (int j = 0; j < k; ++j) {
      p += c * std::pow(0.5, s.n);
      c = c * (s.n - j) / (j + 1);
    }
    return p;
  };
  int k = 1;
  while (k + 1 <= (s.n + 1) / 2 && 1 - 2 * tail(k + 1) >= 0.95) ++k;
  s.median_ci = {v[k - 1], v[s.n - k]};
  s.median_coverage = s.n >= 2 ? 1 - 2 * tail(k) : NAN;
  return s;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  if (n < 3 || y.size() != n) return NAN;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (!(sxx > 0) || !(syy > 0)) return NAN;  // a constant variable has no correlation
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mid = 0.5 * (i + j) + 1;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = mid;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) { return pearson(ranks(x), ranks(y)); }

namespace {
// The 2.5 % and 97.5 % percentiles of the finite resampled statistics, when at least 90 % are finite.
Interval percentile_interval(std::vector<double> stats, int resamples) {
  if (stats.size() < 0.9 * resamples) return {};
  std::sort(stats.begin(), stats.end());
  auto at = [&](double q) { return stats[static_cast<std::size_t>(std::floor(q * (stats.size() - 1)))]; };
  return {at(0.025), at(0.975)};
}
}  // namespace

Interval bootstrap_ci(int n, const std::function<double(const std::vector<int>&)>& statistic, int resamples,
                      std::uint64_t seed, Draws* draws) {
  if (n < 3) return {};
  std::mt19937_64 rng(seed);
  std::vector<double> stats;
  std::vector<int> idx(n);
  for (int b = 0; b < resamples; ++b) {
    for (int i = 0; i < n; ++i) idx[i] = static_cast<int>(rng() % static_cast<std::uint64_t>(n));
    const double s = statistic(idx);
    if (draws) draws->push_back(std::isfinite(s) ? s : NAN);
    if (std::isfinite(s)) stats.push_back(s);
  }
  return percentile_interval(std::move(stats), resamples);
}

std::vector<Interval> bootstrap_two_samples(
    int na, int nb, int k, const std::function<std::vector<double>(const std::vector<int>&, const std::vector<int>&)>& statistics,
    int resamples, std::uint64_t seed, std::vector<Draws>* draws) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> kept(static_cast<std::size_t>(k));
  if (draws) draws->assign(static_cast<std::size_t>(k), {});
  std::vector<int> ia(static_cast<std::size_t>(na)), ib(static_cast<std::size_t>(nb));
  for (int b = 0; b < resamples && na > 0 && nb > 0; ++b) {
    for (auto& v : ia) v = static_cast<int>(rng() % static_cast<std::uint64_t>(na));
    for (auto& v : ib) v = static_cast<int>(rng() % static_cast<std::uint64_t>(nb));
    const auto values = statistics(ia, ib);
    const bool counts = static_cast<int>(values.size()) == k &&
                        std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
    for (int j = 0; j < k && draws; ++j) (*draws)[static_cast<std::size_t>(j)].push_back(counts ? values[static_cast<std::size_t>(j)] : NAN);
    if (!counts) continue;
    for (int j = 0; j < k; ++j) kept[static_cast<std::size_t>(j)].push_back(values[static_cast<std::size_t>(j)]);
  }
  std::vector<Interval> out;
  for (auto& v : kept) out.push_back(percentile_interval(std::move(v), resamples));
  return out;
}

double contrast_of(double x, double y, Contrast contrast) { return contrast == Contrast::ratio ? x / y : x - y; }

Interval contrast_interval(const Draws& x, const Draws& y, Contrast contrast, bool paired, std::uint64_t seed) {
  const std::size_t n = std::min(x.size(), y.size());
  if (n == 0) return {};
  std::vector<std::size_t> partner(n);
  std::iota(partner.begin(), partner.end(), std::size_t{0});
  std::mt19937_64 rng(seed);
  for (std::size_t i = n - 1; i > 0 && !paired; --i) std::swap(partner[i], partner[rng() % (i + 1)]);  // Fisher-Yates, the same on every library
  std::vector<double> stats;
  for (std::size_t i = 0; i < n; ++i) {
    const double c = contrast_of(x[i], y[partner[i]], contrast);
    if (std::isfinite(c)) stats.push_back(c);
  }
  return percentile_interval(std::move(stats), static_cast<int>(n));
}

double LinearFit::predict(const std::vector<double>& x) const {
  if (!ok || x.size() + 1 != coef.size()) return NAN;
  double y = coef[0];
  for (std::size_t j = 0; j < x.size(); ++j) y += coef[j + 1] * x[j];
  return y;
}

LinearFit least_squares(const std::vector<std::vector<double>>& X, const std::vector<double>& y,
                        const std::vector<double>& weights) {
  LinearFit f;
  const std::size_t n = y.size();
  if (n == 0 || X.size() != n) return f;
  const std::size_t p = X[0].size() + 1;
  f.n = static_cast<int>(n);
  if (n < p + 1) return f;  // at least one degree of freedom left
  // Normal equations (A^T A) b = A^T y, solved by Gaussian elimination with partial pivoting; predictors
  // are standardised first so that FLOPs (1e12) and utilisations (1e1) sit side by side.
  std::vector<double> mean(p - 1, 0), scale(p - 1, 0);
  for (std::size_t j = 0; j + 1 < p; ++j) {
    for (std::size_t i = 0; i < n; ++i) mean[j] += X[i][j] / n;
    for (std::size_t i = 0; i < n; ++i) scale[j] += (X[i][j] - mean[j]) * (X[i][j] - mean[j]) / n;
    scale[j] = std::sqrt(scale[j]);
    if (!(scale[j] > 0)) return f;  // a constant predictor cannot be told from the intercept
  }
  std::vector<std::vector<double>> M(p, std::vector<double>(p + 1, 0));
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> a(p, 1.0);
    for (std::size_t j = 0; j + 1 < p; ++j) a[j + 1] = (X[i][j] - mean[j]) / scale[j];
    const double w = weights.empty() ? 1.0 : weights[i];
    for (std::size_t r = 0; r < p; ++r) {
      for (std::size_t c = 0; c < p; ++c) M[r][c] += w * a[r] * a[c];
      M[r][p] += w * a[r] * y[i];
    }
  }
  for (std::size_t c = 0; c < p; ++c) {
    std::size_t piv = c;
    for (std::size_t r = c + 1; r < p; ++r) {
      if (std::abs(M[r][c]) > std::abs(M[piv][c])) piv = r;
    }
    if (std::abs(M[piv][c]) < 1e-12 * n) return f;  // collinear predictors
    std::swap(M[c], M[piv]);
    for (std::size_t r = 0; r < p; ++r) {
      if (r == c) continue;
      const double k = M[r][c] / M[c][c];
      for (std::size_t k2 = c; k2 <= p; ++k2) M[r][k2] -= k * M[c][k2];
    }
  }
  std::vector<double> b(p);
  for (std::size_t c = 0; c < p; ++c) b[c] = M[c][p] / M[c][c];
  f.coef.assign(p, 0);
  f.coef[0] = b[0];
  for (std::size_t j = 0; j + 1 < p; ++j) {
    f.coef[j + 1] = b[j + 1] / scale[j];
    f.coef[0] -= f.coef[j + 1] * mean[j];
  }
  f.ok = true;
  std::vector<double> pred(n);
  for (std::size_t i = 0; i < n; ++i) pred[i] = f.predict(X[i]);
  f.r2 = r_squared(y, pred);
  return f;
}

LinearFit least_squares_of_varying(const std::vector<std::vector<double>>& X, const std::vector<double>& y,
                                   const std::vector<double>& weights) {
  if (X.empty()) return least_squares(X, y, weights);
  const std::size_t k = X[0].size();
  std::vector<std::size_t> varying;
  for (std::size_t j = 0; j < k; ++j) {
    if (std::any_of(X.begin(), X.end(), [&](const auto& row) { return row[j] != X[0][j]; })) varying.push_back(j);
  }
  if (varying.size() == k) return least_squares(X, y, weights);
  std::vector<std::vector<double>> kept(X.size());
  for (std::size_t i = 0; i < X.size(); ++i) {
    for (std::size_t j : varying) kept[i].push_back(X[i][j]);
  }
  LinearFit f = least_squares(kept, y, weights);
  if (!f.ok) return f;
  std::vector<double> coef(k + 1, 0.0);
  coef[0] = f.coef[0];
  for (std::size_t v = 0; v < varying.size(); ++v) coef[varying[v] + 1] = f.coef[v + 1];
  f.coef = coef;
  return f;
}

double r_squared(const std::vector<double>& truth, const std::vector<double>& pred) {
  double mean = 0, n = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (std::isfinite(pred[i])) mean += truth[i], n += 1;
  }
  if (n < 2) return NAN;
  mean /= n;
  double ss_res = 0, ss_tot = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (!std::isfinite(pred[i])) continue;
    ss_res += (truth[i] - pred[i]) * (truth[i] - pred[i]);
    ss_tot += (truth[i] - mean) * (truth[i] - mean);
  }
  return ss_tot > 0 ? 1 - ss_res / ss_tot : NAN;
}

std::vector<double> ape_pct(const std::vector<double>& truth, const std::vector<double>& pred) {
  std::vector<double> out;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (std::isfinite(pred[i]) && std::isfinite(truth[i]) && truth[i] != 0) {
      out.push_back(100.0 * std::abs(pred[i] - truth[i]) / std::abs(truth[i]));
    }
  }
  return out;
}

double mape_pct(const std::vector<double>& truth, const std::vector<double>& pred) {
  const auto ape = ape_pct(truth, pred);
  return ape.empty() ? NAN : summarize(ape).mean;
}

std::vector<double> predict_held_out(const std::vector<std::vector<double>>& X, const std::vector<double>& y,
                                     const std::vector<int>& group, const std::vector<double>& weights) {
  std::vector<double> out(y.size(), NAN);
  std::vector<int> groups = group;
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  for (int g : groups) {
    std::vector<std::vector<double>> Xt;
    std::vector<double> yt, wt;
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (group[i] == g) continue;
      Xt.push_back(X[i]), yt.push_back(y[i]);
      if (!weights.empty()) wt.push_back(weights[i]);
    }
    auto fit = least_squares_of_varying(Xt, yt, wt);
    if (!fit.ok) continue;
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (group[i] == g) out[i] = fit.predict(X[i]);
    }
  }
  return out;
}

std::vector<int> kfold_groups(int n, int k, std::uint64_t seed) {
  std::vector<int> order(n), g(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % static_cast<std::uint64_t>(i)]);
  for (int i = 0; i < n; ++i) g[order[i]] = i % std::max(1, k);
  return g;
}

std::vector<int> pareto_front(const std::vector<double>& cost, const std::vector<double>& quality) {
  std::vector<int> order;
  for (std::size_t i = 0; i < cost.size(); ++i) {
    if (std::isfinite(cost[i]) && std::isfinite(quality[i])) order.push_back(static_cast<int>(i));
  }
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return cost[a] != cost[b] ? cost[a] < cost[b] : quality[a] > quality[b];
  });
  std::vector<int> front;
  double best = -INFINITY;
  for (int i : order) {
    if (quality[i] > best) {
      front.push_back(i);
      best = quality[i];
    }
  }
  return front;
}

}  // namespace sedenergy::analysis
