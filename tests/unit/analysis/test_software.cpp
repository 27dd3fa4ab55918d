// Software choices (analysis/software.cpp): implementations against the reference one.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "analysis/fixtures.hpp"
#include "compute/accounting.hpp"
#include "models/spec.hpp"

using namespace sedenergy;
using namespace sedenergy::test;

// One side of a software-choice database: the implementation's name, how its runs recorded their spelling
// (spec_json's impl; "" for none) and its share of the reference's energy.
struct Side {
  std::string impl, spelled;
  double part;
};

// A database where the truth is known: every configuration runs under `reference` and under `other`, which
// takes `share` of its energy and launches fewer kernels; three repetitions with 1 % noise. Returns the analysis.
json software_choice_analysis(const std::string& reference, const std::string& other, double share = 0.5,
                              const std::string& reference_spelled = "", const std::string& other_spelled = "") {
  auto dir = test::temp_dir();
  {
    store::Store db((dir / "impl.db").string());
    const auto id = begin_gpu_session(db);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> noise(1.0, 0.01);
    for (const std::string config : {"mlp:1x64", "cnn:1x64", "rnn:1x64", "crnn:1x1:64x64"}) {
      for (const auto& [impl, spelled, part] : {Side{reference, reference_spelled, 1.0}, Side{other, other_spelled, share}}) {
        for (int rep = 1; rep <= 3; ++rep) {
          store::RunRecord r;
          r.session_id = id;
          r.config = config;
          r.family = config.substr(0, config.find(':'));
          for (auto& c : r.family) c = static_cast<char>(std::toupper(c));
          r.impl = impl;
          if (!spelled.empty()) r.spec_json = json{{"impl", spelled}}.dump();
          r.variant = models::variant_name(config, 1.0, 1, impl);
          r.repetition = rep;
          r.train_work.flops_per_epoch = 1e11;
          r.train_work.kernels_per_step = part == share ? 29 : 35;
          store::PhaseRecord p;
          p.phase = "train";
          p.gpu_method = "nvml total-energy counter delta";
          p.gpu_energy_j = 40 * part * noise(rng);
          p.duration_s = 0.2 * part;
          r.phases = {p};
          db.add_run(r);
        }
      }
    }
  }
  return json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "impl.db").string()}, (dir / "r").string()).json));
}

// Each configuration's ratio to the reference is the truth (0.5 for `other`, 1 for the reference itself)
// with an interval around it; the finding names the reference and the model questions read its runs only.
void expect_software_choices(const json& a, const std::string& reference, const std::string& other) {
  const auto& rows = a["tables"]["software_choices"]["rows"];
  ASSERT_EQ(rows.size(), 8u);  // 4 configurations x 2 implementations
  for (const auto& row : rows) {
    const double truth = row["impl"] == other ? 0.5 : 1.0;
    EXPECT_NEAR(row["ratio_to_reference"].get<double>(), truth, 0.02) << row.dump();
    EXPECT_LE(row["ratio_ci_lo"].get<double>(), row["ratio_to_reference"].get<double>());
    EXPECT_GE(row["ratio_ci_hi"].get<double>(), row["ratio_to_reference"].get<double>());
    EXPECT_NEAR(row["ratio_ci_lo"].get<double>(), truth, 0.05 * truth);
    EXPECT_NEAR(row["ratio_ci_hi"].get<double>(), truth, 0.05 * truth);
    EXPECT_EQ(row["kernels_per_step"], row["impl"] == other ? 29 : 35);
    EXPECT_EQ(row["config"].get<std::string>().find("impl"), std::string::npos);  // the configuration, without its knob
  }
  EXPECT_NE(a["tables"]["software_choices"]["note"].get<std::string>().find("against " + reference + "'s"),
            std::string::npos);
  const std::string findings = a["findings"].dump();
  EXPECT_NE(findings.find("Software choices (train): over 4 configurations, the implementation with the least energy (" +
                          reference + " included) uses a median 0.5"),
            std::string::npos) << a["findings"].dump(1);
  EXPECT_NE(findings.find("the energy per epoch of " + reference + " (from"), std::string::npos);
  EXPECT_NE(findings.find("least: '" + other + "' for 4)"), std::string::npos);
  EXPECT_NE(findings.find("'" + other + "' uses less energy on 4 of 4 configurations and more on 0"), std::string::npos);
  EXPECT_NE(findings.find("the findings on models read the 4 points of '" + reference + "'"), std::string::npos);
  EXPECT_EQ(a["points"].size(), 4u);
}

TEST(SoftwareChoices, SoftwareChoicesAreComparedWithPytorchDefault) {
  expect_software_choices(software_choice_analysis("pytorch-default", "fastest"), "pytorch-default", "fastest");
}

// Without runs of pytorch-default (a study at the default and the same study at another precision), the
// choices are measured against sedenergy's default.
TEST(SoftwareChoices, SoftwareChoicesWithoutPytorchDefaultAreComparedWithTheDefault) {
  const std::string tf32 = "fused/eager/tf32/host";
  expect_software_choices(software_choice_analysis("default", tf32), "default", tf32);
}

// An implementation that costs more is not called the best: the reference has the least energy everywhere.
TEST(SoftwareChoices, SoftwareChoiceThatCostsMoreIsNotTheLeast) {
  const std::string findings = software_choice_analysis("pytorch-default", "bf16", 1.5)["findings"].dump();
  EXPECT_NE(findings.find("(pytorch-default included) uses a median 1x the energy per epoch of pytorch-default (from 1x to 1x; "
                          "least: 'pytorch-default' for 4). Beyond the 95 % intervals, 'bf16' uses less energy on 0 of 4 "
                          "configurations and more on 4."),
            std::string::npos) << findings;
}

// One name, two loops (pytorch-default was sedenergy's C++ loop until 2026-12-07, the Python loop since): the
// runs are not pooled. The C++ loop's are read as 'pytorch-default (C++ loop)', a software choice measured
// against the Python loop's, which the model questions read; the note says so. Where the name ran in one loop
// only, it keeps its name and no note is written.
TEST(SoftwareChoices, OneNameInTwoLoopsIsReadAsTwoImplementations) {
  const std::string cpp = "pytorch-default (C++ loop)";
  const auto a = software_choice_analysis("pytorch-default", "pytorch-default", 0.5, "foreach/eager/fp32/host/python",
                                          "foreach/eager/fp32/host");
  expect_software_choices(a, "pytorch-default", cpp);
  EXPECT_NE(a["findings"].dump().find("Runs named pytorch-default ran in two loops here"), std::string::npos)
      << a["findings"].dump(1);
  EXPECT_NE(a["findings"].dump().find("the C++ loop's 12 runs are read as '<name> (C++ loop)'"), std::string::npos);
  const auto one_loop = software_choice_analysis("pytorch-default", "fastest", 0.5, "foreach/eager/fp32/host");
  expect_software_choices(one_loop, "pytorch-default", "fastest");
  EXPECT_EQ(one_loop["findings"].dump().find("two loops"), std::string::npos);
}
