// The cross-checks (analysis/cross_checks.cpp): findings under every idle baseline and on every GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "analysis/fixtures.hpp"
#include "compute/accounting.hpp"
#include "models/spec.hpp"

using namespace sedenergy;
using namespace sedenergy::test;

// Every headline finding under each idle baseline the database gives (none, the session's with a CUDA
// context, the one before the context), and whether it holds under all. A constant factor between the two
// trends holds everywhere across the shared FLOPs range; an idle power that takes more from CNN/CRNN (200 W)
// than from MLP/RNN (250 W) flips a ratio of 0.8 (gross) to 0.8 x 0.4 / 0.25 = 1.28: it differs between the
// baselines; lines that cross are said to cross (intervals on both sides of 1).
TEST(CrossChecks, CrossChecksSayWhichFindingsHoldUnderEveryBaseline) {
  auto dir = test::temp_dir();
  Law parallel;
  parallel.mlp_rnn_factor = 3;
  parallel.net_share = 0.5;  // an idle baseline took half of every window
  parallel.idle_no_context_w = 20;
  write_study((dir / "parallel.db").string(), parallel);
  const auto pf = report::write_report(std::vector<std::string>{(dir / "parallel.db").string()}, (dir / "p").string());
  auto a = json::parse(test::read_text(pf.json));
  for (const auto& row : a["tables"]["two_trends"]["rows"]) {
    for (const char* at : {"ratio_low", "ratio_mid", "ratio_high"}) EXPECT_NEAR(row[at].get<double>(), 3, 0.3) << row.dump();
    EXPECT_LT(row["flops_low"].get<double>(), row["flops_mid"].get<double>());
    EXPECT_LT(row["flops_mid"].get<double>(), row["flops_high"].get<double>());
  }
  std::set<std::string> baselines;
  int trend_rows = 0;
  for (const auto& row : a["tables"]["by_baseline"]["rows"]) {
    baselines.insert(row["baseline"].get<std::string>());
    if (row["quantity"].get<std::string>().rfind("MLP/RNN over CNN/CRNN", 0) != 0) continue;
    ++trend_rows;
    EXPECT_EQ(row["verdict"], "holds") << row.dump();
    EXPECT_NEAR(row["value"].get<double>(), 3, 0.3) << row.dump();
  }
  EXPECT_EQ(baselines, (std::set<std::string>{"no baseline (gross)", "session idle, CUDA context", "idle before the CUDA context"}));
  EXPECT_EQ(trend_rows, 18);  // 2 phases x 3 positions x 3 baselines
  EXPECT_NE(a["findings"].dump().find("Two trends (train): at equal FLOPs per epoch, MLP/RNN use the energy of CNN/CRNN times "), std::string::npos)
      << a["findings"].dump(1);
  EXPECT_NE(a["findings"].dump().find("lie above CNN/CRNN across the shared range"), std::string::npos);
  EXPECT_NE(a["findings"].dump().find("Under every idle baseline? Of "), std::string::npos);
  bool ranked = false;
  for (const auto& row : a["tables"]["by_baseline"]["rows"]) ranked |= row["quantity"] == "dearest configuration per FLOP (train)";
  EXPECT_TRUE(ranked);

  // The idle power before the context takes 150 W: MLP/RNN keep 0.4 of their training energy, CNN/CRNN 0.25.
  Law flipping;
  flipping.mlp_rnn_factor = 0.8;
  flipping.idle_no_context_w = 150;
  write_study((dir / "flipping.db").string(), flipping);
  const auto ff = report::write_report(std::vector<std::string>{(dir / "flipping.db").string()}, (dir / "f").string());
  a = json::parse(test::read_text(ff.json));
  int flipped = 0;
  for (const auto& row : a["tables"]["by_baseline"]["rows"]) {
    if (row["quantity"] != "MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (train)") continue;
    ++flipped;
    EXPECT_EQ(row["verdict"], "differs") << row.dump();
    EXPECT_NEAR(row["value"].get<double>(), row["baseline"] == "no baseline (gross)" ? 0.8 : 1.28, 0.08) << row.dump();
  }
  EXPECT_EQ(flipped, 2);  // no session baseline recorded in these runs: gross and before the context
  EXPECT_NE(a["findings"].dump().find("energy at equal FLOPs, middle of the shared range (train): no baseline (gross) 0.7"), std::string::npos)
      << a["findings"].dump(1);
  // The whole report under that baseline, as `report --energy net-no-context` gives it.
  analysis::AnalysisOptions no_context;
  no_context.baseline = analysis::Baseline::no_context;
  a = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "flipping.db").string()}, (dir / "f2").string(), no_context).json));
  EXPECT_NE(a["energy"].get<std::string>().find("before the process held a CUDA context"), std::string::npos);
  EXPECT_NEAR(table_row(a, "two_trends", "phase", "train")["ratio_mid"].get<double>(), 1.28, 0.08);
  a = json::parse(test::read_text(pf.json));

  // Energy per FLOP ranked, not written: here factor x F^-0.1, so the dearest is the smallest MLP/RNN.
  double last = INFINITY;
  int rank = 0;
  for (const auto& row : a["tables"]["per_flop"]["rows"]) {
    if (row["phase"] != "train") continue;
    EXPECT_EQ(row["rank"], ++rank);
    EXPECT_LE(row["nj_per_flop"].get<double>(), last);
    last = row["nj_per_flop"].get<double>();
    if (rank == 1) EXPECT_TRUE(row["config"] == "mlp:1x64" || row["config"] == "rnn:1x64") << row.dump();
  }
  EXPECT_EQ(rank, 16);
  EXPECT_NE(a["findings"].dump().find("Energy per FLOP (train, nJ per FLOP): dearest "), std::string::npos);

  Law crossing;
  crossing.mlp_rnn_factor = 1;
  crossing.mlp_rnn_tilt = 0.4;  // ratio (F / 1e12)^0.4: 0.47 at 1.5e11 FLOPs, 2.1 at 6.4e12
  crossing.net_share = 0.5;
  a = law_report(dir, "crossing", {crossing});
  const auto& gross = table_row(a, "two_trends", "phase", "train");
  EXPECT_NEAR(gross["ratio_low"].get<double>(), std::pow(gross["flops_low"].get<double>() / 1e12, 0.4), 0.1);
  EXPECT_NEAR(gross["ratio_high"].get<double>(), std::pow(gross["flops_high"].get<double>() / 1e12, 0.4), 0.2);
  EXPECT_LT(gross["ratio_low_ci_hi"].get<double>(), 1);
  EXPECT_GT(gross["ratio_high_ci_lo"].get<double>(), 1);
  EXPECT_NE(a["findings"].dump().find("so the trends cross inside the shared range"), std::string::npos)
      << a["findings"].dump(1);
}

// Three GPUs: one with the same law 3x dearer, predicted from the first and two reference configurations
// (exact but for the 2 % noise); one without the second trend. The headline findings of each GPU's own
// analysis side by side, with whether they hold on all; the kernels counted on one GPU stand for another's
// runs of the same variants, and say so.
TEST(CrossChecks, SeveralGpusSayWhichFindingsHoldOnEvery) {
  auto dir = test::temp_dir();
  Law h100;
  h100.kernels = 30;
  write_study((dir / "a.db").string(), h100);
  Law scaled = h100;
  scaled.gpu = "Tesla T4";
  scaled.gpu_scale = 3;
  scaled.kernels = -1;  // not counted there
  scaled.code_version = "def5678";  // another code version: differences with it are not the hardware's alone
  write_study((dir / "b.db").string(), scaled);
  Law other = h100;
  other.gpu = "Other GPU";
  other.mlp_rnn_factor = 1;  // no second trend on this one
  write_study((dir / "c.db").string(), other);
  const auto files = report::write_report(
      std::vector<std::string>{(dir / "a.db").string(), (dir / "b.db").string(), (dir / "c.db").string()},
      (dir / "report").string());
  const auto a = json::parse(test::read_text(files.json));
  int predicted = 0;
  for (const auto& r : a["tables"]["hardware_prediction"]["rows"]) {
    if (r["gpu"] != "Tesla T4" || r["reference"].get<bool>() || r["phase"] != "train") continue;
    ++predicted;
    EXPECT_LT(std::abs(r["error_pct"].get<double>()), 10) << r.dump();
  }
  EXPECT_EQ(predicted, 14);  // 16 configurations in common, 2 of them the references
  const auto& trend = table_row(a, "by_gpu", "gpu", "Other GPU");
  ASSERT_FALSE(trend.is_null()) << a["tables"].dump(1);
  bool differs = false;
  for (const auto& r : a["tables"]["by_gpu"]["rows"]) {
    // 10x on two GPUs, 1x [about 0.95, 1.05] on the third: the intervals do not overlap.
    if (r["quantity"] == "MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (train)") {
      differs |= r["verdict"] == "differs";
    }
    // The slopes are the same law on every GPU (0.9, with 2 % noise): they hold on every one.
    if (r["quantity"] == "log-log slope of energy on FLOPs, CNN (train)") EXPECT_EQ(r["verdict"], "holds");
  }
  EXPECT_TRUE(differs) << a["tables"]["by_gpu"].dump(1);
  EXPECT_NE(a["findings"].dump().find("On every GPU? Of "), std::string::npos);
  EXPECT_NE(a["findings"].dump().find(": MLP/RNN over CNN/CRNN energy at equal FLOPs, low end of the shared range (test): "), std::string::npos)
      << a["findings"].dump(1);
  bool borrowed = false;
  for (const auto& r : a["tables"]["predictors"]["rows"]) {
    if (r["gpu"] == "Tesla T4" && r["predictor"] == "kernel launches + FLOPs + memory traffic (linear)") {
      EXPECT_EQ(r["n"], 16);
      borrowed = r["note"].get<std::string>().find("counted on another GPU") != std::string::npos;
    }
  }
  EXPECT_TRUE(borrowed);
  // The T4 ran another code version: the cross-check and its hardware normalisation say so; the Other GPU,
  // at the H100's version, has no such caveat.
  const std::string findings = a["findings"].dump();
  EXPECT_NE(findings.find("On every GPU? These GPUs' runs come from different code versions (NVIDIA H100 80GB HBM3: "
                          "abc1234; Other GPU: abc1234; Tesla T4: def5678): a difference between them is hardware, "
                          "code and host together"),
            std::string::npos) << findings;
  for (const auto& f : a["findings"]) {
    const std::string text = f;
    if (text.rfind("Hardware normalisation", 0) != 0) continue;
    EXPECT_EQ(text.find("different code versions") != std::string::npos, text.find("Tesla T4") != std::string::npos) << text;
  }
  // The joint report's fits are each GPU's own, never one fit over the three: the Other GPU's MLP/RNN sit on
  // its CNN/CRNN line (factor 1) while the others' lie 10x above theirs.
  std::map<std::string, double> ratio_mid;
  for (const auto& r : a["tables"]["two_trends"]["rows"]) {
    if (r["phase"] == "train") ratio_mid[r["gpu"].get<std::string>()] = r["ratio_mid"].get<double>();
  }
  ASSERT_EQ(ratio_mid.size(), 3u) << a["tables"]["two_trends"].dump(1);
  EXPECT_NEAR(ratio_mid["Other GPU"], 1, 0.1);
  EXPECT_NEAR(ratio_mid["Tesla T4"], 10, 1);
  EXPECT_NEAR(ratio_mid["NVIDIA H100 80GB HBM3"], 10, 1);
  int cnn_slopes = 0, first_ranks = 0;
  for (const auto& r : a["tables"]["slopes"]["rows"]) {
    if (r["family"] != "CNN" || r["phase"] != "train") continue;
    ++cnn_slopes;
    EXPECT_NEAR(r["slope"].get<double>(), 0.9, 0.05) << r.dump();  // pooled, the T4's 3x would bend it
  }
  for (const auto& r : a["tables"]["per_flop"]["rows"]) first_ranks += r["rank"] == 1;
  EXPECT_EQ(cnn_slopes, 3);
  EXPECT_EQ(first_ranks, 6);  // each GPU ranks its own configurations, per phase
  EXPECT_NE(a["findings"].dump().find("Other GPU: Two trends (train)"), std::string::npos) << a["findings"].dump(1);
}

// The third verdict: two GPUs on which MLP/RNN cost what CNN/CRNN cost at equal FLOPs (2 % noise): each
// interval includes 1 and the two overlap, so neither 'holds' nor 'differs' is shown.
TEST(CrossChecks, OverlappingIntervalsThatIncludeNoDifferenceAreNotEstablished) {
  Law one;
  one.mlp_rnn_factor = 1;
  Law same = one;
  same.gpu = "Other GPU";
  const auto a = law_report(test::temp_dir(), "joint", {one, same});
  int judged = 0;
  for (const auto& r : a["tables"]["by_gpu"]["rows"]) {
    if (r["quantity"] != "MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (train)") continue;
    ++judged;
    EXPECT_LE(r["ci_lo"].get<double>(), 1.0) << r.dump();
    EXPECT_GE(r["ci_hi"].get<double>(), 1.0) << r.dump();
    EXPECT_EQ(r["verdict"], "not established") << a["tables"]["by_gpu"].dump(1);
  }
  EXPECT_EQ(judged, 2);
  EXPECT_NE(a["findings"].dump().find("On every GPU? Of "), std::string::npos);
}

namespace {
// The by-check's rows of one quantity, by analysis.
std::map<std::string, json> rows_of(const json& a, const std::string& check, const std::string& column, const std::string& quantity) {
  std::map<std::string, json> out;
  for (const auto& r : a["tables"][check]["rows"]) {
    if (r["quantity"] == quantity) out[r[column].get<std::string>()] = r;
  }
  return out;
}
constexpr const char* kMiddleTrain = "MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (train)";
}  // namespace

// 'differs' is judged on the interval of the contrast, not on whether two intervals overlap. Two GPUs, the
// second's MLP/RNN 2.5 % dearer: the intervals of the ratio overlap, that of their ratio excludes 1. The two
// fixtures draw the same noise, so a contrast that paired their bootstrap draws would be exactly 1.025; the
// GPUs' runs are independent and it pairs them at random, so its interval is as wide as two samples make it.
TEST(CrossChecks, GpusDifferWhenTheIntervalOfTheirContrastExcludesNone) {
  Law one;
  one.mlp_rnn_factor = 1;
  Law other = one;
  other.gpu = "Other GPU";
  other.mlp_rnn_factor = 1.025;
  const auto a = law_report(test::temp_dir(), "joint", {one, other});
  const auto rows = rows_of(a, "by_gpu", "gpu", kMiddleTrain);
  ASSERT_EQ(rows.size(), 2u) << a["tables"]["by_gpu"].dump(1);
  const json &first = rows.at("NVIDIA H100 80GB HBM3"), &second = rows.at("Other GPU");
  EXPECT_LT(second["ci_lo"].get<double>(), first["ci_hi"].get<double>());  // the intervals overlap
  EXPECT_TRUE(first["contrast"].is_null() && first["contrast_ci_lo"].is_null()) << first.dump();
  EXPECT_EQ(second["contrast"], "ratio to NVIDIA H100 80GB HBM3");
  EXPECT_NEAR(second["contrast_value"].get<double>(), 1.025, 1e-9);
  EXPECT_GT(second["contrast_ci_lo"].get<double>(), 1) << second.dump();
  EXPECT_GT(second["contrast_ci_hi"].get<double>() - second["contrast_ci_lo"].get<double>(), 0.02) << second.dump();
  EXPECT_EQ(first["verdict"], "differs");
  EXPECT_NE(a["findings"].dump().find("(ratio to NVIDIA H100 80GB HBM3 1.02 ["), std::string::npos) << a["findings"].dump(1);
}

// Under two idle baselines the analyses resample the same runs, so the contrast pairs their draws and the runs'
// noise cancels. An idle power of 10 W before the context leaves MLP/RNN 240 of their 250 W in training and
// CNN/CRNN 190 of 200 W: their ratio moves by 0.96 / 0.95 = 1.0105, inside either interval's width, and the
// paired contrast's interval is tight around it: 'differs'. The testing ratio (150 W against 200 W) moves by
// (140 / 150) / 0.95 = 0.982.
TEST(CrossChecks, BaselinesDifferByTheirPairedContrast) {
  Law law;
  law.mlp_rnn_factor = 1;
  law.idle_no_context_w = 10;
  const auto a = law_report(test::temp_dir(), "baselines", {law});
  for (const auto& [phase, moved] : std::map<std::string, double>{{"train", 0.96 / 0.95}, {"test", (140.0 / 150) / 0.95}}) {
    const auto rows = rows_of(a, "by_baseline", "baseline",
                              "MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (" + phase + ")");
    ASSERT_EQ(rows.size(), 2u) << a["tables"]["by_baseline"].dump(1);
    const json &gross = rows.at("no baseline (gross)"), &net = rows.at("idle before the CUDA context");
    EXPECT_TRUE(gross["ci_lo"].get<double>() < net["ci_hi"].get<double>() && net["ci_lo"].get<double>() < gross["ci_hi"].get<double>())
        << gross.dump() << net.dump();  // overlapping
    EXPECT_NEAR(net["contrast_value"].get<double>(), moved, 0.002) << net.dump();
    EXPECT_LT(net["contrast_ci_hi"].get<double>() - net["contrast_ci_lo"].get<double>(), 0.01) << net.dump();
    EXPECT_EQ(net["verdict"], "differs") << net.dump();
  }
}
