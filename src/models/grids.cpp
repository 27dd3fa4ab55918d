#include "models/grids.hpp"

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"

namespace sedenergy::models {

namespace {
std::vector<ModelSpec> parse_all(std::initializer_list<const char*> specs) {
  std::vector<ModelSpec> out;
  for (const char* s : specs) out.push_back(parse_spec(s));
  return out;
}
}  // namespace

std::vector<ModelSpec> paper43() {
  // docs/FACTS.md §1.2, in the study's order.
  return parse_all({
      "mlp:1x512",  "mlp:1x1024",  "mlp:1x2048",  "mlp:4x1024",  "mlp:4x2048",  "mlp:4x4096",
      "mlp:6x4096", "mlp:10x4096", "mlp:16x4096", "mlp:32x4096",
      "cnn:1x128",  "cnn:1x256",   "cnn:1x512",   "cnn:1x1024",  "cnn:2x128",   "cnn:2x256",
      "cnn:2x384",  "cnn:2x512",   "cnn:2x768",   "cnn:2x1024",  "cnn:6x384",   "cnn:6x768",
      "rnn:1x128",  "rnn:1x512",   "rnn:1x1024",  "rnn:1x2048",  "rnn:4x1024",  "rnn:4x2048",
      "rnn:6x1024", "rnn:6x2048",  "rnn:2x2048",  "rnn:10x2048", "rnn:14x2048",
      "crnn:1x1:64x64",   "crnn:2x1:64x64",   "crnn:1x2:64x64",   "crnn:1x1:256x64",  "crnn:1x1:512x256",
      "crnn:1x2:512x256", "crnn:2x1:512x256", "crnn:1x2:1024x256", "crnn:2x2:728x256", "crnn:2x2:1024x256"});
}

std::vector<ModelSpec> quick_grid() {
  // Two small configurations per family from paper43: minutes on two CPU cores.
  return parse_all({"mlp:1x512", "mlp:4x1024", "cnn:1x128", "cnn:2x128",
                    "rnn:1x128", "rnn:1x512", "crnn:1x1:64x64", "crnn:2x1:64x64"});
}

std::vector<ModelSpec> variants_grid() {
  // The realistic variants beyond the study, with the DCASE baseline as the reference model.
  return parse_all({"rnn:1x512+time", "rnn:2x256+time+bi", "rnn:2x256+time+lstm", "crnn:2x1:64x64+time",
                    "crnn:2x2:128x128+time+bi+bn", "crnn:2x1:64x64+lstm", "cnn:2x128+bn", "dcase-baseline"});
}

std::vector<ModelSpec> read_grid_file(const std::string& path) {
  const auto j = read_json_object_file(path, "grid file");
  refuse_unknown_keys(j, {"name", "description", "models"}, "grid file '" + path + "'");
  if (!j.contains("models") || !j["models"].is_array() || j["models"].empty()) {
    throw InputError("grid file '" + path + "': \"models\" must be a non-empty list of model specs");
  }
  std::vector<ModelSpec> out;
  for (const auto& m : j["models"]) {
    if (!m.is_string()) throw InputError("grid file '" + path + "': every entry of \"models\" must be a string");
    try {
      out.push_back(parse_spec(m.get<std::string>()));
    } catch (const InputError& e) {
      throw InputError("grid file '" + path + "': " + e.what());
    }
  }
  return out;
}

namespace {

// A configuration listed twice would be run and counted twice under one key: refused, by its canonical name
// (so "mlp:1x512" and " mlp:1x512 " are the same).
std::vector<ModelSpec> refuse_duplicates(std::vector<ModelSpec> specs, const std::string& grid) {
  std::set<std::string> seen;
  for (const auto& s : specs) {
    if (!seen.insert(s.name()).second) {
      throw InputError("grid '" + grid + "' lists " + s.name() + " twice (each configuration once; --repetitions "
                       "repeats them)");
    }
  }
  return specs;
}

}  // namespace

std::vector<ModelSpec> resolve_grid(const std::string& name) {
  if (name.size() > 5 && name.substr(name.size() - 5) == ".json") return refuse_duplicates(read_grid_file(name), name);
  if (name == "paper43") return paper43();
  if (name == "quick") return quick_grid();
  if (name == "variants") return variants_grid();
  if (name.find(':') == std::string::npos && name.find("dcase-baseline") == std::string::npos) {
    throw InputError("unknown grid '" + name + "' (known: paper43, quick, variants, a grid file ending in .json, or a "
                     "comma-separated list of specs such as mlp:1x512,cnn:2x128,dcase-baseline)");
  }
  std::vector<ModelSpec> out;
  for (const auto& part : split(name, ',')) {
    if (trim(part).empty()) continue;
    out.push_back(parse_spec(part));
  }
  if (out.empty()) throw InputError("grid '" + name + "' lists no model");
  return refuse_duplicates(std::move(out), name);
}

}  // namespace sedenergy::models
