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

// The interval is the report's: under 9 values the median's distribution-free interval is [min, max].
TEST(Repetitions, TheIntervalRuleReadsTheMediansInterval) {
  const auto yes = MoreRepetitions::yes, no = MoreRepetitions::no, futile = MoreRepetitions::futile;
  EXPECT_EQ(more_repetitions({10, 10.2, 9.9}, 0.05, 10), no);    // [9.9, 10.2] around 10: within 5 %
  EXPECT_EQ(more_repetitions({10, 11, 9.9}, 0.05, 10), yes);     // 11 is 10 % above the median; 9 values drop it
  EXPECT_EQ(more_repetitions({8, 10, 10.1}, 0.05, 10), yes);     // 8 is 20 % below it
  EXPECT_EQ(more_repetitions({10, 11, 9.9}, 0.05, 3), no);       // the most repetitions reached
  EXPECT_EQ(more_repetitions({10, 11, 9.9}, 0, 10), no);         // off
  EXPECT_EQ(more_repetitions({10}, 0.05, 10), yes);              // one value has no interval
  // With 9 values the interval is the 2nd and 8th: one outlier on each side no longer widens it.
  EXPECT_EQ(more_repetitions({5, 10, 10.1, 10, 9.9, 10, 10.2, 20, 10.05}, 0.05, 10), no);
  EXPECT_EQ(more_repetitions({5, 10, 10.1, 10, 9.9, 10, 10.2, 20}, 0.05, 10), yes);  // 8: still [min, max]
}

// Up to 8 values the interval is [min, max], which more values only widen or keep: a spread over about twice
// the target can never come within it, so no repetition is spent on it. One that a median between the values
// could still bring within it gets another.
TEST(Repetitions, NoRepetitionIsSpentWhereNoneLeftCouldTightenTheInterval) {
  EXPECT_EQ(more_repetitions({10, 11, 9.9}, 0.05, 8), MoreRepetitions::futile);   // 11 / 9.9 = 1.11 > 1.05 / 0.95
  EXPECT_EQ(more_repetitions({10, 12}, 0.05, 8), MoreRepetitions::futile);
  // 10.7 is 6 % above the median 10.1, but two more at 10.2 make the median 10.2 and [10, 10.7] within 5 %.
  EXPECT_EQ(more_repetitions({10, 10.7, 10.1}, 0.05, 8), MoreRepetitions::yes);
  // So can one more, where it lands at 10.7: the median 10.4, [10, 10.7] within 5 %.
  EXPECT_EQ(more_repetitions({10, 10.7, 10.1}, 0.05, 4), MoreRepetitions::yes);
  // From 9 values on the extremes drop out: the same spread can be tightened by enough repetitions.
  EXPECT_EQ(more_repetitions({10, 12}, 0.05, 9), MoreRepetitions::yes);
}
