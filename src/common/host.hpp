// What machine the numbers come from: recorded with every session of results.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sedenergy {

struct HostInfo {
  std::string hostname;
  std::string os;         // "Linux 6.1.0 x86_64"
  std::string distro;     // PRETTY_NAME of /etc/os-release
  std::string cpu_model;  // "model name" of /proc/cpuinfo
  int cpu_count = 0;      // logical CPUs online
  double ram_total_gb = 0;
};

HostInfo read_host_info();

// /proc/meminfo as it reports it, in KiB: total and available (what allocations can get without swapping).
struct MemoryInfo {
  double total_kib = 0;
  double available_kib = 0;
};
MemoryInfo read_memory_info(const std::string& meminfo = "/proc/meminfo");

// CPU time counters of /proc/stat (all CPUs), to derive the machine's load over a window.
struct CpuTimes {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};
CpuTimes read_cpu_times(const std::string& proc_stat = "/proc/stat");
// Busy fraction between two readings, in [0, 1].
double cpu_load_between(const CpuTimes& a, const CpuTimes& b);
// CPU seconds (user + system) this process has used, all threads.
double process_cpu_seconds();

// The CPUs this process may use when a scheduler or container limits it: the smallest of Slurm's
// SLURM_CPUS_ON_NODE (`slurm_cpus`, may be null), the cgroup v2 cpu.max quota and cpuset of the process's
// cgroup and its ancestors. cpus 0 and source "" when nothing limits it (the whole host).
struct CpuAllocation {
  double cpus = 0;
  std::string source;  // "SLURM_CPUS_ON_NODE", "cgroup cpu.max", "cgroup cpuset"
};
CpuAllocation read_cpu_allocation(const char* slurm_cpus, const std::string& proc_self_cgroup = "/proc/self/cgroup",
                                  const std::string& cgroup_root = "/sys/fs/cgroup");

// The CPUs this process may run on (sched_getaffinity), ascending; empty when it cannot tell.
std::vector<int> allowed_cpus();
// Share k of `count` (k from 0) of `cpus`, each share the same size (the remainder left out; at least one).
std::vector<int> cpu_share(const std::vector<int>& cpus, int k, int count);
// The last n of `cpus` (all of them when fewer): away from CPU 0, where interrupts and the system land.
std::vector<int> last_cpus(const std::vector<int>& cpus, int n);
// Pins every thread of this process (and the threads it creates later) to `cpus`; false with `why` when the
// kernel refuses.
bool pin_process(const std::vector<int>& cpus, std::string& why);
// "0-3,8": a CPU list as the kernel writes one.
std::string cpu_list_text(const std::vector<int>& cpus);

// The parent of process `pid` from <proc_root>/<pid>/stat; 0 when the process is gone or unreadable.
int parent_pid(int pid, const std::string& proc_root = "/proc");
// The user and system CPU seconds of process `pid` so far (<proc_root>/<pid>/stat); 0 when it is gone.
double process_cpu_seconds(int pid, const std::string& proc_root = "/proc");
// "<hostname>:<pid>:<start time>": one process for its whole life (a PID used again later starts at
// another time).
std::string process_identity(int pid, const std::string& proc_root = "/proc");
// False only when `identity` names a process of this host that has ended; true while it runs, and for
// another host's process (which cannot be checked from here).
bool process_may_be_running(const std::string& identity, const std::string& proc_root = "/proc");
// Whether <proc_root>/<pid> exists: false for a PID of another PID namespace (NVML's, inside a container).
bool process_visible(int pid, const std::string& proc_root = "/proc");
// Whether `pid` is `root` or one of its descendants (walks the parents; a PID of another PID namespace,
// absent from proc_root, is not).
bool in_process_tree(int pid, int root, const std::string& proc_root = "/proc");

// Monotonic seconds since an arbitrary origin.
double monotonic_s();

}  // namespace sedenergy
