// The measurement's own quality: host stalls among the repetitions, validity flags, counter against power
// integral, the idle share of the energy.
#include "analysis/questions.hpp"

#include <algorithm>
#include <set>

#include "analysis/stats.hpp"
#include "common/absent.hpp"
#include "common/text.hpp"
#include "store/json_columns.hpp"

namespace sedenergy::analysis {

// Host stalls: repetitions whose time per epoch exceeds their configuration's median by the stall factor,
// shown with what the record says of the host then (other processes' CPU load, the study's own CPU time)
// and the slowest epoch inside the window; none is dropped, the runs summary gives the median beside the mean.
void add_stalls(Analysis& a, const std::map<std::string, Acc>& acc, double factor) {
  Table t{"stalls", "Host stalls: repetitions slower than their configuration's median",
          "time per epoch over the median of the configuration's repetitions (flagged above " + fmt(factor) +
              "x); the slowest epoch inside the window over that window's median epoch; the CPU load of other "
              "processes on the host and the study's own CPU seconds in the window (measured, schema 6 and later); "
              "the runner's re-run of it (schema 7: --stall-retries), which counts as one more repetition",
          {"config", "phase", "repetition", "run_id", "time_per_epoch_s", "median_s", "factor", "energy_excess_pct",
           "slowest_epoch_factor", "other_cpu_load", "own_cpu_s", "re_run"},
          {}};
  int reps = 0;
  std::vector<double> excess;
  for (const auto& [key, g] : acc) {
    std::vector<const store::RunPhaseRow*> group;
    for (const auto* r : g.rows) {
      if (r->phase.duration_s > 0) group.push_back(r);
    }
    if (group.size() < 2) continue;
    reps += static_cast<int>(group.size());
    // Judged against the planned repetitions' median, as the runner judges them (re-runs never move it).
    std::vector<double> times, energies;
    std::vector<bool> planned;
    for (const auto* r : group) {
      times.push_back(r->phase.duration_s), energies.push_back(r->phase.gpu_energy_j), planned.push_back(r->run->retry_of == 0);
    }
    const auto ratio = over_median(times, planned), energy_ratio = over_median(energies, planned);
    const double median = reference_median(times, planned);
    // The re-run of a flagged repetition, as the runner recorded it.
    auto re_run = [&](int repetition) -> json {
      for (const auto* o : group) {
        if (o->run->retry_of == repetition) {
          return "repetition " + std::to_string(o->run->repetition) + ": " + fmt(o->phase.duration_s / median, "%.2f") +
                 "x the median";
        }
      }
      return nullptr;
    };
    for (std::size_t i = 0; i < group.size(); ++i) {
      const auto* r = group[i];
      if (!(ratio[i] > factor)) continue;
      double slowest = NAN;
      if (const auto laps = store::read_epoch_times(r->phase.epoch_times_json); !laps.empty()) {
        slowest = *std::max_element(laps.begin(), laps.end()) / summarize(laps).median;
      }
      const double over = 100 * (energy_ratio[i] - 1);
      if (std::isfinite(over)) excess.push_back(over);
      t.rows.push_back({r->run->variant, r->phase.phase, r->run->repetition, r->run_id, num(r->phase.duration_s), num(median),
                        num(ratio[i]), num(over), num(slowest),
                        num(or_nan(r->phase.other_cpu_load)),
                        num(or_nan(r->phase.own_cpu_s)), re_run(r->run->repetition)});
    }
  }
  if (reps == 0) return;
  a.tables.push_back(t);
  const auto re_runs = std::count_if(t.rows.begin(), t.rows.end(), [](const auto& row) { return !row.back().is_null(); });
  a.findings.push_back("Host stalls: " + std::to_string(t.rows.size()) + " of " + std::to_string(reps) +
                       " repetitions took more than " + fmt(factor) + "x their configuration's median time per epoch" +
                       (re_runs ? " (" + std::to_string(re_runs) + " of them measured again by the runner)" : "") +
                       (excess.empty() ? "." : ", with a median " + fmt(summarize(excess).median) +
                                                   " % more GPU energy than the configuration's median (stalls table; "
                                                   "none dropped: compare energy_median_j with energy_mean_j in the "
                                                   "runs summary)."));
}

void add_measurement_quality(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const std::vector<WindowFacts>& facts) {
  Table t{"quality", "Quality of the measurements",
          "validity flags over all windows; counter against power integral; share of the energy the idle GPU would "
          "have drawn anyway",
          {"item", "value", "note"}, {}};
  std::map<std::string, int> flags;
  std::vector<double> diff, idle_share;
  std::map<std::int64_t, double> idle_context, idle_no_context;  // by session
  int windows = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (r.phase.phase.empty()) continue;
    ++windows;
    if (r.site->hardware.idle_no_context_w > 0) idle_no_context[r.run->session_id] = r.site->hardware.idle_no_context_w;
    if (r.phase.net_gpu_energy_j > 0 && r.phase.duration_s > 0) {
      idle_context[r.run->session_id] = (r.phase.gpu_energy_j - r.phase.net_gpu_energy_j) / r.phase.duration_s;
    }
    for (const auto& f : split_flags(r.phase.flags)) {
      auto colon = f.find(": ");
      flags[f.rfind("gpu", 0) == 0 && colon != std::string::npos ? f.substr(colon + 2) : f]++;
    }
    diff.insert(diff.end(), facts[i].counter_vs_integral_pct.begin(), facts[i].counter_vs_integral_pct.end());
    idle_share.insert(idle_share.end(), facts[i].idle_share_pct.begin(), facts[i].idle_share_pct.end());
  }
  t.rows.push_back({"windows", windows, ""});
  t.rows.push_back({"runs failed", a.runs_failed, a.runs_failed ? "see the runs table for their reasons" : ""});
  for (const auto& [f, c] : flags) t.rows.push_back({"flag: " + f, c, "windows"});
  if (!diff.empty()) {
    t.rows.push_back({"counter vs power integral, median |difference| %", num(median(diff)), std::to_string(diff.size()) + " GPU windows"});
    t.rows.push_back({"counter vs power integral, max |difference| %", num(*std::max_element(diff.begin(), diff.end())), ""});
  }
  if (!idle_share.empty()) {
    t.rows.push_back({"idle share of GPU energy, median %", num(median(idle_share)), "idle baseline x window length / energy"});
  }
  for (const auto& [what, by_session] : {std::pair{"GPU idle power with the CUDA context, W", &idle_context},
                                         std::pair{"GPU idle power before the CUDA context, W", &idle_no_context}}) {
    std::vector<double> w;
    for (const auto& [session, watts] : *by_session) w.push_back(watts);
    if (!w.empty()) t.rows.push_back({what, num(median(w)), "measured (NVML), median of " + std::to_string(w.size()) + " sessions"});
  }
  a.tables.push_back(t);
}

}  // namespace sedenergy::analysis
