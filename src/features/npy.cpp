#include "features/npy.hpp"

#include <cstring>
#include <fstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"

namespace sedenergy::features {

void write_npy(const std::string& path, const std::vector<float>& data, const std::vector<long long>& shape) {
  long long count = 1;
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    count *= shape[i];
    dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
  }
  if (count != static_cast<long long>(data.size())) throw Error("write_npy: shape does not match data");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' padded to a multiple of 64.
  std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const unsigned short len = static_cast<unsigned short>(header.size());
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(len & 0xFF);
  bytes += static_cast<char>(len >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float));
  write_file(path, bytes);
}

std::vector<float> read_npy(const std::string& path, std::vector<long long>& shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, 0, "cannot open");
  char magic[10];
  if (!in.read(magic, 10) || std::memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] != 1) {
    throw file_error(path, 0, "not a version 1 .npy file");
  }
  const std::size_t len = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
  std::string header(len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(len))) throw file_error(path, 0, "truncated header");
  if (header.find("'<f4'") == std::string::npos || header.find("False") == std::string::npos) {
    throw file_error(path, 0, "only little-endian float32 C-order arrays are supported");
  }
  auto open = header.find('('), close = header.find(')');
  shape.clear();
  long long count = 1;
  for (const auto& part : split(header.substr(open + 1, close - open - 1), ',')) {
    long long v = 0;
    if (trim(part).empty()) continue;
    if (!parse_int(trim(part), v) || v < 0) throw file_error(path, 0, "bad shape in header");
    shape.push_back(v);
    count *= v;
  }
  std::vector<float> data(static_cast<std::size_t>(count));
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(count * sizeof(float)))) {
    throw file_error(path, 0, "truncated data");
  }
  return data;
}

}  // namespace sedenergy::features
