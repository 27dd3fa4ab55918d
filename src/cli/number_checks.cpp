#include "cli/number_checks.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "common/number_check.hpp"

namespace sedenergy::cli {
namespace {

// The value of `text` as a finite double; false for anything else (NaN, inf, trailing characters).
bool finite_number(const std::string& text, double& v) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtod(text.c_str(), &end);
  return end && *end == 0 && errno != ERANGE && std::isfinite(v);
}

CLI::Validator number_validator(double lo, double hi, bool open_low) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        if (!finite_number(text, v)) {
          return "'" + text + "' is not a finite number (expected one in " + range_text(lo, hi, open_low) + ")";
        }
        return out_of_range(v, lo, hi, open_low);
      },
      "NUMBER");
}

}  // namespace

CLI::Validator finite_in(double lo, double hi) { return number_validator(lo, hi, false); }
CLI::Validator finite_above(double lo, double hi) { return number_validator(lo, hi, true); }

CLI::Validator whole_in(long long lo, long long hi) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || !end || *end != 0 || errno == ERANGE) {
          return "'" + text + "' is not a whole number (expected one in " + range_text(lo, hi) + ")";
        }
        return out_of_range(static_cast<double>(v), static_cast<double>(lo), static_cast<double>(hi));
      },
      "INTEGER");
}

void refuse_empty_values(CLI::App& app) {
  static const CLI::Validator non_empty(
      [](std::string& text) -> std::string {
        return text.empty() ? "an empty value (leave the option out for its default)" : std::string();
      },
      "");
  for (CLI::Option* o : app.get_options()) {
    if (o->nonpositional() && o->get_items_expected_max() > 0) o->check(non_empty);
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) refuse_empty_values(*sub);
}

}  // namespace sedenergy::cli
