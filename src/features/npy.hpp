// NumPy .npy (format 1.0) writer and reader for float32 arrays, so features can be inspected in Python.
#pragma once
#include <string>
#include <vector>

namespace sedenergy::features {

void write_npy(const std::string& path, const std::vector<float>& data, const std::vector<long long>& shape);
// Reads a little-endian float32 C-order array; throws InputError on anything else.
std::vector<float> read_npy(const std::string& path, std::vector<long long>& shape);

}  // namespace sedenergy::features
