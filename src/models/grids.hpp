// Named grids of configurations: the study's 43 ("paper43") and a CPU-sized subset ("quick").
#pragma once
#include <string>
#include <vector>

#include "models/spec.hpp"

namespace sedenergy::models {

std::vector<ModelSpec> paper43();
std::vector<ModelSpec> quick_grid();
std::vector<ModelSpec> variants_grid();  // realistic variants and the DCASE baseline
// "paper43", "quick", "variants", or a comma-separated list of specs ("mlp:1x512,cnn:2x128").
std::vector<ModelSpec> resolve_grid(const std::string& name_or_list);

}  // namespace sedenergy::models
