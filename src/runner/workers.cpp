// --devices: one worker process per GPU, all writing one results database.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "common/error.hpp"
#include "common/host.hpp"
#include "common/text.hpp"
#include "runner/study.hpp"
#include "store/store.hpp"

namespace fs = std::filesystem;

namespace sedenergy::runner {
namespace {

std::atomic<int> g_signal{0};
void remember_signal(int sig) { g_signal = sig; }

// The workers' runs (of the sessions they began after `started`) added up into the parent's summary. A run
// cut short by a stop request is neither ok nor failed: --resume redoes it.
void add_worker_runs(StudySummary& sum, const std::string& db_path, const std::string& started) {
  store::Store db(db_path);
  std::set<std::int64_t> counted;
  for (const auto& row : db.rows()) {
    if (row.run->started_at < started) continue;
    sum.gpu_energy_j += row.phase.gpu_energy_j * row.phase.epochs;
    sum.energy_j += row.phase.energy_j * row.phase.epochs;
    if (!row.phase.gpu_method.empty()) sum.gpu_measured = true;  // a GPU domain's method: a reading (NVML)
    if (!counted.insert(row.run_id).second) continue;
    if (row.run->status == "ok") ++sum.runs_ok;
    if (row.run->status == "failed") ++sum.runs_failed;
  }
  sum.db_path = db_path;
}

void check_devices(const std::vector<int>& devices) {
  std::set<int> seen;
  for (int d : devices) {
    if (d < 0) throw InputError("--devices: GPU ids must be >= 0 (got " + std::to_string(d) + ")");
    if (!seen.insert(d).second) throw InputError("--devices: GPU " + std::to_string(d) + " is listed twice");
  }
  if (devices.empty()) throw InputError("--devices: give at least one GPU id");
}

// What every worker shares: the study's arguments, where the workers log, their group, CPU threads each.
struct WorkerLaunch {
  std::vector<std::string> args;
  fs::path logs;
  std::string device, group, threads_each;
  std::size_t count = 0;
  std::vector<int> cpus;  // those the parent may use; worker k gets share k of them
};

// Worker k: this program again, on GPU `d` alone (as cuda:0), on its share of the CPUs, logging to its own
// file. Returns its pid.
pid_t start_worker(const WorkerLaunch& w, int d, int k, std::ostream& log) {
  const std::string name = "gpu" + std::to_string(d);
  const std::string log_path = (w.logs / ("worker-" + name + ".log")).string();
  std::vector<std::string> argv_s = {"/proc/self/exe"};
  argv_s.insert(argv_s.end(), w.args.begin(), w.args.end());
  for (const auto& extra : {std::string("--device"), w.device, std::string("--worker-group"), w.group,
                            std::string("--worker-name"), name, std::string("--worker-count"), std::to_string(w.count)}) {
    argv_s.push_back(extra);
  }
  cpu_set_t share;
  CPU_ZERO(&share);
  const auto cpus = cpu_share(w.cpus, k, static_cast<int>(w.count));
  for (int c : cpus) CPU_SET(c, &share);
  const bool has_share = !cpus.empty();
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw InputError("cannot write worker log " + log_path);
  const pid_t pid = fork();
  if (pid == 0) {
    // Own process group: a terminal's Ctrl-C reaches the parent alone, which forwards it once (a worker
    // stopped twice would end at once, losing its run in progress).
    setpgid(0, 0);
    // Each worker sees only its GPU, as cuda:0; the meter maps it to NVML by PCI bus id.
    setenv("CUDA_VISIBLE_DEVICES", std::to_string(d).c_str(), 1);
    // A share of the cores each: N workers with a full OpenMP pool apiece spin against each other, and
    // the study's CPU-side batch assembly then dominates every step (seen: 26x slower epochs on 4 GPUs).
    setenv("OMP_NUM_THREADS", w.threads_each.c_str(), 1);
    setenv("MKL_NUM_THREADS", w.threads_each.c_str(), 1);
    dup2(fd, 1);
    dup2(fd, 2);
    // Its own CPUs, so the workers' launch threads never compete for a core (its --train-threads pin
    // within them). The child has one thread and may not allocate: the set was built before fork.
    if (has_share && sched_setaffinity(0, sizeof share, &share) != 0) {
      const char msg[] = "worker: CPUs not shared out (sched_setaffinity failed)\n";
      (void)!write(2, msg, sizeof msg - 1);
    }
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::vector<char*> cargs;
    for (auto& a : argv_s) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    execv("/proc/self/exe", cargs.data());
    _exit(127);
  }
  close(fd);
  if (pid < 0) throw Error("cannot start a worker process for GPU " + std::to_string(d));
  log << "worker " << name << ": pid " << pid << ", log " << log_path << "\n";
  return pid;
}

// Waits for every worker, forwarding the first Ctrl-C / SIGTERM so that each finishes its run and stops;
// a note of the runs recorded every minute. Returns whether any worker failed; sum.interrupted is set.
bool wait_for_workers(const std::vector<std::pair<pid_t, int>>& children, const std::string& db_path, StudySummary& sum,
                      std::ostream& log) {
  bool forwarded = false, any_failed = false;
  std::size_t running = children.size();
  double last_note = monotonic_s();
  std::vector<bool> done(children.size(), false);
  while (running > 0) {
    if (g_signal && !forwarded) {
      for (auto& [pid, d] : children) kill(pid, SIGINT);
      forwarded = true;
      log << "interrupt: asking every worker to finish its run and stop\n";
    }
    for (std::size_t i = 0; i < children.size(); ++i) {
      int status = 0;
      if (done[i] || waitpid(children[i].first, &status, WNOHANG) == 0) continue;
      done[i] = true;
      --running;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      log << "worker gpu" << children[i].second << " finished with exit code " << code << "\n";
      if (code == 128 + SIGINT || code == 128 + SIGTERM) sum.interrupted = true;
      else if (code != 0) any_failed = true;
    }
    if (running == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (monotonic_s() - last_note > 60) {
      last_note = monotonic_s();
      store::Store db(db_path);
      log << "progress: " << db.run_count() << " runs in the database, " << running << " workers running\n" << std::flush;
    }
  }
  return any_failed;
}

}  // namespace

StudySummary run_study_on_devices(const StudyOptions& opt, const std::vector<std::string>& args, std::ostream& log) {
  const double t0 = monotonic_s();
  check_devices(opt.devices);
  WorkerLaunch w{args, fs::path(opt.out_dir) / "logs", opt.device == "cpu" ? "cpu" : "cuda:0", "", "", opt.devices.size(), allowed_cpus()};
  std::error_code ec;
  fs::create_directories(w.logs, ec);
  if (ec) throw InputError("--out '" + opt.out_dir + "': cannot create " + w.logs.string() + " (" + ec.message() + ")");
  // `--device cpu` keeps the workers on the CPU (several processes, one database: what tests exercise).
  {
    StudyOptions prep = opt;
    prep.device = w.device;
    run_study(prep, log, /*prepare_only=*/true);
  }
  const std::string started = utc_now_iso();
  w.group = read_host_info().hostname + "-" + std::to_string(getpid()) + "-" + started;
  const unsigned cores = w.cpus.empty() ? std::max(1u, std::thread::hardware_concurrency()) : static_cast<unsigned>(w.cpus.size());
  w.threads_each = std::to_string(std::max<unsigned>(1, cores / opt.devices.size()));
  log << "workers: " << opt.devices.size() << (w.device == "cpu" ? " on the CPU (--device cpu: no GPU is used)" : "")
      << ", " << w.threads_each << " CPU(s) and threads each\n";
  auto old_int = std::signal(SIGINT, remember_signal);
  auto old_term = std::signal(SIGTERM, remember_signal);
  std::vector<std::pair<pid_t, int>> children;
  for (std::size_t k = 0; k < opt.devices.size(); ++k) {
    children.emplace_back(start_worker(w, opt.devices[k], static_cast<int>(k), log), opt.devices[k]);
  }
  const std::string db_path = (fs::path(opt.out_dir) / "results.db").string();
  StudySummary sum;
  const bool any_failed = wait_for_workers(children, db_path, sum, log);
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);

  if (sum.interrupted) sum.stop_signal = g_signal ? g_signal.load() : SIGINT;
  add_worker_runs(sum, db_path, started);
  if (any_failed && sum.runs_ok == 0) sum.runs_failed = std::max(sum.runs_failed, 1);
  sum.total_s = monotonic_s() - t0;
  return sum;
}

}  // namespace sedenergy::runner
