// Range checks of numbers given by users (options, configuration files), with one wording everywhere.
#pragma once
#include <string>

namespace sedenergy {

// "[lo, hi]" or "(lo, hi]".
std::string range_text(double lo, double hi, bool open_low = false);
// "" when v is finite and in [lo, hi] ((lo, hi] with open_low); else why not, e.g. "nan is not a finite
// number (expected one in [0, 3600])" or "-5 is outside [0, 100]".
std::string out_of_range(double v, double lo, double hi, bool open_low = false);
// Throws InputError "OPTION: <why>" when out_of_range says so.
void check_in_range(const std::string& option, double v, double lo, double hi, bool open_low = false);

}  // namespace sedenergy
