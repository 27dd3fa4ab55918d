// Statistics for the analysis: summaries with t intervals, Pearson and Spearman correlations with
// seeded bootstrap intervals, least squares, cross-validation and Pareto fronts. Every function returns
// NaN (never throws) where its input cannot give a number; callers turn that into a stated reason.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sedenergy::analysis {

struct Interval {
  double lo = NAN, hi = NAN;
};

struct Summary {
  int n = 0;
  double mean = NAN, median = NAN, sd = NAN;
  Interval ci95;  // Student t interval of the mean (n >= 2)
  // Distribution-free interval of the median: order statistics [x_(k), x_(n+1-k)] with the largest k whose
  // coverage, 1 - 2 P(Binomial(n, 1/2) < k), is at least 95 %: [min, max] up to 8 values, whose coverage
  // under 6 values (75 % with 3) is below 95 % and then what median_coverage says.
  Interval median_ci;
  double median_coverage = NAN;
};
Summary summarize(const std::vector<double>& v);
double median(std::vector<double> v);
// Host stalls (issue 17): a repetition whose time per epoch exceeds its configuration's median by this
// factor is flagged (the runner re-runs it, the analysis shows it). One home for the default.
inline constexpr double kStallFactor = 1.25;
// The median of the reference values (those with in_median set; all when it is empty): the planned
// repetitions, so that a re-run never moves the yardstick. NaN with fewer than two.
double reference_median(const std::vector<double>& v, const std::vector<bool>& in_median = {});
// Each value over reference_median (NaN everywhere when that is NaN).
std::vector<double> over_median(const std::vector<double>& v, const std::vector<bool>& in_median = {});
double t_quantile_975(int dof);  // two-sided 95 % quantile of Student's t

double pearson(const std::vector<double>& x, const std::vector<double>& y);
double spearman(const std::vector<double>& x, const std::vector<double>& y);  // Pearson of mid-ranks
std::vector<double> ranks(const std::vector<double>& v);                      // 1-based, ties get the mean rank

// A statistic's bootstrap values in resample order, NaN where a resample gave none: kept (when asked) so that the
// contrast of two statistics gets an interval of its own (contrast_interval).
using Draws = std::vector<double>;

// Percentile bootstrap (2.5 %, 97.5 %) of a statistic over resampled indices 0..n-1; resamples giving NaN
// are dropped (an interval needs 90 % of them to be finite).
Interval bootstrap_ci(int n, const std::function<double(const std::vector<int>&)>& statistic, int resamples = 1000,
                      std::uint64_t seed = 1, Draws* draws = nullptr);
// The same for statistics of two samples resampled separately (sizes na and nb): `statistics(ia, ib)`
// returns k values; a resample counts when all k are finite. One interval per statistic.
std::vector<Interval> bootstrap_two_samples(
    int na, int nb, int k, const std::function<std::vector<double>(const std::vector<int>&, const std::vector<int>&)>& statistics,
    int resamples = 1000, std::uint64_t seed = 7, std::vector<Draws>* draws = nullptr);

// How two statistics are set against each other: x - y, or x / y (for ratios, whose no-difference is 1).
enum class Contrast { difference, ratio };
// The 95 % percentile interval of the contrast of x's and y's draws. Paired: draw i with draw i, the same
// resamples of the same units (one set of runs under two idle baselines). Independent: draw i with a seeded
// permutation's, so that no shared resample index ties two independent samples. Empty when fewer than 90 % of
// the pairs are finite.
Interval contrast_interval(const Draws& x, const Draws& y, Contrast contrast, bool paired, std::uint64_t seed = 11);
double contrast_of(double x, double y, Contrast contrast);

// Ordinary least squares y = b0 + b1 x1 + ...; rows of X hold the predictors (without the constant).
struct LinearFit {
  bool ok = false;
  std::vector<double> coef;  // intercept first
  double r2 = NAN;
  int n = 0;
  double predict(const std::vector<double>& x) const;
};
// Ordinary least squares with an intercept; with weights (one per row, e.g. 1 / y^2 to fit relative
// errors, so a 10 J and a 10 kJ configuration count alike), weighted least squares.
LinearFit least_squares(const std::vector<std::vector<double>>& X, const std::vector<double>& y,
                        const std::vector<double>& weights = {});
// The same, leaving out each predictor that is constant over the rows (a kind of work none of them did):
// it gets coefficient 0 and the intercept carries its constant, so a row that has it is predicted without
// its cost.
LinearFit least_squares_of_varying(const std::vector<std::vector<double>>& X, const std::vector<double>& y,
                                   const std::vector<double>& weights = {});
double r_squared(const std::vector<double>& truth, const std::vector<double>& pred);
double mape_pct(const std::vector<double>& truth, const std::vector<double>& pred);  // mean |p - t| / |t| x 100
// |p - t| / |t| x 100 per pair where both are finite.
std::vector<double> ape_pct(const std::vector<double>& truth, const std::vector<double>& pred);

// Out-of-sample predictions: each row predicted by a model fitted without its group (leave one group
// out) or without its fold (k seeded folds), by least_squares_of_varying. NaN where the training part is
// too small to fit.
std::vector<double> predict_held_out(const std::vector<std::vector<double>>& X, const std::vector<double>& y,
                                     const std::vector<int>& group,
                                     const std::vector<double>& weights = {});
std::vector<int> kfold_groups(int n, int k, std::uint64_t seed);

// Indices of points not dominated when minimising cost and maximising quality, by increasing cost.
std::vector<int> pareto_front(const std::vector<double>& cost, const std::vector<double>& quality);

}  // namespace sedenergy::analysis
