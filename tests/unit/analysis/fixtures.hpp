// What the analysis tests share: studies written into real SQLite files where the truth is known (a Law of
// energy against FLOPs per family, runs written by hand), and readers of the report they give.
#pragma once
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "common/text.hpp"
#include "models/implementation.hpp"
#include "report/report.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

namespace sedenergy::test {

using nlohmann::json;

inline int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// Text of an HTML page without its <script> elements (the bundled library is not ours to check).
inline std::string without_scripts(std::string html) {
  for (auto a = html.find("<script"); a != std::string::npos; a = html.find("<script")) {
    auto b = html.find("</script>", a);
    html.erase(a, b == std::string::npos ? std::string::npos : b + 9 - a);
  }
  return html;
}

inline bool has_nan(const std::string& text) {
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
  std::string code_version = "abc1234";  // the session's git revision
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
inline std::string next_session_start() {
  static int n = 0;
  char text[32];
  std::snprintf(text, sizeof text, "2026-11-27T%02d:%02d:%02dZ", n / 3600 % 24, n / 60 % 60, n % 60);
  ++n;
  return text;
}

// A study on a fake GPU: energy per epoch = factor x 1e-9 x FLOPs^0.9 with 2 % noise; MLP/RNN train at
// 250 W and test at 150 W, CNN/CRNN at 200 W in both; mAP grows with FLOPs.
inline void write_study(const std::string& path, const Law& law) {
  store::Store db(path);
  store::SessionRecord s;
  s.started_at = next_session_start();
  s.hostname = "host<1>";
  s.gpu_name = law.gpu;
  s.git_revision = law.code_version;
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
        r.train_work.flops_per_epoch = 1e11 * std::pow(4.0, k) * (heavy ? 1.5 : 1);
        r.test_work.flops_per_epoch = r.train_work.flops_per_epoch / 3;
        r.train_work.flops_per_step = r.train_work.flops_per_epoch / 198;
        r.test_work.flops_per_step = r.test_work.flops_per_epoch / 198;
        r.metrics.map = 0.2 + 0.1 * k;
        r.metrics.map_chance = law.map_chance;
        if (law.kernels >= 0) r.train_work.kernels_per_step = r.test_work.kernels_per_step = law.kernels + 10 * k;
        for (const char* phase : {"train", "test"}) {
          store::PhaseRecord p;
          p.phase = phase;
          p.epochs = 3;
          const double flops = std::string(phase) == "train" ? r.train_work.flops_per_epoch : r.test_work.flops_per_epoch;
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
inline std::int64_t begin_gpu_session(store::Store& db, const std::string& gpu = "GPU",
                                      const std::string& hardware_json = "") {
  store::SessionRecord s;
  s.started_at = next_session_start();
  s.gpu_name = gpu;
  s.hardware_json = hardware_json;
  return db.begin_session(s);
}

// One epoch's phase window on a GPU whose counter gave `energy_j`, drawing 200 W.
inline store::PhaseRecord one_epoch_at_200_w(const std::string& phase, double energy_j) {
  store::PhaseRecord p;
  p.phase = phase;
  p.epochs = 1;
  p.gpu_method = "nvml total-energy counter delta";
  p.gpu_energy_j = p.energy_j = energy_j;
  p.duration_s = energy_j / 200;
  return p;
}

inline const json& table_row(const json& a, const std::string& table, const std::string& key, const std::string& value) {
  for (const auto& r : a["tables"][table]["rows"]) {
    if (r[key] == value) return r;
  }
  static json none;
  return none;
}

// The report (analysis.json) of n repetitions of mlp:1x64's training, each phase set by `phase(rep, p)`.
inline json repetitions_report(int n, const std::function<void(int, store::PhaseRecord&)>& phase) {
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
      r.train_work.flops_per_epoch = 1e10;
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

// The report (analysis.json) of one database per law, written into `dir` as NAME-0.db, ..., read together
// into the report folder dir/NAME.
inline json law_report(const std::filesystem::path& dir, const std::string& name, const std::vector<Law>& laws,
                       const analysis::AnalysisOptions& options = {}) {
  std::vector<std::string> dbs;
  for (std::size_t i = 0; i < laws.size(); ++i) {
    dbs.push_back((dir / (name + "-" + std::to_string(i) + ".db")).string());
    write_study(dbs.back(), laws[i]);
  }
  return json::parse(test::read_text(report::write_report(dbs, (dir / name).string(), options).json));
}

}  // namespace sedenergy::test
