// The analysis and the report on databases written through the store: known laws in, their numbers out.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <cctype>
#include <functional>
#include <random>

#include "analysis/study_analysis.hpp"
#include "models/implementation.hpp"
#include "common/text.hpp"
#include "report/page.hpp"
#include "report/report.hpp"
#include "common/files.hpp"
#include <unistd.h>
#include "test_util.hpp"

using namespace sedenergy;
using nlohmann::json;

namespace {

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// Text of an HTML page without its <script> elements (the bundled library is not ours to check).
std::string without_scripts(std::string html) {
  for (auto a = html.find("<script"); a != std::string::npos; a = html.find("<script")) {
    auto b = html.find("</script>", a);
    html.erase(a, b == std::string::npos ? std::string::npos : b + 9 - a);
  }
  return html;
}

bool has_nan(const std::string& text) {
  return text.find("nan") != std::string::npos || text.find("NaN") != std::string::npos ||
         text.find("inf ") != std::string::npos;
}

struct Law {
  double mlp_rnn_factor = 10;  // MLP/RNN energy at equal FLOPs, relative to CNN/CRNN
  double mlp_rnn_tilt = 0;     // MLP/RNN energy also x (FLOPs / 1e12)^tilt: the two lines cross at 1e12 FLOPs
  int configs_per_family = 4;
  int repetitions = 3;
  std::vector<std::string> families = {"MLP", "CNN", "RNN", "CRNN"};
  std::string gpu = "NVIDIA H100 80GB HBM3";
  double gpu_scale = 1;  // energy multiplier of this GPU
  int frames = 64;
  double net_share = -1;  // >= 0: net GPU energy recorded as this share of the gross (an idle baseline ran)
  int kernels = -1;       // >= 0: kernels per step recorded (schema 5), 10 more per configuration size step
  double map_chance = -1; // >= 0: the test set's chance mAP recorded (schema 8)
  double idle_no_context_w = -1;  // >= 0: the session measured idle power before its CUDA context
  // Learning runs (schema 9): 6 epochs, validation mAP (0.2 + 0.1 k) x min(1, epoch / 3) for the k-th size,
  // each epoch costing the run's training energy per epoch.
  bool learning = false;
};

// Each fake session starts at its own second, as real ones do: two files whose sessions started at the same
// time on the same host with the same options are copies of one study, and the report reads them once.
std::string next_session_start() {
  static int n = 0;
  char text[32];
  std::snprintf(text, sizeof text, "2026-11-27T%02d:%02d:%02dZ", n / 3600 % 24, n / 60 % 60, n % 60);
  ++n;
  return text;
}

// A study on a fake GPU: energy per epoch = factor x 1e-9 x FLOPs^0.9 with 2 % noise; MLP/RNN train at
// 250 W and test at 150 W, CNN/CRNN at 200 W in both; mAP grows with FLOPs.
void write_study(const std::string& path, const Law& law) {
  store::Store db(path);
  store::SessionRecord s;
  s.started_at = next_session_start();
  s.hostname = "host<1>";
  s.gpu_name = law.gpu;
  s.device = "cuda:0";
  if (law.idle_no_context_w >= 0) {
    store::HardwareProbes hw{6e-6, 5e13, 4e12};
    hw.idle_no_context_w = law.idle_no_context_w;
    s.hardware_json = hw.to_json();
  }
  auto id = db.begin_session(s);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(1.0, 0.02);
  const std::map<std::string, std::string> base = {
      {"MLP", "mlp:1x"}, {"CNN", "cnn:1x"}, {"RNN", "rnn:1x"}, {"CRNN", "crnn:1x1:64x"}};
  for (int rep = 1; rep <= law.repetitions; ++rep) {
    for (const auto& fam : law.families) {
      const bool heavy = fam == "MLP" || fam == "RNN";
      for (int k = 0; k < law.configs_per_family; ++k) {
        store::RunRecord r;
        r.session_id = id;
        r.config = base.at(fam) + std::to_string(64 << k);
        r.variant = r.config;
        r.repetition = rep;
        r.family = fam;
        r.params = 100000LL << (2 * k + (heavy ? 3 : 0));
        r.batch = 8;
        r.frames = law.frames;
        r.train_flops_per_epoch = 1e11 * std::pow(4.0, k) * (heavy ? 1.5 : 1);
        r.test_flops_per_epoch = r.train_flops_per_epoch / 3;
        r.train_flops_per_step = r.train_flops_per_epoch / 198;
        r.test_flops_per_step = r.test_flops_per_epoch / 198;
        r.metrics.map = 0.2 + 0.1 * k;
        r.metrics.map_chance = law.map_chance;
        if (law.kernels >= 0) r.train_kernels_per_step = r.test_kernels_per_step = law.kernels + 10 * k;
        for (const char* phase : {"train", "test"}) {
          store::PhaseRecord p;
          p.phase = phase;
          p.epochs = 3;
          const double flops = std::string(phase) == "train" ? r.train_flops_per_epoch : r.test_flops_per_epoch;
          p.gpu_energy_j = law.gpu_scale * (heavy ? law.mlp_rnn_factor * std::pow(flops / 1e12, law.mlp_rnn_tilt) : 1) *
                           1e-9 * std::pow(flops, 0.9) * noise(rng);
          p.energy_j = p.gpu_energy_j * 1.2;
          if (law.net_share >= 0) p.net_gpu_energy_j = law.net_share * p.gpu_energy_j;
          p.gpu_method = "nvml total-energy counter delta";
          p.gpu_power_w = heavy ? (std::string(phase) == "train" ? 250 : 150) : 200;
          p.duration_s = p.gpu_energy_j / p.gpu_power_w;
          p.gpu_util_pct = 10 + 20 * k;
          p.mem_util_pct = 5 + 5 * k;
          p.window_json = json{{"duration_s", p.duration_s * 3},
                               {"gpu_activity", {{"sm_util_pct", 30 + 10 * k}}},
                               {"domains", {{{"domain", "gpu"}, {"energy_j", 3 * p.gpu_energy_j},
                                             {"integral_energy_j", 3 * p.gpu_energy_j * 1.01},
                                             {"idle_power_w", 70.0}}}}}
                              .dump();
          r.phases.push_back(p);
        }
        if (law.learning) {
          json curve = json::array();
          for (int e = 1; e <= 6; ++e) {
            curve.push_back({{"epoch", e}, {"validation_map", (0.2 + 0.1 * k) * std::min(1.0, e / 3.0)},
                             {"seconds", e * r.phases[0].duration_s}, {"gpu_energy_j", e * r.phases[0].gpu_energy_j},
                             {"energy_j", e * r.phases[0].energy_j}});
          }
          r.learning_json = json{{"best_epoch", 3}, {"stopped", "early stop"}, {"curve", curve}}.dump();
        }
        db.add_run(r);
      }
    }
  }
  store::RunRecord failed;
  failed.session_id = id;
  failed.config = "mlp:32x4096";
  failed.variant = failed.config;
  failed.family = "MLP";
  failed.status = "failed";
  failed.error = "out of memory";
  db.add_run(failed);
}

// A session on a GPU named "GPU", for databases written by hand.
std::int64_t begin_gpu_session(store::Store& db, const std::string& gpu = "GPU") {
  store::SessionRecord s;
  s.started_at = next_session_start();
  s.gpu_name = gpu;
  return db.begin_session(s);
}

// One epoch's phase window on a GPU whose counter gave `energy_j`, drawing 200 W.
store::PhaseRecord one_epoch_at_200_w(const std::string& phase, double energy_j) {
  store::PhaseRecord p;
  p.phase = phase;
  p.epochs = 1;
  p.gpu_method = "nvml total-energy counter delta";
  p.gpu_energy_j = p.energy_j = energy_j;
  p.duration_s = energy_j / 200;
  return p;
}

const json& table_row(const json& a, const std::string& table, const std::string& key, const std::string& value) {
  for (const auto& r : a["tables"][table]["rows"]) {
    if (r[key] == value) return r;
  }
  static json none;
  return none;
}

}  // namespace

TEST(Analysis, RecoversTheTwoTrendsThePowerGapAndTheBestPredictor) {
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

TEST(Analysis, TwoGpusAreNormalisedByReferenceConfigurations) {
  auto dir = test::temp_dir();
  Law h100;
  write_study((dir / "a.db").string(), h100);
  Law t4;
  t4.gpu = "Tesla T4";
  t4.gpu_scale = 3;
  write_study((dir / "b.db").string(), t4);
  auto files = report::write_report(std::vector<std::string>{(dir / "a.db").string(), (dir / "b.db").string()},
                                    (dir / "report").string());
  auto a = json::parse(test::read_text(files.json));
  EXPECT_EQ(a["runs"], 98);
  EXPECT_NEAR(table_row(a, "hardware", "gpu", "Tesla T4")["factor"].get<double>(), 3, 0.2);
  EXPECT_NEAR(table_row(a, "hardware", "gpu", "NVIDIA H100 80GB HBM3")["factor"].get<double>(), 1, 1e-12);
}

// 64 frames and whole clips side by side (the fullinput configuration next to paper43): slopes per input
// length, and a finding comparing them.
TEST(Analysis, InputLengthsAreComparedFamilyByFamily) {
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

// `report --energy net`: the idle baseline subtracted where every run has one; otherwise gross, saying why.
TEST(Analysis, NetEnergyWhereEveryRunHasAnIdleBaseline) {
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

TEST(Analysis, SparseOrEmptyDataSayWhatCannotBeComputed) {
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

TEST(Analysis, ScalingFitsJoulesPerSampleAndAFixedCost) {
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
        r.train_flops_per_epoch = 1e9 * r.clips;
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

// Names from a database in a page: no '<' reaches the embedded chart JSON ("</script>" or "<!--" would stop
// every chart), and the JSON still reads back the same.
TEST(Page, EmbeddedJsonCannotCloseOrCommentTheScript) {
  const nlohmann::json specs = {{"variant", "V<!--<script></script>"}, {"n", 1}};
  const std::string text = sedenergy::report::script_json(specs);
  EXPECT_EQ(text.find('<'), std::string::npos) << text;
  EXPECT_EQ(nlohmann::json::parse(text), specs);
}

// Files written into shared folders never go through a planted symlink: the temporary name is mkstemp's,
// and the rename replaces a symlink at the target instead of writing into what it points to.
TEST(Files, TempFileNeverWritesThroughASymlink) {
  auto dir = sedenergy::test::temp_dir();
  sedenergy::test::write_text(dir / "victim", "precious");
  std::filesystem::create_symlink(dir / "victim", dir / "cache.bin");
  {
    sedenergy::TempFile f((dir / "cache.bin").string());
    EXPECT_NE(f.path().find("cache.bin.tmp."), std::string::npos);
    f.write("new contents");
    f.commit();
  }
  EXPECT_EQ(sedenergy::test::read_text(dir / "victim"), "precious");
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "cache.bin"));
  EXPECT_EQ(sedenergy::test::read_text(dir / "cache.bin"), "new contents");
  {
    sedenergy::TempFile abandoned((dir / "other").string());  // not committed: nothing left behind
    abandoned.write("x");
  }
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 2);  // victim and cache.bin
}

// A tree removed whole, depth first; a symbolic link inside it goes, what it points to stays; nothing there
// is success; a folder that cannot be emptied says why.
TEST(Files, RemoveTreeRemovesEverythingButWhatLinksPointTo) {
  auto dir = sedenergy::test::temp_dir();
  sedenergy::test::write_text(dir / "outside" / "keep.txt", "precious");
  sedenergy::test::write_text(dir / "tree" / "a" / "b" / "c.wav", "x");
  sedenergy::test::write_text(dir / "tree" / "top.tsv", "y");
  std::filesystem::create_directory_symlink(dir / "outside", dir / "tree" / "a" / "link");
  std::string why;
  EXPECT_TRUE(sedenergy::remove_tree((dir / "tree").string(), &why)) << why;
  EXPECT_FALSE(std::filesystem::exists(dir / "tree"));
  EXPECT_EQ(sedenergy::test::read_text(dir / "outside" / "keep.txt"), "precious");
  EXPECT_TRUE(sedenergy::remove_tree((dir / "tree").string()));  // already gone
  EXPECT_FALSE(sedenergy::remove_tree((dir / "outside" / "keep.txt" / "below").string(), &why));
  EXPECT_EQ(why, "Not a directory");
  sedenergy::test::write_text(dir / "locked" / "inner" / "f", "z");
  std::filesystem::permissions(dir / "locked" / "inner", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  if (::geteuid() != 0) {  // root removes it anyway
    EXPECT_FALSE(sedenergy::remove_tree((dir / "locked").string(), &why));
    EXPECT_NE(why.find("ermission"), std::string::npos) << why;
    EXPECT_TRUE(std::filesystem::exists(dir / "locked" / "inner" / "f"));
  }
  std::filesystem::permissions(dir / "locked" / "inner", std::filesystem::perms::owner_all);
}

// Every headline finding under each idle baseline the database gives (none, the session's with a CUDA
// context, the one before the context), and whether it holds under all. A constant factor between the two
// trends holds everywhere across the shared FLOPs range; an idle power that takes more from CNN/CRNN (200 W)
// than from MLP/RNN (250 W) flips a ratio of 0.8 (gross) to 0.8 x 0.4 / 0.25 = 1.28 and is said to depend on
// the baseline; lines that cross are said not to hold as one number.
TEST(Analysis, CrossChecksSayWhichFindingsHoldUnderEveryBaseline) {
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
    EXPECT_EQ(row["verdict"], "holds under every baseline") << row.dump();
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
    EXPECT_EQ(row["verdict"], "depends on the baseline") << row.dump();
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
  write_study((dir / "crossing.db").string(), crossing);
  a = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "crossing.db").string()}, (dir / "c").string()).json));
  const auto& gross = table_row(a, "two_trends", "phase", "train");
  EXPECT_NEAR(gross["ratio_low"].get<double>(), std::pow(gross["flops_low"].get<double>() / 1e12, 0.4), 0.1);
  EXPECT_NEAR(gross["ratio_high"].get<double>(), std::pow(gross["flops_high"].get<double>() / 1e12, 0.4), 0.2);
  EXPECT_LT(gross["ratio_low_ci_hi"].get<double>(), 1);
  EXPECT_GT(gross["ratio_high_ci_lo"].get<double>(), 1);
  EXPECT_NE(a["findings"].dump().find("the ratio changes side across the range, so it does not hold as one number"),
            std::string::npos) << a["findings"].dump(1);
}

// A database where the truth is known: every configuration runs under `reference` and under `other`, which
// takes `share` of its energy and launches fewer kernels; three repetitions with 1 % noise. Returns the analysis.
json software_choice_analysis(const std::string& reference, const std::string& other, double share = 0.5) {
  auto dir = test::temp_dir();
  {
    store::Store db((dir / "impl.db").string());
    const auto id = begin_gpu_session(db);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> noise(1.0, 0.01);
    for (const std::string config : {"mlp:1x64", "cnn:1x64", "rnn:1x64", "crnn:1x1:64x64"}) {
      for (const auto& [impl, part] : {std::pair{reference, 1.0}, std::pair{other, share}}) {
        for (int rep = 1; rep <= 3; ++rep) {
          store::RunRecord r;
          r.session_id = id;
          r.config = config;
          r.family = config.substr(0, config.find(':'));
          for (auto& c : r.family) c = static_cast<char>(std::toupper(c));
          r.impl = impl;
          r.variant = models::variant_name(config, 1.0, 1, impl);
          r.repetition = rep;
          r.train_flops_per_epoch = 1e11;
          r.train_kernels_per_step = impl == other ? 29 : 35;
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

TEST(Analysis, SoftwareChoicesAreComparedWithPytorchDefault) {
  expect_software_choices(software_choice_analysis("pytorch-default", "fastest"), "pytorch-default", "fastest");
}

// Without runs of pytorch-default (a study at the default and the same study at another precision), the
// choices are measured against sedenergy's default.
TEST(Analysis, SoftwareChoicesWithoutPytorchDefaultAreComparedWithTheDefault) {
  const std::string tf32 = "fused/eager/tf32/host";
  expect_software_choices(software_choice_analysis("default", tf32), "default", tf32);
}

// An implementation that costs more is not called the best: the reference has the least energy everywhere.
TEST(Analysis, SoftwareChoiceThatCostsMoreIsNotTheLeast) {
  const std::string findings = software_choice_analysis("pytorch-default", "bf16", 1.5)["findings"].dump();
  EXPECT_NE(findings.find("(pytorch-default included) uses a median 1x the energy per epoch of pytorch-default (from 1x to 1x; "
                          "least: 'pytorch-default' for 4). Beyond the 95 % intervals, 'bf16' uses less energy on 0 of 4 "
                          "configurations and more on 4."),
            std::string::npos) << findings;
}

// The report (analysis.json) of n repetitions of mlp:1x64's training, each phase set by `phase(rep, p)`.
static json repetitions_report(int n, const std::function<void(int, store::PhaseRecord&)>& phase) {
  auto dir = test::temp_dir();
  {
    store::Store db((dir / "reps.db").string());
    const auto id = begin_gpu_session(db);
    for (int rep = 1; rep <= n; ++rep) {
      store::RunRecord r;
      r.session_id = id;
      r.config = r.variant = "mlp:1x64";
      r.family = "MLP";
      r.repetition = rep;
      r.train_flops_per_epoch = 1e10;
      store::PhaseRecord p;
      p.phase = "train";
      p.gpu_method = "nvml total-energy counter delta";
      phase(rep, p);
      r.phases = {p};
      db.add_run(r);
    }
  }
  return json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "reps.db").string()}, (dir / "r").string()).json));
}

// Host stalls on a database where the truth is known: of three repetitions, one took twice the time per
// epoch (and more energy); it is flagged with its factor and what the host did, and none is dropped.
TEST(Analysis, HostStallsAreFlaggedNotDropped) {
  const auto a = repetitions_report(3, [](int rep, store::PhaseRecord& p) {
    const bool stalled = rep == 2;
    p.duration_s = stalled ? 2.0 : 1.0 + 0.01 * rep;
    p.gpu_energy_j = stalled ? 300 : 200;  // the extra second near idle power
    p.epochs = 4;
    p.epoch_times_json = stalled ? "[1.0, 1.0, 5.0, 1.0]" : "[1.0, 1.0, 1.0, 1.0]";
    p.own_cpu_s = 3.5;
    p.other_cpu_load = stalled ? 0.6 : 0.01;
  });
  const auto& rows = a["tables"]["stalls"]["rows"];
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["repetition"], 2);
  EXPECT_NEAR(rows[0]["factor"].get<double>(), 2.0 / 1.03, 1e-9);  // median of 1.01, 2.0, 1.03
  EXPECT_NEAR(rows[0]["energy_excess_pct"].get<double>(), 50, 1e-9);
  EXPECT_NEAR(rows[0]["slowest_epoch_factor"].get<double>(), 5, 1e-9);
  EXPECT_NEAR(rows[0]["other_cpu_load"].get<double>(), 0.6, 1e-12);
  EXPECT_NE(a["findings"].dump().find("Host stalls: 1 of 3 repetitions took more than 1.25x"), std::string::npos)
      << a["findings"].dump(1);
  const auto& summary = table_row(a, "runs_summary", "config", "mlp:1x64");
  EXPECT_EQ(summary["repetitions"], 3);  // kept
  EXPECT_NEAR(summary["energy_median_j"].get<double>(), 200, 1e-9);
}

// A damaged per-epoch record (hand-edited, truncated) is read as not recorded: the stall is still flagged,
// without its slowest epoch, and the report is written.
TEST(Analysis, ADamagedEpochRecordDoesNotStopTheReport) {
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

// Energy per epoch that is the sum of three costs, as the launch-aware predictor assumes: 1 mJ per kernel
// launch, 2 pJ per FLOP and 50 pJ per byte, plus 5 J, with 1 % noise; each family in its own mix (RNNs
// launch many kernels, CNNs compute, MLPs move bytes). FLOPs alone cannot predict a held-out family; the
// linear launches + FLOPs + traffic predictor recovers the law out of sample. The session's hardware
// probes make the estimated-time predictor available.
TEST(Analysis, ALaunchAwarePredictorRecoversASumOfCosts) {
  auto dir = test::temp_dir();
  const auto path = (dir / "launch.db").string();
  {
    store::Store db(path);
    store::SessionRecord s;
    s.started_at = "2026-11-30T00:00:00Z";
    s.gpu_name = "GPU";
    s.hardware_json = store::HardwareProbes{6e-6, 5e13, 4e12}.to_json();
    const auto id = db.begin_session(s);
    std::mt19937_64 rng(9);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> noise(1.0, 0.01);
    const std::map<std::string, std::array<double, 3>> mix = {  // log10 ranges' centres: kernels, FLOPs, bytes
        {"MLP", {1.5, 10.5, 11.5}}, {"CNN", {1.7, 12.5, 10.5}}, {"RNN", {2.6, 11.0, 10.8}}, {"CRNN", {2.2, 12.0, 11.0}}};
    const std::map<std::string, std::string> prefix = {
        {"MLP", "mlp:1x"}, {"CNN", "cnn:1x"}, {"RNN", "rnn:1x"}, {"CRNN", "crnn:1x1:64x"}};
    for (const auto& [fam, c] : mix) {
      for (int k = 0; k < 6; ++k) {
        store::RunRecord r;
        r.session_id = id;
        r.family = fam;
        r.config = prefix.at(fam) + std::to_string(64 << k);
        r.variant = r.config;
        r.batch = 8;
        const double steps = 198, kernels = std::round(std::pow(10, c[0] + 0.6 * u(rng)));
        r.train_kernels_per_step = r.test_kernels_per_step = static_cast<int>(kernels);
        r.train_flops_per_epoch = r.test_flops_per_epoch = std::pow(10, c[1] + 1.5 * u(rng));
        r.train_flops_per_step = r.test_flops_per_step = r.train_flops_per_epoch / steps;
        r.train_traffic_bytes_per_step = r.test_traffic_bytes_per_step = std::pow(10, c[2] + 1.5 * u(rng)) / steps;
        for (const char* phase : {"train", "test"}) {
          r.phases.push_back(one_epoch_at_200_w(phase, (5 + 1e-3 * kernels * steps + 2e-12 * r.train_flops_per_epoch +
                                                        5e-11 * r.train_traffic_bytes_per_step * steps) * noise(rng)));
        }
        db.add_run(r);
      }
    }
  }
  const auto files = report::write_report(std::vector<std::string>{path}, (dir / "report").string());
  const auto a = json::parse(test::read_text(files.json));
  double flops = NAN, linear = NAN;
  int timed = 0;
  for (const auto& r : a["tables"]["predictors"]["rows"]) {
    if (r["phase"] != "train") continue;
    if (r["predictor"] == "FLOPs") flops = r["median_ape_lofo_pct"];
    if (r["predictor"] == "kernel launches + FLOPs + memory traffic (linear)") linear = r["median_ape_lofo_pct"];
    if (r["predictor"] == "estimated time from measured rates") timed = r["n"];
  }
  EXPECT_LT(linear, 3) << a["tables"]["predictors"].dump(1);
  EXPECT_GT(flops, 20);
  EXPECT_EQ(timed, 24);
  EXPECT_NE(a["findings"].dump().find("is kernel launches + FLOPs + memory traffic (linear), with a leave-one-family-out median error of"),
            std::string::npos)
      << a["findings"].dump(1);
  // The choice validated too: on any three families the law's own form wins, so it is chosen for each
  // held-out family and predicts it within the noise; every configuration is predicted once.
  const auto& chosen = [&]() -> const json& {
    for (const auto& r : a["tables"]["predictors"]["rows"]) {
      if (r["phase"] == "train" && r["predictor"].get<std::string>().find("chosen on the other families") != std::string::npos) return r;
    }
    static const json none;
    return none;
  }();
  ASSERT_FALSE(chosen.is_null()) << a["tables"]["predictors"].dump(1);
  EXPECT_EQ(chosen["n"], 24);
  EXPECT_LT(chosen["median_ape_lofo_pct"].get<double>(), 3);
  for (const char* fam : {"MLP", "CNN", "RNN", "CRNN"}) {
    EXPECT_NE(chosen["note"].get<std::string>().find(std::string(fam) + ": kernel launches + FLOPs + memory traffic (linear)"),
              std::string::npos) << chosen.dump();
  }
  EXPECT_NE(a["findings"].dump().find("Choosing the predictor out of sample too"), std::string::npos);
}

using FamilyConfigs = std::map<std::string, std::vector<std::string>>;
const FamilyConfigs kPricedConfigs = {
    {"MLP", {"mlp:1x512", "mlp:1x1024", "mlp:1x2048", "mlp:4x1024", "mlp:4x2048", "mlp:4x4096"}},
    {"CNN", {"cnn:1x128", "cnn:1x256", "cnn:1x512", "cnn:2x128", "cnn:2x256", "cnn:2x512"}},
    {"RNN", {"rnn:1x128", "rnn:1x512", "rnn:1x1024", "rnn:4x1024", "rnn:2x2048", "rnn:6x1024"}},
    {"CRNN", {"crnn:1x1:64x64", "crnn:2x1:64x64", "crnn:1x2:64x64", "crnn:1x1:256x64", "crnn:2x1:512x256",
              "crnn:1x1:512x256"}}};

// Runs of `configs` on `gpu` under `impl`, their energy per epoch priced by kind of work as on a GPU
// (docs/FACTS.md §6.4): 5 J, 1 mJ per kernel launch, and per FLOP 6 pJ in matrix products (cuBLAS's
// `cublas_factor` times that), 1 nJ in one-channel convolutions, 3 pJ in other convolutions and 0.2 nJ in
// recurrent steps, with 1 % noise, on real configurations counted by the accounting.
void write_priced_study(const std::string& path, const FamilyConfigs& configs, const std::string& gpu = "GPU",
                        const std::string& impl = "", double cublas_factor = 1) {
  store::Store db(path);
  const auto id = begin_gpu_session(db, gpu);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(1.0, 0.01);
  const double steps = 198;
  for (const auto& [fam, list] : configs) {
    for (std::size_t k = 0; k < list.size(); ++k) {
      store::RunRecord r;
      r.session_id = id;
      r.family = fam;
      r.config = list[k];
      r.variant = impl.empty() ? r.config : models::variant_name(r.config, 1, 1, impl);
      r.impl = impl;
      r.batch = 8;
      const auto c = compute::count(models::parse_spec(r.config), {8, 128, 64});
      r.train_flops_per_step = c.train_step_flops();
      r.test_flops_per_step = c.test_step_flops();
      r.train_flops_per_epoch = steps * r.train_flops_per_step;
      r.test_flops_per_epoch = steps * r.test_flops_per_step;
      r.train_traffic_bytes_per_step = compute::dram_traffic(c).train_step_bytes;
      r.test_traffic_bytes_per_step = compute::dram_traffic(c).test_step_bytes;
      r.train_kernels_per_step = r.test_kernels_per_step = static_cast<int>(10 + 7 * k);
      for (const bool train : {true, false}) {
        const auto w = compute::work_split(c, train);
        const double matrix = w.matrix + (cublas_factor - 1) * w.cublas_matrix;
        r.phases.push_back(one_epoch_at_200_w(
            train ? "train" : "test", (5 + 1e-3 * steps * r.train_kernels_per_step +
                                       steps * (6e-12 * matrix + 1e-9 * w.single_channel_conv + 3e-12 * w.conv +
                                                2e-10 * w.serial_recurrent)) * noise(rng)));
      }
      db.add_run(r);
    }
  }
}

// A predictor row's median error per held-out family ("MLP 29 %; CNN 9 %" -> {MLP: 29, CNN: 9}).
std::map<std::string, double> held_out_family_errors(const json& row) {
  std::map<std::string, double> by_family;
  if (!row["median_ape_lofo_by_family"].is_string()) return by_family;
  for (const auto& part : split(row["median_ape_lofo_by_family"].get<std::string>(), ';')) {
    const auto words = split(trim(part), ' ');
    if (words.size() == 3) by_family[words[0]] = std::stod(words[1]);
  }
  return by_family;
}

// Energy priced by kind of work (write_priced_study). One cost per FLOP cannot predict a held-out family;
// FLOPs by kind can, each family but the CRNNs (the only ones with recurrent steps, priced at zero when they
// are held out) within the noise.
TEST(Analysis, FlopsByKindOfLayerPredictTheFamiliesTheyShareWork) {
  auto dir = test::temp_dir();
  const auto path = (dir / "kinds.db").string();
  write_priced_study(path, kPricedConfigs);
  const auto files = report::write_report(std::vector<std::string>{path}, (dir / "report").string());
  const auto a = json::parse(test::read_text(files.json));
  for (const char* phase : {"train", "test"}) {
    std::map<std::string, double> ape;
    for (const auto& r : a["tables"]["predictors"]["rows"]) {
      if (r["phase"] == phase && r["median_ape_lofo_pct"].is_number()) ape[r["predictor"]] = r["median_ape_lofo_pct"];
    }
    const std::string kinds = "kernel launches + FLOPs by kind of layer (linear)";
    ASSERT_EQ(ape.count(kinds), 1u) << a["tables"]["predictors"].dump(1);
    EXPECT_LT(ape[kinds], 3) << a["tables"]["predictors"].dump(1);
    EXPECT_GT(ape.at("kernel launches + FLOPs + memory traffic (linear)"), 10);
    EXPECT_GT(ape.at("FLOPs"), 10);
    EXPECT_EQ(a["predictions"][phase]["predictor"], kinds);
    // Each held-out family's own median: within the noise but for the CRNNs.
    for (const auto& r : a["tables"]["predictors"]["rows"]) {
      if (r["phase"] != phase || r["predictor"] != kinds) continue;
      const auto by_family = held_out_family_errors(r);
      for (const char* fam : {"MLP", "CNN", "RNN"}) EXPECT_LT(by_family.at(fam), 3) << r.dump();
      EXPECT_GT(by_family.at("CRNN"), 10) << r.dump();
    }
  }
  EXPECT_NE(a["findings"].dump().find("by held-out family: MLP "), std::string::npos) << a["findings"].dump(1);
  // Held out, the CRNNs' recurrent steps are priced at zero: every CRNN is predicted too low, and the
  // ones whose energy is mostly recurrent steps by far.
  int crnn = 0;
  for (const auto& pt : a["predictions"]["train"]["points"]) {
    if (pt["family"] != "CRNN") continue;
    ++crnn;
    EXPECT_LT(pt["predicted_j"].get<double>(), pt["measured_j"].get<double>()) << pt.dump();
    if (pt["config"] == "crnn:1x1:512x256") EXPECT_LT(pt["predicted_j"].get<double>(), 0.5 * pt["measured_j"].get<double>());
  }
  EXPECT_EQ(crnn, 6);
  EXPECT_NE(a["tables"]["predictors"]["note"].get<std::string>().find("priced at zero"), std::string::npos);
}

// At PyTorch's float32 defaults cuBLAS's matrix products run in IEEE float32 and cuDNN's on TF32. Here an
// H100's cuBLAS FLOPs cost 3x its other matrix FLOPs: one matrix cost mispredicts the held-out MLPs (every
// product cuBLAS's) and RNNs (all but the head cuDNN's). An H200, the same compute die, ran mlp:4x4096 at
// fp32 and at tf32: what its IEEE FLOPs cost beyond TF32 ones prices the H100's, and every family but the
// CRNNs (priced at zero when held out) comes within the noise. Without the tf32 run the row says why not.
TEST(Analysis, TheCostOfIeeeProductsMeasuredOnOneGpuHoldsOnItsDie) {
  auto dir = test::temp_dir();
  const std::string h100 = "NVIDIA H100 80GB HBM3";
  const FamilyConfigs reference = {{"MLP", {"mlp:4x4096"}}};
  write_priced_study((dir / "h100.db").string(), kPricedConfigs, h100, "default", 3);
  write_priced_study((dir / "h200.db").string(), reference, "NVIDIA H200", "default", 3);
  write_priced_study((dir / "h200-tf32.db").string(), reference, "NVIDIA H200", "fused/eager/tf32/host", 1);
  const std::string precision = "kernel launches + FLOPs by kind of layer + the measured cost of IEEE float32 (linear)";
  const auto predictor_rows = [&](const std::vector<std::string>& dbs, const std::string& out) {
    std::map<std::string, json> rows;  // phase|predictor -> row, on the H100
    const auto a = json::parse(test::read_text(report::write_report(dbs, (dir / out).string()).json));
    for (const auto& r : a["tables"]["predictors"]["rows"]) {
      if (r["gpu"] == h100) rows[r["phase"].get<std::string>() + "|" + r["predictor"].get<std::string>()] = r;
    }
    return rows;
  };
  auto rows = predictor_rows({(dir / "h100.db").string(), (dir / "h200.db").string(), (dir / "h200-tf32.db").string()}, "with");
  for (const std::string phase : {"train", "test"}) {
    const json& r = rows[phase + "|" + precision];
    ASSERT_TRUE(r["median_ape_lofo_pct"].is_number()) << r.dump();
    const auto with = held_out_family_errors(r);
    const auto without = held_out_family_errors(rows[phase + "|kernel launches + FLOPs by kind of layer (linear)"]);
    for (const char* fam : {"MLP", "CNN", "RNN"}) EXPECT_LT(with.at(fam), 3) << fam << " " << r.dump();
    EXPECT_GT(without.at("RNN"), 10) << phase;
    // 6 pJ x (3 - 1) per IEEE FLOP beyond TF32, within the two runs' 1 % noise.
    const std::string note = r["note"];
    const auto at = note.find("an IEEE float32 FLOP costs ");
    ASSERT_NE(at, std::string::npos) << note;
    EXPECT_NEAR(std::stod(note.substr(at + 27)), 1.2e-11, 0.15e-11) << note;
    EXPECT_NE(note.find("(mlp:4x4096 on NVIDIA H200: default against fused/eager/tf32/host) beyond a TF32 one"),
              std::string::npos) << note;
  }
  rows = predictor_rows({(dir / "h100.db").string(), (dir / "h200.db").string()}, "without");
  EXPECT_EQ(rows["test|" + precision]["n"], 0);
  EXPECT_EQ(rows["test|" + precision]["note"], "no configuration ran at fp32 and at tf32 on a GPU with this one's compute die");
}

// Three GPUs: one with the same law 3x dearer, predicted from the first and two reference configurations
// (exact but for the 2 % noise); one without the second trend. The headline findings of each GPU's own
// analysis side by side, with whether they hold on all; the kernels counted on one GPU stand for another's
// runs of the same variants, and say so.
TEST(Analysis, SeveralGpusSayWhichFindingsHoldOnEvery) {
  auto dir = test::temp_dir();
  Law h100;
  h100.kernels = 30;
  write_study((dir / "a.db").string(), h100);
  Law scaled = h100;
  scaled.gpu = "Tesla T4";
  scaled.gpu_scale = 3;
  scaled.kernels = -1;  // not counted there
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
  bool specific = false;
  for (const auto& r : a["tables"]["by_gpu"]["rows"]) {
    if (r["quantity"] == "MLP/RNN over CNN/CRNN energy at equal FLOPs, middle of the shared range (train)") {
      specific |= r["verdict"] == "hardware-specific";
    }
    // The slopes are the same law on every GPU (0.9, with 2 % noise): they hold on every one.
    if (r["quantity"] == "log-log slope of energy on FLOPs, CNN (train)") EXPECT_EQ(r["verdict"], "holds on every GPU");
  }
  EXPECT_TRUE(specific) << a["tables"]["by_gpu"].dump(1);
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

// A constant model's mAP recorded with every run (0.22): each family's smallest configuration (mAP 0.2) did
// not learn. It is named, marked on its points, and the cheapest configuration, on the front when it learns,
// is kept off it. Without the chance level the analysis says it cannot judge.
TEST(Analysis, ModelsThatDidNotLearnStayOffTheParetoFront) {
  auto dir = test::temp_dir();
  Law law;
  law.map_chance = 0.22;
  write_study((dir / "r.db").string(), law);
  const auto a = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "r.db").string()}, (dir / "report").string()).json));
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
  write_study((dir / "old.db").string(), Law{});
  const auto old = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "old.db").string()}, (dir / "old").string()).json));
  EXPECT_NE(old["not_computed"].dump().find("did-not-learn: the chance mAP"), std::string::npos);
}

// Energy to a validation mAP on learning runs where the truth is known: the two larger sizes of each family
// reach 0.4 at epoch 3 (3 x their training energy per epoch), the two smaller never do; the finding names
// the cheapest and the dearest and counts those that never reached it.
TEST(Analysis, EnergyToATargetMapReadsTheLearningCurves) {
  auto dir = test::temp_dir();
  Law law;
  law.learning = true;
  write_study((dir / "l.db").string(), law);
  analysis::AnalysisOptions options;
  options.target_map = 0.4;
  const auto a = json::parse(test::read_text(
      report::write_report(std::vector<std::string>{(dir / "l.db").string()}, (dir / "r").string(), options).json));
  const auto& rows = a["tables"]["energy_to_target"]["rows"];
  ASSERT_EQ(rows.size(), 16u);
  std::map<std::string, std::vector<double>> train_j;  // per configuration, each repetition's
  for (const auto& row : store::Store((dir / "l.db").string()).rows()) {
    if (row.phase.phase == "train") train_j[row.config].push_back(row.phase.gpu_energy_j);
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
  }
  const auto findings = a["findings"].dump();
  EXPECT_NE(findings.find("Energy to reach validation mAP 0.4: the cheapest is "), std::string::npos) << findings;
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
      report::write_report(std::vector<std::string>{(dir / "l.db").string()}, (dir / "auto").string()).json));
  EXPECT_NE(b["findings"].dump().find("Energy to reach validation mAP 0.45: "), std::string::npos) << b["findings"].dump(1);
  EXPECT_NE(b["findings"].dump().find("; 12 never did: "), std::string::npos);
}
