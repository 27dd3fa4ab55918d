// Named grids of configurations: the study's 43 ("paper43") and a CPU-sized subset ("quick").
#pragma once
#include <string>
#include <vector>

#include "models/spec.hpp"

namespace sedenergy::models {

std::vector<ModelSpec> paper43();
std::vector<ModelSpec> quick_grid();
std::vector<ModelSpec> variants_grid();  // realistic variants and the DCASE baseline
// A grid file: {"name": "...", "description": "...", "models": ["mlp:1x512", "crnn:1x1:64x64+bi"]};
// unknown keys and bad specs are errors naming the file.
std::vector<ModelSpec> read_grid_file(const std::string& path);
// "paper43", "quick", "variants", a grid file (*.json), or a comma-separated list of specs.
std::vector<ModelSpec> resolve_grid(const std::string& name_or_list);

}  // namespace sedenergy::models
