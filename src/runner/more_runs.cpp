#include "runner/more_runs.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "analysis/stats.hpp"
#include "runner/repetitions.hpp"

namespace sedenergy::runner {
namespace {

// variant -> phase -> (repetition, value) of the sessions' ok runs, value as `of` reads it (skipped when
// not positive) and `keep` chooses the runs.
using ByPhase = std::map<std::string, std::map<std::string, std::vector<std::pair<int, double>>>>;
template <class Of, class Keep>
ByPhase ok_values(const store::Store& db, const std::vector<std::int64_t>& sessions, Of of, Keep keep) {
  ByPhase out;
  for (auto id : sessions) {
    for (const auto& r : db.rows(id)) {
      const double v = of(r);
      if (r.run->status == "ok" && keep(r) && v > 0) out[r.run->variant][r.phase.phase].push_back({r.run->repetition, v});
    }
  }
  return out;
}

// Each variant's first work item (repetition 1), the template of its re-runs and extras.
std::vector<const WorkItem*> variants(const StudyPlan& plan) {
  std::vector<const WorkItem*> out;
  for (const auto& item : plan.items) {
    if (item.repetition == 1) out.push_back(&item);
  }
  return out;
}

WorkItem numbered(const WorkItem& item, int repetition) {
  WorkItem w = item;
  w.repetition = repetition;
  w.key = w.variant + "#" + std::to_string(repetition);
  return w;
}

}  // namespace

std::vector<WorkItem> stall_retries(const StudyPlan& plan, const store::Store& db, const std::vector<std::int64_t>& sessions) {
  const auto& opt = plan.opt;
  const RepetitionNumbers numbers{opt.repetitions};
  const auto finished = db.finished_items(sessions);
  const auto times = ok_values(db, sessions, [](const store::RunPhaseRow& r) { return r.phase.duration_s; },
                               [&](const store::RunPhaseRow& r) { return !numbers.is_extra(r.run->repetition); });
  std::map<std::string, WorkItem> out;  // by key: a repetition slow in both phases once
  for (const WorkItem* item : variants(plan)) {
    if (!times.count(item->variant)) continue;
    for (const auto& [phase, reps] : times.at(item->variant)) {
      std::vector<double> t;
      std::vector<bool> planned;
      for (const auto& [rep, s] : reps) t.push_back(s), planned.push_back(rep <= opt.repetitions);
      if (std::count(planned.begin(), planned.end(), true) < kStallMinRepetitions) continue;
      const auto ratio = analysis::over_median(t, planned);
      for (std::size_t i = 0; i < reps.size(); ++i) {
        const int rep = reps[i].first;
        if (!(ratio[i] > opt.stall_factor) || numbers.retry_depth(rep) >= opt.stall_retries) continue;
        WorkItem again = numbered(*item, rep + opt.repetitions);
        if (finished.count(again.key) || out.count(again.key)) continue;
        char why[160];
        std::snprintf(why, sizeof why, "repetition %d %s %.3g s per epoch = %.2fx the planned repetitions' median; measured again as repetition %d",
                      rep, phase.c_str(), reps[i].second, ratio[i], again.repetition);
        again.retry_reason = item->variant + ": " + why;
        out[again.key] = again;
      }
    }
  }
  std::vector<WorkItem> list;
  for (auto& [k, v] : out) list.push_back(std::move(v));
  return list;
}

std::vector<WorkItem> extra_repetitions(const StudyPlan& plan, const store::Store& db,
                                        const std::vector<std::int64_t>& sessions, std::vector<std::string>& futile) {
  const auto& opt = plan.opt;
  if (opt.interval_target <= 0) return {};
  const RepetitionNumbers numbers{opt.repetitions};
  const auto finished = db.finished_items(sessions);
  // The energy the report reads by default: the GPU's where it was measured, else the whole estimate.
  const auto energy = ok_values(
      db, sessions, [](const store::RunPhaseRow& r) { return r.phase.gpu_energy_j > 0 ? r.phase.gpu_energy_j : r.phase.energy_j; },
      [&](const store::RunPhaseRow& r) { return r.run->retry_of == 0; });
  std::vector<WorkItem> out;
  for (const WorkItem* item : variants(plan)) {
    if (!energy.count(item->variant)) continue;
    int extras = 0;
    while (finished.count(item->variant + "#" + std::to_string(numbers.first_extra() + extras))) ++extras;
    std::set<MoreRepetitions> says;  // one answer a phase: another repetition where any phase can use it
    for (const auto& [phase, reps] : energy.at(item->variant)) {
      std::vector<double> e;
      for (const auto& [rep, j] : reps) e.push_back(j);
      says.insert(more_repetitions(e, opt.interval_target, opt.max_repetitions));
    }
    // Failed repetitions count towards the most too: a configuration that fails is not run forever.
    const bool room = opt.repetitions + extras < opt.max_repetitions;
    if (says.count(MoreRepetitions::yes) && room) {
      out.push_back(numbered(*item, numbers.first_extra() + extras));
    } else if (says.count(MoreRepetitions::futile) && room) {
      futile.push_back(item->variant);
    }
  }
  return out;
}

}  // namespace sedenergy::runner
