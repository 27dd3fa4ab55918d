#include "common/host.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/text.hpp"

namespace sedenergy {

namespace {
std::string host_name() {
  char name[256] = {0};
  return gethostname(name, sizeof name - 1) == 0 ? name : "";
}
}  // namespace

HostInfo read_host_info() {
  HostInfo h;
  h.hostname = host_name();
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

namespace {

// "0-3,8,10-11" -> 7; 0 when the list does not parse.
int count_cpu_list(const std::string& list) {
  int n = 0;
  for (const auto& part : split(trim(list), ',')) {
    const auto dash = part.find('-');
    long long a = 0, b = 0;
    if (dash == std::string::npos ? !parse_int(trim(part), a) : !parse_int(trim(part.substr(0, dash)), a) ||
                                                                     !parse_int(trim(part.substr(dash + 1)), b)) {
      return 0;
    }
    n += dash == std::string::npos ? 1 : static_cast<int>(b - a + 1);
  }
  return n;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return trim(line);
}

void take_smaller(CpuAllocation& a, double cpus, const std::string& source) {
  if (cpus > 0 && (a.cpus == 0 || cpus < a.cpus)) a = {cpus, source};
}

}  // namespace

CpuAllocation read_cpu_allocation(const char* slurm_cpus, const std::string& proc_self_cgroup,
                                  const std::string& cgroup_root) {
  CpuAllocation a;
  long long slurm = 0;
  if (slurm_cpus && parse_int(trim(slurm_cpus), slurm)) take_smaller(a, static_cast<double>(slurm), "SLURM_CPUS_ON_NODE");
  // Lines "ID:CONTROLLERS:PATH": cgroup v2 has no controllers and one tree; v1 one tree per controller set.
  std::ifstream in(proc_self_cgroup);
  for (std::string line; std::getline(in, line);) {
    const auto f = split(line, ':');
    if (f.size() < 3) continue;
    const auto controllers = split(f[1], ',');
    const bool v2 = f[1].empty();
    const bool cpu = v2 || std::find(controllers.begin(), controllers.end(), "cpu") != controllers.end();
    const bool cpuset = v2 || std::find(controllers.begin(), controllers.end(), "cpuset") != controllers.end();
    if (!cpu && !cpuset) continue;
    const std::string tree = cgroup_root + (v2 ? "" : "/" + f[1]);
    // The limit may sit on any ancestor (a Slurm job's cgroup above its step's): walk up to the root.
    for (std::filesystem::path dir = trim(f[2]);; dir = dir.parent_path()) {
      const std::string at = tree + (dir.string() == "/" ? "" : dir.string());
      double quota = 0, period = 0;
      if (cpu && v2) {
        const auto max = split(first_line(at + "/cpu.max"), ' ');
        if (max.size() == 2 && parse_double(max[0], quota) && parse_double(max[1], period) && period > 0) {
          take_smaller(a, quota / period, "cgroup cpu.max");
        }
      } else if (cpu && parse_double(first_line(at + "/cpu.cfs_quota_us"), quota) && quota > 0 &&
                 parse_double(first_line(at + "/cpu.cfs_period_us"), period) && period > 0) {
        take_smaller(a, quota / period, "cgroup cpu.cfs_quota_us");
      }
      if (cpuset) {
        take_smaller(a, count_cpu_list(first_line(at + (v2 ? "/cpuset.cpus.effective" : "/cpuset.effective_cpus"))),
                     "cgroup cpuset");
      }
      if (dir.empty() || dir == dir.root_path()) break;
    }
  }
  return a;
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

double process_cpu_seconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return s(u.ru_utime) + s(u.ru_stime);
}

double cpu_load_between(const CpuTimes& a, const CpuTimes& b) {
  if (b.total <= a.total) return 0.0;
  double load = static_cast<double>(b.busy - a.busy) / static_cast<double>(b.total - a.total);
  return load < 0 ? 0 : (load > 1 ? 1 : load);
}

namespace {
// The fields of <proc_root>/<pid>/stat after "pid (comm)": [0] state, [1] ppid, ... [19] start time.
// comm may hold spaces and parentheses, so the fields start after the last ')'. Empty when unreadable.
std::vector<std::string> stat_fields(int pid, const std::string& proc_root) {
  std::ifstream f(proc_root + "/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return {};
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string x; rest >> x;) fields.push_back(x);
  return fields;
}
}  // namespace

int parent_pid(int pid, const std::string& proc_root) {
  const auto fields = stat_fields(pid, proc_root);
  long long ppid = 0;
  return fields.size() > 1 && parse_int(fields[1], ppid) ? static_cast<int>(ppid) : 0;
}

double process_cpu_seconds(int pid, const std::string& proc_root) {
  const auto fields = stat_fields(pid, proc_root);  // from the state on: utime and stime are the 12th and 13th
  long long user = 0, sys = 0;
  if (fields.size() <= 12 || !parse_int(fields[11], user) || !parse_int(fields[12], sys)) return 0;
  return static_cast<double>(user + sys) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string process_identity(int pid, const std::string& proc_root) {
  const auto fields = stat_fields(pid, proc_root);
  return host_name() + ":" + std::to_string(pid) + ":" + (fields.size() > 19 ? fields[19] : "?");
}

bool process_may_be_running(const std::string& identity, const std::string& proc_root) {
  const auto last = identity.rfind(':');
  const auto mid = last == std::string::npos || last == 0 ? std::string::npos : identity.rfind(':', last - 1);
  if (mid == std::string::npos) return true;  // not an identity this program wrote: leave it alone
  long long pid = 0;
  if (identity.substr(0, mid) != host_name()) return true;  // another machine: cannot tell
  if (!parse_int(identity.substr(mid + 1, last - mid - 1), pid) || pid <= 0) return true;
  const auto fields = stat_fields(static_cast<int>(pid), proc_root);
  return fields.size() > 19 && fields[19] == identity.substr(last + 1);
}

bool process_visible(int pid, const std::string& proc_root) {
  std::error_code ec;
  return pid > 0 && std::filesystem::is_directory(proc_root + "/" + std::to_string(pid), ec);
}

bool in_process_tree(int pid, int root, const std::string& proc_root) {
  for (int depth = 0; pid > 0 && depth < 256; ++depth) {  // bounded: a corrupt tree must not loop
    if (pid == root) return true;
    if (pid == 1) return false;
    pid = parent_pid(pid, proc_root);
  }
  return false;
}

double monotonic_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

std::vector<int> cpu_share(const std::vector<int>& cpus, int k, int count) {
  if (cpus.empty() || count <= 1) return cpus;
  const std::size_t each = std::max<std::size_t>(1, cpus.size() / static_cast<std::size_t>(count));
  const std::size_t from = std::min(cpus.size() - each, each * static_cast<std::size_t>(std::max(0, k)));
  return {cpus.begin() + static_cast<std::ptrdiff_t>(from), cpus.begin() + static_cast<std::ptrdiff_t>(from + each)};
}

std::vector<int> last_cpus(const std::vector<int>& cpus, int n) {
  if (n <= 0 || static_cast<std::size_t>(n) >= cpus.size()) return cpus;
  return {cpus.end() - n, cpus.end()};
}

bool pin_process(const std::vector<int>& cpus, std::string& why) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  // sched_setaffinity binds one thread: each of /proc/self/task, so the meter's sampler and any pool
  // already started go too; threads created later inherit the mask from their creator.
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    long long tid = 0;
    if (!parse_int(task.path().filename().string(), tid)) continue;
    if (sched_setaffinity(static_cast<pid_t>(tid), sizeof set, &set) != 0 && tid == getpid()) {
      why = std::string("sched_setaffinity: ") + std::strerror(errno);
      return false;
    }
  }
  if (ec) return (why = "cannot list /proc/self/task: " + ec.message()), false;
  return true;
}

std::string cpu_list_text(const std::vector<int>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(cpus[i]) + (j > i ? "-" + std::to_string(cpus[j]) : "");
    i = j + 1;
  }
  return out;
}

}  // namespace sedenergy
