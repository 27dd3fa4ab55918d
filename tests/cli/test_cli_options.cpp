// Every option of every subcommand, as its --help lists it, given the values a hostile or careless user gives:
// empty, NaN, infinite, negative and huge. Each must be refused before any work, with exit code 2 and the
// option named (issue 35). The list of options is read from the program, so a new option is tested too.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "cli_util.hpp"
#include "common/text.hpp"
#include "test_util.hpp"

using namespace sedenergy;
using namespace sedenergy::cli_test;
namespace fs = std::filesystem;

namespace {

struct ListedOption {
  std::string flag, type;  // "--idle", "FLOAT:NUMBER"
};

// The options of `sub --help` that take a value (flags and positional arguments left out).
std::vector<ListedOption> options_of(const std::string& sub) {
  static const std::regex line(R"(^\s+(?:-\w,)?(--[a-z][a-z0-9-]*) ([A-Z][^ ]*))");
  std::vector<ListedOption> out;
  std::smatch m;
  for (const auto& l : split(run(sub + " --help").out, '\n')) {
    if (std::regex_search(l, m, line)) out.push_back({m[1], m[2]});
  }
  return out;
}

bool numeric(const std::string& type) {
  for (const char* t : {"INT", "FLOAT", "NUMBER", "UINT"}) {
    if (contains(type, t)) return true;
  }
  return false;
}

// A command line without the option under test: the rest valid, so only that option can be refused.
std::string without(const std::vector<std::pair<std::string, std::string>>& base, const std::string& flag) {
  std::string args;
  for (const auto& [f, v] : base) {
    if (f != flag) args += " " + f + (v.empty() ? "" : " " + v);
  }
  return args;
}

// Legitimate values among the hostile ones, with why: an SNR in dB may be negative.
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> a = {{"--snr-min", {"-1"}}, {"--snr-max", {"-1"}}};
  return a;
}

}  // namespace

TEST(Cli, EveryOptionRefusesEmptyNanInfiniteNegativeAndHugeValuesByName) {
  auto dir = test::temp_dir();
  ASSERT_EQ(run("synth --out " + (dir / "ds").string() + " --clips 2 --seconds 1 --rate 16000").rc, 0);
  const std::string ds = (dir / "ds").string();
  ASSERT_EQ(run("measure --out " + (dir / "m").string() + " --db " + (dir / "m.db").string() + " -- true").rc, 0);
  const auto row = run_row("0.01", "0.1", "0.005");
  test::write_text(dir / "e.csv", emissions_file({row}));
  const std::string csv = (dir / "e.csv").string();
  // Each subcommand with a valid command line; the option under test replaces its own entry, or is added.
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> commands = {
      {"synth", {{"--out", (dir / "s").string()}, {"--clips", "1"}, {"--seconds", "0.5"}}},
      {"features", {{"--data", ds}, {"--out", (dir / "f").string()}}},
      {"flops", {{"mlp:1x16", ""}}},
      {"sensors", {{"--probe", "0"}}},
      {"measure", {{"--out", (dir / "mo").string()}, {"--no-gpu", ""}, {"--", "true"}}},
      {"report", {{(dir / "m.db").string(), ""}, {"--out", (dir / "r").string()}}},
      {"dcase", {{"--train", csv}, {"--test", csv}, {"--baseline-train", csv}, {"--baseline-test", csv},
                 {"--out", (dir / "d").string()}}},
  };
#if SEDENERGY_HAS_TORCH
  commands.push_back({"study", {{"--data", ds}, {"--grid", "mlp:1x16"}, {"--device", "cpu"}, {"--repetitions", "1"},
                                {"--min-window", "0"}, {"--frames", "8"}, {"--out", (dir / "o").string()}}});
#endif
  std::vector<std::pair<std::string, std::string>> cases;  // {command line, the flag it must name}
  for (const auto& [sub, base] : commands) {
    const auto listed = options_of(sub);
    ASSERT_FALSE(listed.empty()) << sub;
    for (const auto& [flag, type] : listed) {
      const std::vector<std::string> values =
          numeric(type) ? std::vector<std::string>{"", "nan", "inf", "-1", "1e300"} : std::vector<std::string>{""};
      for (const auto& value : values) {
        if (allowed().count(flag) && allowed().at(flag).count(value)) continue;
        // The option first: measure's program follows "--" and takes the rest of the line.
        cases.push_back({sub + " " + flag + " '" + value + "'" + without(base, flag), flag});
      }
    }
  }
  // Two at a time (the machine's cores): each is a process start, most of it loading the program.
  std::vector<Result> results(cases.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < cases.size(); i = next++) results[i] = run(cases[i].first);
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(results[i].rc, 2) << cases[i].first << "\n" << results[i].out;
    EXPECT_TRUE(contains(results[i].out, cases[i].second)) << cases[i].first << "\n" << results[i].out;
  }
  const std::size_t tried = cases.size();
  std::cout << tried << " option values tried\n";
  EXPECT_GT(tried, 150u);
  EXPECT_FALSE(fs::exists(dir / "o" / "results.db"));  // no study ran
  EXPECT_FALSE(fs::exists(dir / "s"));
}
