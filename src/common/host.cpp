#include "common/host.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "common/text.hpp"

namespace sedenergy {

HostInfo read_host_info() {
  HostInfo h;
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) == 0) h.hostname = name;
  utsname u{};
  if (uname(&u) == 0) h.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  std::ifstream osr("/etc/os-release");
  for (std::string line; std::getline(osr, line);) {
    if (starts_with(line, "PRETTY_NAME=")) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      h.distro = v;
    }
  }
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (starts_with(line, "model name")) {
      auto pos = line.find(':');
      if (pos != std::string::npos) h.cpu_model = trim(line.substr(pos + 1));
      break;
    }
  }
  h.cpu_count = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  h.ram_total_gb = read_memory_info().total_kib / (1024.0 * 1024.0);
  return h;
}

MemoryInfo read_memory_info(const std::string& meminfo) {
  MemoryInfo m;
  std::ifstream in(meminfo);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::string key;
    double kib = 0;
    ss >> key >> kib;
    if (key == "MemTotal:") m.total_kib = kib;
    if (key == "MemAvailable:") m.available_kib = kib;
  }
  return m;
}

CpuTimes read_cpu_times(const std::string& proc_stat) {
  std::ifstream in(proc_stat);
  std::string line;
  CpuTimes t;
  if (!std::getline(in, line) || !starts_with(line, "cpu ")) return t;
  std::istringstream ss(line.substr(4));
  std::uint64_t v[10] = {0};
  for (auto& x : v) {
    if (!(ss >> x)) break;
  }
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  std::uint64_t idle = v[3] + v[4];
  std::uint64_t total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
  t.total = total;
  t.busy = total - idle;
  return t;
}

double cpu_load_between(const CpuTimes& a, const CpuTimes& b) {
  if (b.total <= a.total) return 0.0;
  double load = static_cast<double>(b.busy - a.busy) / static_cast<double>(b.total - a.total);
  return load < 0 ? 0 : (load > 1 ? 1 : load);
}

double monotonic_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace sedenergy
