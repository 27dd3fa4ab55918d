// CPU package and DRAM energy through Intel RAPL (powercap sysfs). The root path is a parameter so
// tests can point it at a fake tree.
#pragma once
#include <string>
#include <vector>

namespace sedenergy::energy {

struct RaplDomain {
  std::string path;      // .../intel-rapl:0 or .../intel-rapl:0:1
  std::string name;      // "package-0", "dram", "core", "uncore", "psys"
  double max_range_j = 0;  // the counter wraps at this value
};

class Rapl {
 public:
  explicit Rapl(const std::string& root = "/sys/class/powercap");
  bool available() const { return !domains_.empty(); }
  const std::string& why() const { return why_; }
  const std::vector<RaplDomain>& domains() const { return domains_; }
  // Reads a domain's counter in joules; false (with `error`) when it cannot be read.
  bool read_j(const RaplDomain& d, double& joules, std::string& error) const;
  // Energy between two readings of a counter that wraps at max_range_j (one wrap at most).
  static double delta_j(double before, double after, double max_range_j);

 private:
  std::vector<RaplDomain> domains_;
  std::string why_;
};

}  // namespace sedenergy::energy
