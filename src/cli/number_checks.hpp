// One home for the checks of option values: every command declares the range of each number it takes
// with these validators, so NaN, infinities, negative counts and absurd sizes are refused by the option's
// name before any work (CLI11 prints "--OPTION: ..." and the program exits with 2).
#pragma once
#include <CLI/CLI.hpp>

namespace sedenergy::cli {

// A finite number in [lo, hi].
CLI::Validator finite_in(double lo, double hi);
// A finite number in (lo, hi]: for values that must be strictly positive and the like.
CLI::Validator finite_above(double lo, double hi);
// A whole number in [lo, hi] (no fraction, no exponent tricks: "1e3" is refused for an integer option).
CLI::Validator whole_in(long long lo, long long hi);

// Every option of `app` and its subcommands that takes a value refuses an empty one ("--country ''" is a
// mistake, never a choice: leaving the option out is how to ask for its default). Positional arguments
// (a measured program's arguments) are left as given.
void refuse_empty_values(CLI::App& app);

}  // namespace sedenergy::cli
