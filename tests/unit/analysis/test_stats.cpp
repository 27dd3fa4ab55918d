#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "analysis/metrics.hpp"
#include "analysis/stats.hpp"
#include "analysis/study_analysis.hpp"
#include "common/error.hpp"

using namespace sedenergy;

TEST(Metrics, AveragePrecisionByHand) {
  // Ranked scores: pos, neg, pos, neg -> precision at the positives 1/1 and 2/3.
  EXPECT_DOUBLE_EQ(analysis::average_precision({0.9f, 0.8f, 0.7f, 0.1f}, {1, 0, 1, 0}), (1.0 + 2.0 / 3) / 2);
  EXPECT_DOUBLE_EQ(analysis::average_precision({0.2f, 0.9f}, {1, 0}), 0.5);
  // Ties rank negatives first: no credit for a constant score.
  EXPECT_DOUBLE_EQ(analysis::average_precision({0.5f, 0.5f}, {1, 0}), 0.5);
  EXPECT_EQ(analysis::average_precision({0.5f, 0.4f}, {0, 0}), -1);  // no positive: undefined
}

TEST(Metrics, ChanceMapIsAConstantModelsMap) {
  // 4 clips x 2 classes; class 0 has one positive (ranked last: 1/4), class 1 two (1/3 and 2/4).
  const std::vector<float> targets = {1, 1, 0, 1, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(analysis::chance_map(targets, 2), (0.25 + (1.0 / 3 + 0.5) / 2) / 2);
}

TEST(Metrics, TaggingMetricsByHand) {
  // 3 clips x 2 classes.
  const std::vector<float> scores = {0.9f, 0.2f,   // right, right
                                     0.6f, 0.7f,   // right, wrong (false positive on class 1)
                                     0.1f, 0.4f};  // wrong (missed class 0), right
  const std::vector<float> targets = {1, 0, 1, 0, 1, 0};
  auto m = analysis::tagging_metrics(scores, targets, 2);
  EXPECT_DOUBLE_EQ(m.accuracy, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.label_accuracy, 4.0 / 6);
  // Class 0: tp 2, fn 1 -> F1 4/5; class 1: tp 0, fp 1 -> F1 0.
  EXPECT_DOUBLE_EQ(m.f1[0], 0.8);
  EXPECT_DOUBLE_EQ(m.f1[1], 0.0);
  EXPECT_DOUBLE_EQ(m.f1_macro, 0.4);
  // Class 0 ranked 0.9, 0.6, 0.1 all positives: AP 1; class 1 has no positive: left out of mAP.
  EXPECT_DOUBLE_EQ(m.ap[0], 1.0);
  EXPECT_EQ(m.ap[1], -1);
  EXPECT_DOUBLE_EQ(m.map, 1.0);
  EXPECT_THROW(analysis::tagging_metrics({0.1f}, {1, 0}, 2), Error);
}

TEST(Stats, SummariesAndCorrelationsByHand) {
  auto s = analysis::summarize({1, 2, 3, 4, NAN});
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_NEAR(s.sd, 1.2909944, 1e-6);
  EXPECT_NEAR(s.ci95.hi - s.mean, 3.182 * s.sd / 2, 1e-9);  // t(3) = 3.182
  EXPECT_TRUE(std::isnan(analysis::summarize({5}).ci95.lo));
  // The median's order-statistic interval: [min, max] for 3 values (coverage 1 - 2/8); for 10 values the
  // 2nd and 9th (coverage 1 - 2 x 11/1024), as binomial tables give.
  auto three = analysis::summarize({9, 1, 5});
  EXPECT_EQ(three.median_ci.lo, 1);
  EXPECT_EQ(three.median_ci.hi, 9);
  EXPECT_DOUBLE_EQ(three.median_coverage, 0.75);
  auto ten = analysis::summarize({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_EQ(ten.median_ci.lo, 2);
  EXPECT_EQ(ten.median_ci.hi, 9);
  EXPECT_NEAR(ten.median_coverage, 1 - 22.0 / 1024, 1e-12);
  EXPECT_NEAR(analysis::pearson({1, 2, 3, 4}, {2, 4, 6, 8}), 1.0, 1e-12);
  EXPECT_NEAR(analysis::pearson({1, 2, 3}, {1, 3, 2}), 0.5, 1e-12);
  EXPECT_TRUE(std::isnan(analysis::pearson({1, 2, 3}, {5, 5, 5})));  // constant: undefined, not 0
  EXPECT_EQ(analysis::ranks({10, 20, 20, 5}), (std::vector<double>{2, 3.5, 3.5, 1}));
  EXPECT_NEAR(analysis::spearman({1, 2, 3, 4}, {1, 8, 27, 64}), 1.0, 1e-12);  // monotone
}

TEST(Stats, BootstrapIsSeededAndCoversTheStatistic) {
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, y = {1.2, 1.9, 3.3, 3.8, 5.1, 6.3, 6.8, 8.1, 9.2, 9.9};
  auto stat = [&](const std::vector<int>& idx) {
    std::vector<double> a, b;
    for (int i : idx) a.push_back(x[i]), b.push_back(y[i]);
    return analysis::pearson(a, b);
  };
  auto ci = analysis::bootstrap_ci(10, stat, 1000, 3);
  auto again = analysis::bootstrap_ci(10, stat, 1000, 3);
  EXPECT_EQ(ci.lo, again.lo);
  EXPECT_LE(ci.lo, analysis::pearson(x, y));
  EXPECT_GE(ci.hi, analysis::pearson(x, y));
  EXPECT_GT(ci.lo, 0.95);
  EXPECT_TRUE(std::isnan(analysis::bootstrap_ci(2, stat).lo));  // too few points: no interval
}

// The contrast of two statistics: its interval from their kept draws, paired or independent. Two samples whose
// values differ by 0.1 exactly: the paired contrast is 0.1 in every resample; drawn independently, the samples'
// own spread (sd 1) makes the difference's interval include 0. A ratio of draws that are each 2x: 2.
TEST(Stats, ContrastIntervalsFromKeptDraws) {
  std::vector<double> x(40), y(40);
  for (int i = 0; i < 40; ++i) x[i] = std::sin(i * 1.7) * 1.4, y[i] = x[i] + 0.1;
  auto mean = [](const std::vector<double>& v) {
    return [&v](const std::vector<int>& idx) {
      double s = 0;
      for (int i : idx) s += v[i];
      return s / static_cast<double>(idx.size());
    };
  };
  analysis::Draws dx, dy;
  const auto ix = analysis::bootstrap_ci(40, mean(x), 1000, 5, &dx);
  const auto iy = analysis::bootstrap_ci(40, mean(y), 1000, 5, &dy);
  ASSERT_EQ(dx.size(), 1000u);  // one per resample, in resample order
  EXPECT_LT(iy.lo, ix.hi);      // the two intervals overlap
  const auto paired = analysis::contrast_interval(dy, dx, analysis::Contrast::difference, true);
  EXPECT_NEAR(paired.lo, 0.1, 1e-12);
  EXPECT_NEAR(paired.hi, 0.1, 1e-12);
  const auto independent = analysis::contrast_interval(dy, dx, analysis::Contrast::difference, false);
  EXPECT_LT(independent.lo, 0);
  EXPECT_GT(independent.hi, 0.2);
  EXPECT_EQ(independent.lo, analysis::contrast_interval(dy, dx, analysis::Contrast::difference, false).lo);  // seeded
  analysis::Draws twice;
  for (double d : dx) twice.push_back(2 * (d + 3));
  for (double& d : dx) d += 3;
  const auto ratio = analysis::contrast_interval(twice, dx, analysis::Contrast::ratio, true);
  EXPECT_NEAR(ratio.lo, 2, 1e-12);
  EXPECT_NEAR(ratio.hi, 2, 1e-12);
  // Resamples without a value stay in place as NaN; under 90 % finite pairs, no interval.
  analysis::Draws gappy(1000, NAN);
  for (int i = 0; i < 800; ++i) gappy[i] = 1;
  EXPECT_TRUE(std::isnan(analysis::contrast_interval(gappy, dx, analysis::Contrast::difference, true).lo));
  EXPECT_TRUE(std::isnan(analysis::contrast_interval({}, dx, analysis::Contrast::difference, false).lo));
  std::vector<analysis::Draws> two;
  analysis::bootstrap_two_samples(5, 5, 2, [](const std::vector<int>& a, const std::vector<int>&) {
    return std::vector<double>{a[0] == 0 ? NAN : 1.0, 2.0};  // the first statistic fails in about 1 of 5
  }, 100, 7, &two);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].size(), 100u);
  EXPECT_TRUE(std::isnan(two[1][std::find_if(two[0].begin(), two[0].end(), [](double v) { return std::isnan(v); }) - two[0].begin()]));
}

TEST(Stats, LeastSquaresCrossValidationAndPareto) {
  // y = 1 + 2 a - 3 b exactly, with predictors of very different scales.
  std::vector<std::vector<double>> X;
  std::vector<double> y;
  for (int i = 0; i < 12; ++i) {
    const double a = 1e12 * (i + 1), b = (i * 7) % 5;
    X.push_back({a, b});
    y.push_back(1 + 2e-12 * a - 3 * b);
  }
  auto f = analysis::least_squares(X, y);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.coef[0], 1, 1e-6);
  EXPECT_NEAR(f.coef[1], 2e-12, 1e-18);
  EXPECT_NEAR(f.coef[2], -3, 1e-6);
  EXPECT_NEAR(f.r2, 1, 1e-12);
  // Held out, an exact linear law is still predicted exactly.
  auto pred = analysis::predict_held_out(X, y, analysis::kfold_groups(12, 4, 1));
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(pred[i], y[i], 1e-6);
  EXPECT_NEAR(analysis::mape_pct({100, 200}, {110, 180}), 10, 1e-9);
  EXPECT_FALSE(analysis::least_squares({{1}, {1}, {1}}, {1, 2, 3}).ok);  // constant predictor
  // Unless it is left out: a cost no fitted row has is priced at zero, the others still recovered.
  std::vector<std::vector<double>> Z;
  for (const auto& x : X) Z.push_back({x[0], 0.0, x[1]});
  auto v = analysis::least_squares_of_varying(Z, y);
  ASSERT_TRUE(v.ok);
  ASSERT_EQ(v.coef.size(), 4u);
  EXPECT_NEAR(v.coef[1], 2e-12, 1e-18);
  EXPECT_EQ(v.coef[2], 0);
  EXPECT_NEAR(v.coef[3], -3, 1e-6);
  // Held out: the group that alone has the third cost is predicted without it (every other row exactly).
  Z[11][1] = 1, y[11] += 5;
  std::vector<int> group(12, 0);
  group[11] = group[10] = 1;
  pred = analysis::predict_held_out(Z, y, group);
  EXPECT_NEAR(pred[11], y[11] - 5, 1e-6);
  EXPECT_NEAR(pred[10], y[10], 1e-6);
  EXPECT_TRUE(std::isnan(pred[0]));  // the two rows of group 1 cannot fit three coefficients
  EXPECT_FALSE(analysis::least_squares({{1}, {2}}, {1, 2}).ok);          // no degree of freedom left
  // Pareto: (cost, quality) -> the cheapest, then each that improves quality.
  EXPECT_EQ(analysis::pareto_front({5, 1, 3, 4, 2}, {0.9, 0.2, 0.5, 0.4, 0.2}), (std::vector<int>{1, 2, 0}));
}
