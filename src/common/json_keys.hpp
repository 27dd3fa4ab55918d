// Objects given as JSON (the C API's options and records): a key the reader does not know is refused by
// name, with the keys it knows, rather than ignored.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy {

inline void refuse_unknown_keys(const nlohmann::json& object, const std::vector<std::string>& known,
                                const std::string& what) {
  if (!object.is_object()) throw InputError(what + ": expected a JSON object");
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw InputError(what + ": unknown key '" + key + "' (known: " + join(known, ", ") + ")");
    }
  }
}

}  // namespace sedenergy
