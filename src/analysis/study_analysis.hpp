// The study's questions answered from a results database (issue: analysis and report): every run's
// phases aggregated over repetitions, correlations with intervals, log-log slopes and the two trends,
// the train/test power gap, predictors validated out of sample, scaling, the energy/quality Pareto
// front, hardware normalisation and the measurement's own quality. Results are tables of numbers or
// nulls; what cannot be computed says why (never NaN).
#pragma once
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/stats.hpp"
#include "compute/accounting.hpp"
#include "store/store.hpp"

namespace sedenergy::analysis {

struct Table {
  std::string id, title, note;
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;  // number, string, bool or null (not computable)
};

// One configuration variant in one phase on one GPU, over its repetitions.
struct Point {
  std::string config, variant, family, phase, gpu;
  std::string impl = "default";  // how it ran (models/implementation.hpp)
  std::string ran_as;  // that implementation spelled as its run recorded it, "auto" resolved then ("": not recorded)
  int kernels_per_step = -1;     // counted on a captured CUDA graph; -1: not counted
  std::string kernels_counted_on;  // another GPU's run of the same variant gave the count ("": this GPU's own)
  double steps = 0;              // steps per epoch of its phase
  store::HardwareProbes hardware;  // its session's measured constants
  double baseline_w = 0;           // the power its energy is above (0: gross; NaN: not known)
  int n = 0, frames = 0, epochs_per_unit = 1, clips = 0;
  double fraction = 1;
  // Per epoch: the median over repetitions, its order-statistic interval and that interval's coverage
  // (stats.hpp: [min, max] with 3 repetitions, 75 %), and the standard deviation.
  double energy_j = 0, energy_lo = 0, energy_hi = 0, energy_sd = 0, energy_coverage = NAN;
  double duration_s = 0, power_w = 0;
  double flops = 0, params = 0, traffic_bytes = 0;                 // per epoch (traffic: estimated lower bound)
  std::optional<compute::WorkSplit> work;  // its FLOPs per epoch by kind of work; none: a spec this version cannot count
  // What a FLOP of a matrix product costs in IEEE float32 beyond one on TF32 tensor cores (J), measured on a
  // GPU with the same compute die (measure_ieee_extra): each configuration that ran at both precisions gives
  // one, the most IEEE FLOPs (the least noise per FLOP) first; a predictor that holds a family out prices
  // the term with the first measured on another family's configuration. Empty: none.
  struct IeeeCost {
    double j;
    std::string family;
    std::string from;  // "3.0e-11 J (mlp:16x4096 on ...: default against .../tf32/...)"
  };
  std::vector<IeeeCost> ieee_costs;
  double gpu_util = -1, mem_util = -1, sm_util = -1, dram_bw = -1;  // means, -1: not recorded
  double map = -1;
  double map_chance = -1;      // a constant model's mAP on the same test set; -1: not recorded
  bool did_not_learn = false;  // mAP not above chance by AnalysisOptions::learn_margin
  bool flagged = false;
};

// The idle power taken off the GPU energy: none (the counter's whole delta, as CodeCarbon reports), the
// session's idle power with the study's CUDA context (what the model itself added), or the idle power
// measured before the process held a context (the GPU's own floor, schema 9).
enum class Baseline { none, session, no_context };

struct BaselineChoice {
  Baseline baseline;
  const char* option;  // report --energy's value
  const char* name;    // in tables and findings
  const char* label;   // the energy's method, for the report's axes and notes
};
// Every baseline, in the order tables list them (report --energy's values come from here).
const std::vector<BaselineChoice>& baseline_choices();
const BaselineChoice& baseline_choice(Baseline b);

struct AnalysisOptions {
  Baseline baseline = Baseline::none;  // GPU energy above this idle baseline (report --energy)
  // A repetition whose time per epoch exceeds its configuration's median by this factor is a host stall.
  double stall_factor = kStallFactor;
  // A configuration whose test mAP is not above a constant model's by this much did not learn: it stays
  // off the energy/quality Pareto front.
  double learn_margin = 0.05;
  // Learning runs: the validation mAP whose energy to reach is compared (NaN: 0.9 x the lowest of the
  // families' best, so every family has a configuration that reaches it).
  double target_map = NAN;
};

struct Analysis {
  std::string energy_label;  // what the energy numbers are, with their method
  std::string energy_axis;   // the same, short, for chart axes
  Baseline baseline = Baseline::none;  // the idle baseline taken off (none when the option could not be met)
  bool estimated = false;
  int runs = 0, runs_ok = 0, runs_failed = 0;
  // The points the model questions read: one implementation's (reference_impl). The other implementations'
  // points are in other_impl_points, for the software question.
  std::vector<Point> points;
  std::string reference_impl;
  std::vector<Point> other_impl_points;
  std::vector<Table> tables;
  // The bootstrap draws behind headline intervals, by table id, row index and the value's column: what a
  // cross-check resamples for the interval of a contrast between two analyses (not written to the report).
  std::map<std::tuple<std::string, std::size_t, std::string>, Draws> draws;
  std::map<std::string, std::set<std::string>> code_versions;  // per GPU: the commits its runs ran at
  std::vector<std::string> findings;  // the summary in words
  std::vector<std::string> cannot;    // analyses that could not be made, and why
  nlohmann::json predictions;         // measured vs predicted (best predictor, leave one family out)
  nlohmann::json pareto;              // indices into points on the front
};

Analysis analyze(const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options = {});

}  // namespace sedenergy::analysis
