#include "common/number_check.hpp"

#include <cmath>
#include <cstdio>

#include "common/error.hpp"

namespace sedenergy {
namespace {

// 3600 as "3600" and 0.01 as "0.01", not in exponent form; huge or tiny values keep their exponent.
std::string plain(double v) {
  char buf[48];
  if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e18) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

}  // namespace

std::string range_text(double lo, double hi, bool open_low) {
  return std::string(open_low ? "(" : "[") + plain(lo) + ", " + plain(hi) + "]";
}

std::string out_of_range(double v, double lo, double hi, bool open_low) {
  const std::string range = range_text(lo, hi, open_low);
  if (!std::isfinite(v)) return plain(v) + " is not a finite number (expected one in " + range + ")";
  if ((open_low ? v <= lo : v < lo) || v > hi) return plain(v) + " is outside " + range;
  return "";
}

void check_in_range(const std::string& option, double v, double lo, double hi, bool open_low) {
  const std::string why = out_of_range(v, lo, hi, open_low);
  if (!why.empty()) throw InputError(option + ": " + why);
}

}  // namespace sedenergy
