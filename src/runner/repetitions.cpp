#include "runner/repetitions.hpp"

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

bool interval_too_wide(const std::vector<double>& values, double target, int max_repetitions) {
  if (target <= 0 || static_cast<int>(values.size()) >= max_repetitions) return false;
  if (values.size() < 2) return true;
  const auto s = analysis::summarize(values);
  if (!(s.median > 0)) return false;  // nothing measured to tighten
  return s.median_ci.hi - s.median > target * s.median || s.median - s.median_ci.lo > target * s.median;
}

}  // namespace sedenergy::runner
