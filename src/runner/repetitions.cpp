#include "runner/repetitions.hpp"

#include <algorithm>
#include <cmath>

#include "analysis/stats.hpp"

namespace sedenergy::runner {

int RepetitionNumbers::retry_depth(int repetition) const {
  if (is_extra(repetition) || repetition <= planned) return 0;
  return (repetition - 1) / planned;
}

int RepetitionNumbers::stands_for(int repetition) const {
  if (is_extra(repetition)) return planned + repetition - first_extra() + 1;
  return (repetition - 1) % planned + 1;
}

namespace {
// The median's interval wider than +/- target x the median; false where nothing positive was measured.
bool wider(const std::vector<double>& values, double target) {
  const auto s = analysis::summarize(values);
  if (!(s.median > 0)) return false;
  return s.median_ci.hi - s.median > target * s.median || s.median - s.median_ci.lo > target * s.median;
}

// Whether repetitions more, up to `most` in all, could make the interval tight at all. Tried in the best case:
// every new value at one level m (values spread out only push the interval's order statistics apart), m over
// the values' range in 256 steps.
bool could_tighten(const std::vector<double>& values, double target, int most) {
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const double a = *lo, b = *hi;
  for (auto total = values.size() + 1; total <= static_cast<std::size_t>(most); ++total) {
    for (int i = 0; i <= 256; ++i) {
      auto v = values;
      v.resize(total, a + (b - a) * i / 256);
      if (!wider(v, target)) return true;
    }
  }
  return false;
}
}  // namespace

MoreRepetitions more_repetitions(const std::vector<double>& values, double target, int max_repetitions) {
  if (target <= 0 || static_cast<int>(values.size()) >= max_repetitions) return MoreRepetitions::no;
  if (values.size() < 2) return MoreRepetitions::yes;
  if (!wider(values, target)) return MoreRepetitions::no;
  return could_tighten(values, target, max_repetitions) ? MoreRepetitions::yes : MoreRepetitions::futile;
}

}  // namespace sedenergy::runner
