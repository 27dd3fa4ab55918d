// One spelling of "absent" (not measured, not recorded). A record's quantity, never negative when present,
// holds kAbsent (-1; a NULL in a file of an older schema reads as it). NaN is only a computation's "cannot be
// computed" (a statistic over nothing, a ratio by zero), and std::optional only a parse that may fail. At the
// edges: `or_nan` where statistics read a record, `or_null` where a JSON file shows one.
#pragma once
#include <cmath>

#include <nlohmann/json.hpp>

namespace sedenergy {

inline constexpr double kAbsent = -1;

inline bool present(double v) { return v >= 0 && std::isfinite(v); }
inline bool present(long long v) { return v >= 0; }
inline bool present(int v) { return v >= 0; }

inline double or_nan(double v) { return present(v) ? v : NAN; }

template <class T>
nlohmann::json or_null(T v) {
  return present(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace sedenergy
