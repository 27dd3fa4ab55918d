// Which findings hold on every GPU and under every idle baseline: the analysis asked again of each GPU's runs
// and under each baseline, its headline quantities side by side with a verdict from their intervals. The
// report runs it around analyze(); it adds the by_gpu and by_baseline tables and their findings.
#pragma once
#include <vector>

#include "analysis/study_analysis.hpp"

namespace sedenergy::analysis {

void add_cross_checks(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options);

}  // namespace sedenergy::analysis
