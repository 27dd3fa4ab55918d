// A study's repetition numbers and when a configuration gets more of them. Without LibTorch (unit-tested
// in the core). Numbers, for R planned repetitions:
//   1..R                 planned;
//   R + r, 2R + r, ...   re-runs of host-stalled repetition r, up to --stall-retries deep (each measures r's
//                        work again);
//   R (M + 1) + k        the k-th extra repetition the interval rule asked for (a new repetition), M being
//                        the most re-runs any study may ask for: past every re-run number whatever a resumed
//                        session's --stall-retries, so neither scheme can take the other's number.
#pragma once
#include <vector>

namespace sedenergy::runner {

inline constexpr int kMaxStallRetries = 10;  // --stall-retries' upper bound

struct RepetitionNumbers {
  int planned = 1;  // R

  int first_extra() const { return planned * (kMaxStallRetries + 1) + 1; }
  bool is_extra(int repetition) const { return repetition >= first_extra(); }
  // How many re-runs deep a repetition is (0: planned or extra).
  int retry_depth(int repetition) const;
  // The repetition whose draw a run is: r for r and its re-runs; R + k for the k-th extra. A learning run
  // trains from seed + stands_for - 1, so re-runs repeat their repetition's seed and extras take new ones.
  int stands_for(int repetition) const;
};

// The interval rule (--interval-target): whether a configuration's values (energy per epoch of one phase,
// one per repetition) call for another repetition. `yes`: fewer than `max_repetitions` of them and the
// report's interval of their median (stats::summarize's distribution-free one) wider than +/- target x the
// median, which more repetitions could still tighten. `futile`: wide, but no values the repetitions left
// could bring would tighten it (up to 8 values that interval is [min, max], which more values only widen
// or keep: a spread over about 2 x target stays wide), so none is spent on it. `no`: tight, the most
// reached, or target <= 0.
enum class MoreRepetitions { no, yes, futile };
MoreRepetitions more_repetitions(const std::vector<double>& values, double target, int max_repetitions);

}  // namespace sedenergy::runner
