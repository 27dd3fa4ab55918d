// The runs a session's finished runs call for after its planned sweep: re-runs of host-stalled repetitions
// and extra repetitions of configurations whose interval is still too wide (runner/repetitions.hpp numbers
// both). Each is decided from the results file alone, so every process sharing the session (the workers of
// --devices, a resumed study) plans the same ones and the file's claims give each to one of them.
#pragma once
#include <cstdint>
#include <vector>

#include "runner/plan.hpp"
#include "store/store.hpp"

namespace sedenergy::runner {

// Every repetition slower per epoch (in either phase) than stall_factor x the median of its variant's planned
// ok repetitions, not yet re-run, and fewer than stall_retries re-runs deep; each with why.
// `sessions`: the sessions whose runs the study shares.
std::vector<WorkItem> stall_retries(const StudyPlan& plan, const store::Store& db, const std::vector<std::int64_t>& sessions);

// One more repetition of each variant whose median energy per epoch, in either phase, over its ok repetitions
// (planned and extra; re-runs stand in for nothing here) has an interval wider than the study's
// --interval-target allows, while it has fewer than --max-repetitions and more could tighten it
// (runner/repetitions.hpp). `futile` gets the variants that are wide but that no repetition left could tighten.
std::vector<WorkItem> extra_repetitions(const StudyPlan& plan, const store::Store& db,
                                        const std::vector<std::int64_t>& sessions, std::vector<std::string>& futile);

}  // namespace sedenergy::runner
