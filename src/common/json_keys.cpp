#include "common/json_keys.hpp"

#include <fstream>
#include <iterator>
#include <set>

namespace sedenergy {

nlohmann::json read_json_object_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, 0, "cannot read the " + what);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // nlohmann keeps the last of two equal keys; a configuration that says two things must be refused.
  std::vector<std::set<std::string>> open_objects;
  const auto refuse_repeated_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Event::key && !open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second) {
      throw file_error(path, 0, what + ": key '" + parsed.get<std::string>() + "' is given twice");
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, refuse_repeated_keys);
  } catch (const nlohmann::json::exception& e) {  // syntax, or a number out of a double's range (1e400)
    throw file_error(path, 0, what + " is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw file_error(path, 0, what + " must be a JSON object");
  return j;
}

}  // namespace sedenergy
