#include <gtest/gtest.h>

#include "analysis/metrics.hpp"
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
