// What the analysis's question files share; not for use outside src/analysis. A file per question
// (points, trends, predictors, learning, hardware, software, quality, cross-checks), each adding its
// tables and findings to an Analysis; common.cpp holds the helpers they read points and tables with.
#pragma once
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/study_analysis.hpp"

namespace sedenergy::analysis {

using json = nlohmann::json;

// ---- common.cpp: numbers, words, points and tables ----
json num(double v);  // null where not finite
std::string fmt(double v, const char* f = "%.3g");
std::string interval_text(const Interval& i, const char* f = "%.2f");  // " [lo, hi]", "" without one

// What the analysis reads from a phase's window JSON, parsed once per phase.
struct WindowFacts {
  double sm_util = -1, dram_bw = -1;
  std::vector<double> counter_vs_integral_pct, idle_share_pct;  // one per GPU domain with the numbers
};
WindowFacts window_facts(const std::string& text);
std::vector<std::string> split_flags(const std::string& text);

extern const std::vector<std::string> kFamilies;  // the study's four families (models owns the list)
std::vector<const Point*> select(const Analysis& a, const std::string& phase, const std::string& family);
std::vector<std::string> phases_of(const Analysis& a);
const json& at(const Table& t, const std::vector<json>& row, const std::string& column);
std::string cell_text(const Table& t, const std::vector<json>& row, const std::string& column);
std::size_t distinct(const Table& t, const std::string& column);
std::string gpu_of(const Table& t, const std::vector<json>& row);
const Table* table(const Analysis& a, const std::string& id);
// A number's column and its interval's, as a table names them.
struct IntervalColumns {
  std::string v, lo, hi;
};
IntervalColumns with_ci(const std::string& v);  // v, v_ci_lo, v_ci_hi
// The draws of the interval in `column` of the last row of `t` (being built), kept for the cross-checks.
void keep_draws(Analysis& a, const Table& t, const std::string& column, Draws draws);
const Draws* draws_of(const Analysis& a, const std::string& id, std::size_t row, const std::string& column);  // null: none kept
// "" when the runs of `gpus` all ran at one code version; else the sentence that says a comparison of those
// GPUs holds neither the code nor the host fixed, naming each GPU's commits.
std::string code_versions_caveat(const Analysis& a, const std::set<std::string>& gpus);

// ---- points.cpp: the runs' phases as points, the energy read from them ----
// A variant's repetitions in one phase, on one GPU and input length.
struct Acc {
  Point p;
  std::vector<double> e, d, w, gu, mu, sm, bw, map, map_chance;
  std::vector<const store::RunPhaseRow*> rows;  // the repetitions themselves
};
double baseline_watts(const store::RunPhaseRow& r, Baseline b);
double above_baseline(double gross_j, double watts, double seconds);
// What the analysis reads as energy: GPU energy above a baseline, or all domains (estimated) when some run
// has no GPU counter.
struct EnergyUse {
  bool gpu = false;
  Baseline baseline = Baseline::none;
  double of(const store::RunPhaseRow& r) const {
    return gpu ? above_baseline(r.phase.gpu_energy_j, baseline_watts(r, baseline), r.phase.duration_s) : r.phase.energy_j;
  }
};
EnergyUse choose_energy(const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options, Analysis& a);
std::string device_of(const store::RunPhaseRow& r);
std::map<std::string, Acc> aggregate(const std::vector<store::RunPhaseRow>& rows, const std::vector<WindowFacts>& facts,
                                     const EnergyUse& use, Analysis& a);
// Runs recorded under one implementation name but in two loops (pytorch-default and its kin were sedenergy's
// C++ loop until 2026-12-07, the Python loop since): the C++ loop's renamed "<name> (C++ loop)", variant too,
// so no point pools the two and the name keeps its current meaning. None where no name ran in both; `note`
// then says nothing.
inline constexpr const char* kCppLoopSuffix = " (C++ loop)";
std::optional<std::vector<store::RunPhaseRow>> loops_named_apart(const std::vector<store::RunPhaseRow>& rows,
                                                                std::string& note);
void split_implementations(Analysis& a);
std::string without_impl(const Point& p);
std::string comparison_key(const Point& p);
void borrow_kernel_counts(Analysis& a);
double ieee_matrix_flops(const Point& p);
void measure_ieee_extra(Analysis& a);
const Point::IeeeCost* ieee_cost_without(const Point& p, const std::set<std::string>& excluded);
void add_runs_summary(Analysis& a, const std::map<std::string, Acc>& acc);

// The two trends' positions in the FLOPs range both groups cover, and the two_trends table's ratio at each.
inline constexpr const char* kTrendPositions[3] = {"low", "mid", "high"};
inline std::string trend_ratio_column(const char* position) { return std::string("ratio_") + position; }

// ---- the questions ----
void add_correlations(Analysis& a, const std::vector<std::string>& phases);      // trends.cpp
void add_utilization_finding(Analysis& a);                                       // trends.cpp
void add_slopes(Analysis& a, const std::vector<std::string>& phases);            // trends.cpp
void add_two_trends(Analysis& a, const std::vector<std::string>& phases);        // trends.cpp
void add_per_flop_ranking(Analysis& a, const std::vector<std::string>& phases);  // trends.cpp
void add_power_gap(Analysis& a);                                                 // trends.cpp
void add_scaling(Analysis& a);                                                   // trends.cpp
void add_predictors(Analysis& a, const std::vector<std::string>& phases);        // predictors.cpp
void mark_did_not_learn(Analysis& a, double margin);                             // learning.cpp
void add_pareto(Analysis& a);                                                    // learning.cpp
void add_energy_to_target(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options,
                          const EnergyUse& use);                                 // learning.cpp
void add_hardware(Analysis& a);                                                  // hardware.cpp
void add_software_choices(Analysis& a, const std::map<std::string, Acc>& acc);   // software.cpp
void add_stalls(Analysis& a, const std::map<std::string, Acc>& acc, double factor);  // quality.cpp
void add_measurement_quality(Analysis& a, const std::vector<store::RunPhaseRow>& rows,
                             const std::vector<WindowFacts>& facts);              // quality.cpp

}  // namespace sedenergy::analysis
