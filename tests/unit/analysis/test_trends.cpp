// The trends question (analysis/trends.cpp): correlations, slopes, the two trends, the power gap, scaling; and the
// report those tables make.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "analysis/fixtures.hpp"
#include "compute/accounting.hpp"
#include "models/spec.hpp"

using namespace sedenergy;
using namespace sedenergy::test;

TEST(Trends, RecoversTheTwoTrendsThePowerGapAndTheBestPredictor) {
  auto dir = test::temp_dir();
  write_study((dir / "r.db").string(), Law{});
  auto files = report::write_report(std::vector<std::string>{(dir / "r.db").string()}, (dir / "report").string());
  auto a = json::parse(test::read_text(files.json));
  EXPECT_EQ(a["runs"], 49);
  EXPECT_EQ(a["runs_failed"], 1);
  EXPECT_FALSE(a["estimated"].get<bool>());
  // These runs carry no DRAM traffic (as before schema 4): the report completes it from the accounting.
  for (const auto& p : a["points"]) EXPECT_GT(p["traffic_bytes"].get<double>(), 0) << p.dump();
  // MLP/RNN cost 10x CNN/CRNN at equal FLOPs: the ratio comes back with an interval excluding 1.
  const auto& tt = table_row(a, "two_trends", "phase", "train");
  ASSERT_FALSE(tt.is_null());
  for (const char* at : {"ratio_low", "ratio_mid", "ratio_high"}) {
    EXPECT_NEAR(tt[at].get<double>(), 10, 0.6);
    EXPECT_GT(tt[std::string(at) + "_ci_lo"].get<double>(), 5);
  }
  EXPECT_NEAR(tt["slope_mlp_rnn"].get<double>(), 0.9, 0.03);
  // Per-family slopes: 0.9 within their intervals.
  for (const auto& r : a["tables"]["slopes"]["rows"]) {
    EXPECT_NEAR(r["slope"].get<double>(), 0.9, 0.05) << r.dump();
    EXPECT_LE(r["slope_ci_lo"].get<double>(), r["slope"].get<double>());
  }
  // The power gap: 100 W for MLP/RNN, none for CNN/CRNN.
  EXPECT_NEAR(table_row(a, "power_gap", "family", "MLP")["gap_w"].get<double>(), 100, 1e-9);
  EXPECT_NEAR(table_row(a, "power_gap", "family", "CNN")["gap_w"].get<double>(), 0, 1e-9);
  const std::string findings = a["findings"].dump();
  EXPECT_NE(findings.find("MLP: training draws 250 W on average, testing 150 W (gap 100 W"), std::string::npos) << findings;
  EXPECT_NE(findings.find("CNN: training draws 200 W on average, testing 200 W (gap 0 W"), std::string::npos) << findings;
  // The utilization finding quotes the correlations table's pooled Spearman.
  int utilization_rows = 0;
  for (const auto& r : a["tables"]["correlations"]["rows"]) {
    if (r["variable"] != "GPU utilization %" || r["group"] != "all" || r["phase"] != "train") continue;
    ++utilization_rows;
    char rho[16];
    std::snprintf(rho, sizeof rho, "%.2f", r["spearman"].get<double>());
    EXPECT_NE(findings.find(std::string("GPU utilization and energy per epoch (train): Spearman ") + rho), std::string::npos)
        << findings;
  }
  EXPECT_EQ(utilization_rows, 1);
  // Repetitions: 3 per configuration, with an interval.
  const auto& rs = a["tables"]["runs_summary"]["rows"][0];
  EXPECT_EQ(rs["repetitions"], 3);
  EXPECT_LT(rs["energy_ci95_lo_j"].get<double>(), rs["energy_mean_j"].get<double>());
  // FLOPs alone miss the family offset out of sample; FLOPs + parameters (which carry it here) do better.
  double flops_only = 0, with_params = 0;
  for (const auto& r : a["tables"]["predictors"]["rows"]) {
    if (r["phase"] != "train" || r["mape_kfold_pct"].is_null()) continue;
    if (r["predictor"] == "FLOPs") flops_only = r["mape_kfold_pct"];
    if (r["predictor"] == "FLOPs + parameters") with_params = r["mape_kfold_pct"];
  }
  EXPECT_GT(flops_only, 2 * with_params);
  // Correlation of energy with FLOPs within a family: near 1 on logs.
  bool seen = false;
  for (const auto& r : a["tables"]["correlations"]["rows"]) {
    if (r["variable"] == "FLOPs per epoch" && r["group"] == "CNN" && r["phase"] == "train") {
      EXPECT_TRUE(r["log"].get<bool>());
      EXPECT_GT(r["pearson"].get<double>(), 0.99);
      EXPECT_EQ(r["n"], 4);
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
  // Quality: the 1 % counter/integral difference, the idle share.
  EXPECT_NEAR(table_row(a, "quality", "item", "counter vs power integral, median |difference| %")["value"].get<double>(), 1,
              1e-6);
  EXPECT_FALSE(table_row(a, "pareto", "config", "cnn:1x64").is_null());  // the cheapest is on the front
  auto md = test::read_text(files.markdown);
  EXPECT_NE(md.find("distinct trends"), std::string::npos) << md;
  EXPECT_FALSE(has_nan(md));
  EXPECT_FALSE(has_nan(test::read_text(files.json)));
  EXPECT_TRUE(std::filesystem::exists(dir / "report/tables/correlations.csv"));
  // The HTML: the library inside, every chart with its points, escaped text.
  auto html = test::read_text(files.html);
  EXPECT_NE(html.find("vegaEmbed"), std::string::npos);
  EXPECT_EQ(html.find("cdn.jsdelivr"), std::string::npos);  // nothing fetched
  EXPECT_EQ(files.charts, count(html, "data-expected-points="));
  EXPECT_EQ(count(html, "id=\"c-flops\" data-expected-points=\"32\""), 1);  // 16 configurations x 2 phases
  EXPECT_NE(html.find("host&lt;1&gt;"), std::string::npos);
  EXPECT_NE(html.find("failed: out of memory"), std::string::npos);
  EXPECT_FALSE(has_nan(without_scripts(html)));
  auto csv = split(test::read_text(files.csv), '\n');
  EXPECT_EQ(csv.size(), 1u + 48u * 2 + 1u + 1u);  // header, 96 phases, the failed run, trailing newline
}

// 64 frames and whole clips side by side (the fullinput configuration next to paper43): slopes per input
// length, and a finding comparing them.
TEST(Trends, InputLengthsAreComparedFamilyByFamily) {
  auto dir = test::temp_dir();
  Law full;
  full.frames = 1723;
  write_study((dir / "short.db").string(), Law{});
  write_study((dir / "full.db").string(), full);
  auto files = report::write_report(std::vector<std::string>{(dir / "short.db").string(), (dir / "full.db").string()},
                                    (dir / "report").string());
  auto a = json::parse(test::read_text(files.json));
  int at_1723 = 0;
  for (const auto& r : a["tables"]["slopes"]["rows"]) {
    if (r["frames"] == 1723) {
      ++at_1723;
      EXPECT_NEAR(r["slope"].get<double>(), 0.9, 0.05);
    }
  }
  EXPECT_EQ(at_1723, 8);  // 4 families x 2 phases
  EXPECT_NE(test::read_text(files.markdown).find("Input length (training"), std::string::npos);
}

TEST(Trends, ScalingFitsJoulesPerSampleAndAFixedCost) {
  auto dir = test::temp_dir();
  {
    store::Store db((dir / "s.db").string());
    const auto id = begin_gpu_session(db);
    for (double fraction : {0.25, 0.5, 1.0}) {
      for (int epochs : {1, 2, 4}) {
        store::RunRecord r;
        r.session_id = id;
        r.config = "mlp:1x512";
        r.variant = "mlp:1x512 [" + std::to_string(fraction) + "," + std::to_string(epochs) + "]";
        r.family = "MLP";
        r.fraction = fraction;
        r.epochs_per_unit = epochs;
        r.clips = static_cast<int>(1600 * fraction);
        r.params = 4199946;
        r.train_work.flops_per_epoch = 1e9 * r.clips;
        store::PhaseRecord p;
        p.phase = "train";
        p.epochs = epochs;
        p.gpu_method = "nvml total-energy counter delta";
        p.gpu_energy_j = (5.0 + 0.2 * r.clips * epochs) / epochs;  // per epoch: 5 J fixed, 0.2 J a sample
        p.gpu_power_w = 100;
        r.phases = {p};
        db.add_run(r);
      }
    }
  }
  auto files = report::write_report(std::vector<std::string>{(dir / "s.db").string()}, (dir / "r").string());
  auto a = json::parse(test::read_text(files.json));
  const auto& row = a["tables"]["scaling"]["rows"][0];
  EXPECT_EQ(row["settings"], 9);
  EXPECT_NEAR(row["j_per_sample"].get<double>(), 0.2, 1e-9);
  EXPECT_NEAR(row["intercept_j"].get<double>(), 5, 1e-6);
  EXPECT_NEAR(row["r2"].get<double>(), 1, 1e-9);
  EXPECT_NE(test::read_text(files.markdown).find("0.2 J per sample plus 5 J fixed"), std::string::npos);
}
