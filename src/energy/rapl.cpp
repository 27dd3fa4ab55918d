#include "energy/rapl.hpp"

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/text.hpp"

namespace fs = std::filesystem;

namespace sedenergy::energy {
namespace {

bool read_number(const fs::path& p, double& value, std::string& error) {
  std::ifstream in(p);
  if (!in) {
    // The fix, exactly: which files, which permission (energy_uj is root-only since Linux 5.10).
    const std::string zones = p.parent_path().parent_path().string();
    error = p.string() + ": " + (errno == EACCES ? "permission denied: RAPL counters are root-only since Linux 5.10; "
                                                   "to measure CPU and DRAM, run as root or let all users read them "
                                                   "until reboot: sudo chmod o+r " + zones + "/intel-rapl:*/energy_uj " +
                                                   zones + "/intel-rapl:*/intel-rapl:*/energy_uj"
                                                 : std::string(std::strerror(errno)));
    return false;
  }
  std::string text;
  std::getline(in, text);
  if (!parse_double(trim(text), value)) {
    error = p.string() + ": not a number ('" + text + "')";
    return false;
  }
  return true;
}

}  // namespace

Rapl::Rapl(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    why_ = fs::exists(root, ec) ? "no RAPL here (" + root + " is not a folder)"
                                : "no RAPL here (" + root + " does not exist: not an Intel/AMD host with powercap, or a VM)";
    return;
  }
  // Packages are intel-rapl:N under the root; their sub-domains (core, uncore, dram) intel-rapl:N:M inside.
  std::vector<fs::path> zones;
  auto is_zone = [](const fs::path& p) {
    return starts_with(p.filename().string(), "intel-rapl:") && fs::exists(p / "energy_uj");
  };
  for (const auto& top : fs::directory_iterator(root, ec)) {
    if (!is_zone(top.path())) continue;
    zones.push_back(top.path());
    for (const auto& sub : fs::directory_iterator(top.path(), ec)) {
      if (is_zone(sub.path())) zones.push_back(sub.path());
    }
  }
  std::sort(zones.begin(), zones.end());
  std::string first_error;
  for (const auto& z : zones) {
    RaplDomain d;
    d.path = z.string();
    std::ifstream name(z / "name");
    std::getline(name, d.name);
    d.name = trim(d.name);
    double range_uj = 0, probe = 0;
    std::string error;
    if (!read_number(z / "max_energy_range_uj", range_uj, error) || !read_number(z / "energy_uj", probe, error)) {
      if (first_error.empty()) first_error = error;
      continue;
    }
    d.max_range_j = range_uj / 1e6;
    domains_.push_back(d);
  }
  if (domains_.empty()) why_ = first_error.empty() ? "no RAPL domain under " + root : first_error;
}

bool Rapl::read_j(const RaplDomain& d, double& joules, std::string& error) const {
  double uj = 0;
  if (!read_number(fs::path(d.path) / "energy_uj", uj, error)) return false;
  joules = uj / 1e6;
  return true;
}

double Rapl::delta_j(double before, double after, double max_range_j) {
  if (after >= before) return after - before;
  return max_range_j - before + after;  // wrapped once
}

}  // namespace sedenergy::energy
