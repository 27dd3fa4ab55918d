// Helpers of the CLI tests: sedenergy run as a user runs it (a shell command or a process), and what
// its outputs hold.
#pragma once
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/text.hpp"
#include "energy/emissions.hpp"
#include "test_util.hpp"

namespace sedenergy::cli_test {

namespace fs = std::filesystem;

struct Result {
  int rc = -1;
  std::string out;  // stdout and stderr
};

// Runs sedenergy with `args` through the shell, `env` before it ("env -u X Y=1 " or "").
inline Result run_with(const std::string& env, const std::string& args) {
  Result r;
  std::string cmd = env + std::string(SEDENERGY_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline Result run(const std::string& args) { return run_with("", args); }

inline bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// Whether `pid` runs: its /proc entry exists and is not a zombie's (an ended process not yet reaped, as an
// orphan is until the host's init gets to it).
inline bool running(int pid) {
  const auto stat = test::read_text(fs::path("/proc") / std::to_string(pid) / "stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// Waits until a process's log holds `what` (polled every 25 ms, at most `seconds`); false if it never did.
inline bool wait_for_text(const fs::path& log, const std::string& what, double seconds = 30) {
  for (int i = 0; i < static_cast<int>(seconds / 0.025); ++i) {
    if (contains(test::read_text(log), what)) return true;
    usleep(25000);
  }
  return contains(test::read_text(log), what);
}

// Runs SQL on a database with the sqlite3 command-line tool (as a user would to inspect or damage it).
// A results database left as one file: out of WAL mode (the header's write version is 1) and no -wal
// beside it (Store::settle).
inline bool settled(const fs::path& db) {
  std::ifstream in(db, std::ios::binary);
  char header[20] = {};
  return in.read(header, sizeof header) && header[18] == 1 && !fs::exists(db.string() + "-wal");
}

inline void sqlite3_exec_helper(const std::string& db, const std::string& sql) {
  ASSERT_EQ(std::system(("sqlite3 '" + db + "' \"" + sql + "\"").c_str()), 0);
}


// The one JSON record measure wrote into `out`.
inline nlohmann::json measure_record(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() == ".json") return nlohmann::json::parse(test::read_text(e.path()));
  }
  return {};
}

inline std::vector<std::string> gpu_devices(const nlohmann::json& rec) {
  std::vector<std::string> out;
  for (const auto& d : rec["window"]["domains"]) {
    if (d["domain"] == "gpu") out.push_back(d["device"]);
  }
  return out;
}

// sedenergy as a process (argv without a shell: a subcommand and its arguments), its output read after it ends.
inline pid_t start_cli(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv = {const_cast<char*>(SEDENERGY_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(SEDENERGY_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

// An emissions file as CodeCarbon (or sedenergy) writes it: the 38 columns, the given values, the rest empty.
inline std::string emissions_file(const std::vector<std::map<std::string, std::string>>& rows) {
  std::string text = join(energy::emissions_columns(), ",") + "\n";
  for (const auto& values : rows) {
    std::vector<std::string> cells;
    for (const auto& c : energy::emissions_columns()) cells.push_back(values.count(c) ? values.at(c) : "0");
    text += join(cells, ",") + "\n";
  }
  return text;
}

inline std::map<std::string, std::string> run_row(const std::string& cpu, const std::string& gpu, const std::string& ram,
                                           const std::string& gpu_model = "NVIDIA A100-SXM4-40GB") {
  double c = 0, g = 0, r = 0;  // energy_consumed as CodeCarbon writes it (left empty where a value is not a number)
  const bool numbers = parse_double(cpu, c) && parse_double(gpu, g) && parse_double(ram, r);
  return {{"timestamp", "2026-11-29T10:00:00Z"}, {"run_id", "r"}, {"duration", "3600"}, {"cpu_energy", cpu},
          {"gpu_energy", gpu}, {"ram_energy", ram}, {"energy_consumed", numbers ? format_number(c + g + r) : ""},
          {"gpu_model", gpu_model}, {"gpu_count", "1"}};
}

}  // namespace sedenergy::cli_test
