// JSON helpers. Objects given as JSON (the C API's options and records): a key the reader does not know is
// refused by name, with the keys it knows, rather than ignored. JSON text that survives non-UTF-8 names.
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

// A JSON object read from a file the user wrote (a study configuration, a grid): every error names the
// file ("not valid JSON: ... line 3, column 9", a number too large for a double, a key given twice in one
// object, not an object), never a raw library exception.
nlohmann::json read_json_object_file(const std::string& path, const std::string& what);

// JSON text of `j` that never throws for names that are not UTF-8 (file names, command lines, user labels
// come as bytes): invalid bytes become U+FFFD instead of a type error reaching the user.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sedenergy
