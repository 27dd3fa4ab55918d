#include "common/error.hpp"

namespace sedenergy {

InputError file_error(const std::string& path, std::size_t line, const std::string& message) {
  if (line == 0) return InputError(path + ": " + message);
  return InputError(path + ":" + std::to_string(line) + ": " + message);
}

}  // namespace sedenergy
