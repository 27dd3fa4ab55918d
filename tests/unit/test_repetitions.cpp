// Repetition numbers (planned, stall re-runs, extras) and the interval rule (runner/repetitions.hpp).
#include <gtest/gtest.h>

#include "runner/repetitions.hpp"

using namespace sedenergy::runner;

TEST(Repetitions, ReRunsAndExtrasNeverShareANumber) {
  const RepetitionNumbers n{3};
  EXPECT_EQ(n.first_extra(), 3 * (kMaxStallRetries + 1) + 1);
  for (int r = 1; r <= 3; ++r) {
    EXPECT_EQ(n.retry_depth(r), 0);
    EXPECT_EQ(n.stands_for(r), r);
    for (int depth = 1; depth <= kMaxStallRetries; ++depth) {  // every re-run any --stall-retries may ask for
      const int again = r + depth * 3;
      EXPECT_FALSE(n.is_extra(again)) << again;
      EXPECT_EQ(n.retry_depth(again), depth) << again;
      EXPECT_EQ(n.stands_for(again), r) << again;  // the same work (and seed) again
    }
  }
  for (int k = 1; k <= 5; ++k) {
    const int extra = n.first_extra() + k - 1;
    EXPECT_TRUE(n.is_extra(extra));
    EXPECT_EQ(n.retry_depth(extra), 0);
    EXPECT_EQ(n.stands_for(extra), 3 + k);  // a new draw: seed + R + k - 1
  }
}

// The interval is the report's: under 6 values the median's distribution-free interval is [min, max].
TEST(Repetitions, TheIntervalRuleReadsTheMediansInterval) {
  EXPECT_FALSE(interval_too_wide({10, 10.2, 9.9}, 0.05, 10));   // [9.9, 10.2] around 10: within 5 %
  EXPECT_TRUE(interval_too_wide({10, 11, 9.9}, 0.05, 10));      // 11 is 10 % above the median
  EXPECT_TRUE(interval_too_wide({8, 10, 10.1}, 0.05, 10));      // 8 is 20 % below it
  EXPECT_FALSE(interval_too_wide({10, 11, 9.9}, 0.05, 3));      // the most repetitions reached
  EXPECT_FALSE(interval_too_wide({10, 11, 9.9}, 0, 10));        // off
  EXPECT_TRUE(interval_too_wide({10}, 0.05, 10));               // one value has no interval
  // With 9 values the interval is the 2nd and 8th: one outlier on each side no longer widens it.
  EXPECT_FALSE(interval_too_wide({5, 10, 10.1, 10, 9.9, 10, 10.2, 20, 10.05}, 0.05, 10));
  EXPECT_TRUE(interval_too_wide({5, 10, 10.1, 10, 9.9, 10, 10.2, 20}, 0.05, 10));  // 8: still [min, max]
}
