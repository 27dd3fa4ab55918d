// Points from runs (analysis/points.cpp): the energy read (gross, net), sparse and damaged data.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "analysis/fixtures.hpp"
#include "compute/accounting.hpp"
#include "models/spec.hpp"

using namespace sedenergy;
using namespace sedenergy::test;

// `report --energy net`: the idle baseline subtracted where every run has one; otherwise gross, saying why.
TEST(Points, NetEnergyWhereEveryRunHasAnIdleBaseline) {
  auto dir = test::temp_dir();
  Law law;
  law.net_share = 0.4;
  write_study((dir / "net.db").string(), law);
  analysis::AnalysisOptions net;
  net.baseline = analysis::Baseline::session;
  auto gross = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "net.db").string()}, (dir / "g").string()).json));
  auto files = report::write_report(std::vector<std::string>{(dir / "net.db").string()}, (dir / "n").string(), net);
  auto a = json::parse(test::read_text(files.json));
  EXPECT_NE(a["energy"].get<std::string>().find("net GPU energy"), std::string::npos);
  const auto& g = table_row(gross, "runs_summary", "config", "cnn:1x64");
  const auto& n = table_row(a, "runs_summary", "config", "cnn:1x64");
  ASSERT_FALSE(g.is_null());
  ASSERT_FALSE(n.is_null());
  EXPECT_NEAR(n["energy_mean_j"].get<double>(), 0.4 * g["energy_mean_j"].get<double>(), 1e-6 * g["energy_mean_j"].get<double>());
  EXPECT_NE(test::read_text(files.html).find("net GPU energy per epoch (J)"), std::string::npos);  // the axes
  // No baseline in these runs: gross energy, and the report says why.
  write_study((dir / "gross.db").string(), Law{});
  auto f2 = report::write_report(std::vector<std::string>{(dir / "gross.db").string()}, (dir / "n2").string(), net);
  auto md = test::read_text(f2.markdown);
  EXPECT_NE(md.find("--energy net (session idle, CUDA context): some runs have no such idle baseline"), std::string::npos) << md;
  EXPECT_EQ(json::parse(test::read_text(f2.json))["energy"],
            "GPU energy per epoch, J (NVML total-energy counter); a configuration's point: the median over its repetitions");
}

TEST(Points, SparseOrEmptyDataSayWhatCannotBeComputed) {
  auto dir = test::temp_dir();
  // Empty database.
  {
    store::Store db((dir / "empty.db").string());
    auto files = report::write_report(db, (dir / "empty").string());
    auto md = test::read_text(files.markdown);
    EXPECT_NE(md.find("no runs in the database"), std::string::npos) << md;
    EXPECT_FALSE(has_nan(without_scripts(test::read_text(files.html))));
    EXPECT_NE(test::read_text(files.html).find("Nothing to plot"), std::string::npos);
    EXPECT_EQ(files.charts, 0);
  }
  // One configuration per family, one family missing, no repetitions.
  Law sparse;
  sparse.configs_per_family = 1;
  sparse.repetitions = 1;
  sparse.families = {"MLP", "CNN", "RNN"};
  write_study((dir / "sparse.db").string(), sparse);
  auto files = report::write_report(std::vector<std::string>{(dir / "sparse.db").string()}, (dir / "sparse").string());
  auto md = test::read_text(files.markdown);
  EXPECT_NE(md.find("two trends (train): needs at least 3 configurations"), std::string::npos) << md;
  EXPECT_NE(md.find("fewer than 3 configurations"), std::string::npos);
  EXPECT_FALSE(has_nan(md));
  EXPECT_FALSE(has_nan(test::read_text(files.json)));
  EXPECT_FALSE(has_nan(without_scripts(test::read_text(files.html))));
}

// A damaged per-epoch record (hand-edited, truncated) is read as not recorded: the stall is still flagged,
// without its slowest epoch, and the report is written.
TEST(Points, ADamagedEpochRecordDoesNotStopTheReport) {
  const auto a = repetitions_report(3, [](int rep, store::PhaseRecord& p) {
    p.duration_s = rep == 2 ? 2.0 : 1.0;
    p.gpu_energy_j = 200;
    p.epoch_times_json = rep == 2 ? "[1.0, oops" : "[1.0]";
  });
  const auto& rows = a["tables"]["stalls"]["rows"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["repetition"], 2);
  EXPECT_TRUE(rows[0]["slowest_epoch_factor"].is_null());
}

// The FLOPs by kind of work come from what the run stored (schema 10): a run whose spec this version cannot
// count still has them; a run stored before the split has them counted again from its spec.
TEST(Points, WorkByKindIsReadFromTheRunWhereStored) {
  auto dir = test::temp_dir();
  const auto path = (dir / "split.db").string();
  {
    store::Store db(path);
    const auto id = begin_gpu_session(db);
    for (const std::string config : {"mlp:1x512", "future:layer"}) {
      store::RunRecord r;
      r.session_id = id;
      r.config = r.variant = config;
      r.family = "MLP";
      r.batch = 8;
      r.train_work.flops_per_step = 100;
      r.train_work.flops_per_epoch = 1000;  // ten steps
      if (config == "future:layer") {
        auto& w = r.train_work;
        w.matrix_flops = 60, w.cublas_matrix_flops = 20;
        w.single_channel_conv_flops = w.conv_flops = w.serial_recurrent_flops = 0;
      }
      r.phases = {one_epoch_at_200_w("train", 5)};
      db.add_run(r);
    }
  }
  const auto a = analysis::analyze(store::Store(path, store::Store::Access::kRead).rows());
  std::map<std::string, std::optional<compute::WorkSplit>> work;
  for (const auto& p : a.points) work[p.config] = p.work;
  ASSERT_TRUE(work.at("future:layer").has_value());  // its spec parses nowhere: the stored split, x10 steps
  EXPECT_DOUBLE_EQ(work.at("future:layer")->matrix, 600);
  EXPECT_DOUBLE_EQ(work.at("future:layer")->cublas_matrix, 200);
  ASSERT_TRUE(work.at("mlp:1x512").has_value());  // no split stored: counted from the spec, scaled to 1000
  const auto c = compute::count(models::parse_spec("mlp:1x512"), {8, 128, 64});
  const auto split = compute::work_split(c, true);
  EXPECT_NEAR(work.at("mlp:1x512")->matrix, split.matrix * 1000 / c.train_step_flops(), 1e-9 * split.matrix);
}
