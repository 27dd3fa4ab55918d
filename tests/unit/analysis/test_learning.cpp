// Quality for the energy (analysis/learning.cpp): did-not-learn, the Pareto front, energy to a target.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <map>
#include <random>

#include "analysis/fixtures.hpp"
#include "compute/accounting.hpp"
#include "models/spec.hpp"

using namespace sedenergy;
using namespace sedenergy::test;

// A constant model's mAP recorded with every run (0.22): each family's smallest configuration (mAP 0.2) did
// not learn. It is named, marked on its points, and the cheapest configuration, on the front when it learns,
// is kept off it. Without the chance level the analysis says it cannot judge.
TEST(Learning, ModelsThatDidNotLearnStayOffTheParetoFront) {
  auto dir = test::temp_dir();
  Law law;
  law.map_chance = 0.22;
  const auto a = law_report(dir, "report", {law});
  EXPECT_NE(a["findings"].dump().find("Models that learn: 4 of 16 configurations reached a test mAP within 0.05 of a "
                                      "constant model's (did-not-learn, kept off the Pareto front): cnn:1x64, "
                                      "crnn:1x1:64x64, mlp:1x64, rnn:1x64."),
            std::string::npos)
      << a["findings"].dump(1);
  EXPECT_TRUE(table_row(a, "pareto", "config", "cnn:1x64").is_null());
  ASSERT_FALSE(a["tables"]["pareto"]["rows"].empty());
  for (const auto& r : a["tables"]["pareto"]["rows"]) EXPECT_GE(r["map"].get<double>(), 0.3) << r.dump();
  int marked = 0;
  for (const auto& p : a["points"]) {
    const bool smallest = p["map"].get<double>() < 0.25;
    EXPECT_EQ(p["did_not_learn"].get<bool>(), smallest) << p.dump();
    marked += smallest;
  }
  EXPECT_EQ(marked, 8);  // 4 configurations x 2 phases
  const auto old = law_report(dir, "old", {Law{}});
  EXPECT_NE(old["not_computed"].dump().find("did-not-learn: the chance mAP"), std::string::npos);
}

// Energy to a validation mAP on learning runs where the truth is known: the two larger sizes of each family
// reach 0.4 at epoch 3 (3 x their training energy per epoch), the two smaller never do; the finding names
// the cheapest and the dearest and counts those that never reached it.
TEST(Learning, EnergyToATargetMapReadsTheLearningCurves) {
  auto dir = test::temp_dir();
  Law law;
  law.learning = true;
  analysis::AnalysisOptions options;
  options.target_map = 0.4;
  const auto a = law_report(dir, "l", {law}, options);
  const auto& rows = a["tables"]["energy_to_target"]["rows"];
  ASSERT_EQ(rows.size(), 16u);
  std::map<std::string, std::vector<double>> train_j;  // per configuration, each repetition's
  for (const auto& row : store::Store((dir / "l-0.db").string()).rows()) {
    if (row.phase.phase == "train") train_j[row.run->config].push_back(row.phase.gpu_energy_j);
  }
  for (const auto& row : rows) {
    const std::string config = row["config"];
    const bool large = config.find("x256") != std::string::npos || config.find("x512") != std::string::npos;
    EXPECT_EQ(row["runs"], 3);
    EXPECT_EQ(row["reached"], large ? 3 : 0) << row.dump();
    if (!large) {
      EXPECT_TRUE(row["energy_j_median"].is_null());
      continue;
    }
    EXPECT_EQ(row["epochs_median"], 3);
    EXPECT_NEAR(row["energy_j_median"].get<double>(), 3 * analysis::median(train_j[config]),
                1e-6 * row["energy_j_median"].get<double>()) << config;
    // The spread over repetitions: the least and the most of the three (2 % noise between them).
    const auto [least, most] = std::minmax_element(train_j[config].begin(), train_j[config].end());
    EXPECT_NEAR(row["energy_j_min"].get<double>(), 3 * *least, 1e-6 * *least) << config;
    EXPECT_NEAR(row["energy_j_max"].get<double>(), 3 * *most, 1e-6 * *most) << config;
    EXPECT_LT(row["energy_j_min"].get<double>(), row["energy_j_max"].get<double>());
    // Apart: the epochs it took (3 every time) and the energy per epoch, each with the interval of its median.
    EXPECT_EQ(row["epochs_lo"], 3);
    EXPECT_EQ(row["epochs_hi"], 3);
    EXPECT_NEAR(row["energy_per_epoch_j_median"].get<double>(), analysis::median(train_j[config]), 1e-6 * *most);
    EXPECT_NEAR(row["energy_per_epoch_j_lo"].get<double>(), *least, 1e-6 * *least);  // [min, max] of three
    EXPECT_NEAR(row["energy_per_epoch_j_hi"].get<double>(), *most, 1e-6 * *most);
    EXPECT_NEAR(row["interval_coverage"].get<double>(), 0.75, 1e-9);
  }
  const auto findings = a["findings"].dump();
  EXPECT_NE(findings.find("Energy to reach validation mAP 0.4 (report --target-map; data: not recorded): the cheapest is "),
            std::string::npos) << findings;
  EXPECT_NE(findings.find("; 8 never did: "), std::string::npos) << findings;
  // The configurations named as within the cheapest's range are exactly those whose least energy is at most
  // the cheapest's most (the table's columns, checked against the database above).
  const json* cheapest = nullptr;
  for (const auto& row : rows) {
    if (!row["energy_j_median"].is_null() && (!cheapest || row["energy_j_median"] < (*cheapest)["energy_j_median"])) cheapest = &row;
  }
  ASSERT_NE(cheapest, nullptr);
  int within = 0, others = 0;
  for (const auto& row : rows) {
    if (row["energy_j_median"].is_null() || &row == cheapest) continue;
    ++others;
    const bool overlaps = row["energy_j_min"] <= (*cheapest)["energy_j_max"];
    within += overlaps;
    const std::string name = row["config"].get<std::string>() + " (" + row["family"].get<std::string>() + ")";
    const auto from = findings.find("Within the cheapest's range");
    EXPECT_EQ(from != std::string::npos && findings.find(name, from) != std::string::npos, overlaps) << name << findings;
  }
  const std::string count = "(" + std::to_string(within) + " of " + std::to_string(others) + ")";
  EXPECT_NE(findings.find(within ? count : "Every other configuration's repetitions all cost more"), std::string::npos)
      << findings;
  // Without a target, 0.9 x the lowest of the families' best (0.5 everywhere): 0.45, which only the largest reach.
  const auto b = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "l-0.db").string()}, (dir / "auto").string()).json));
  EXPECT_NE(b["findings"].dump().find("Energy to reach validation mAP 0.45 (chosen after the runs, 0.9 x the lowest of "
                                      "the families' best: none was fixed before them"),
            std::string::npos) << b["findings"].dump(1);
  EXPECT_NE(b["findings"].dump().find("; 12 never did: "), std::string::npos);
  // A target the study fixed before its runs (study --target-map, kept with the session's options) is read.
  {
    store::Store db((dir / "l-0.db").string());
    auto sessions = db.sessions();
    ASSERT_EQ(sessions.size(), 1u);
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "l-0.db").string().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE sessions SET config_json = '{\"target_map\": 0.4}', "
                              "dataset = 'OUT/data/synth-64-seed1 (64 clips); test: the training set'",
                         nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  const auto c = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "l-0.db").string()}, (dir / "fixed").string()).json));
  EXPECT_NE(c["findings"].dump().find("Energy to reach validation mAP 0.4 (fixed before the runs: study --target-map; "
                                      "data: synthetic clips (sedenergy synth)): "),
            std::string::npos) << c["findings"].dump(1);
  // With a session that fixed none beside it, no target was fixed for all the runs: chosen after them, saying why.
  write_study((dir / "none.db").string(), law);
  const auto mixed = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "l-0.db").string(), (dir / "none.db").string()},
                           (dir / "mixed").string()).json));
  EXPECT_NE(mixed["findings"].dump().find("(chosen after the runs, 0.9 x the lowest of the families' best: some "
                                          "sessions fixed none before them"),
            std::string::npos) << mixed["findings"].dump(1);
}
