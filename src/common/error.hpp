// One error type for everything a user can get wrong or a system can refuse.
// The CLI turns it into one message and a non-zero exit code; nothing user-facing aborts.
#pragma once
#include <stdexcept>
#include <string>

namespace sedenergy {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Bad user input (options, files, specs). The CLI exits with 2 for these.
class InputError : public Error {
 public:
  using Error::Error;
};

// "<path>:<line>: <message>" or "<path>: <message>" when line is 0.
InputError file_error(const std::string& path, std::size_t line, const std::string& message);

}  // namespace sedenergy
