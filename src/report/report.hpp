// Report folder from one or more results databases (analysis/study_analysis.hpp):
//   report.html  one self-contained file (Vega-Lite bundled in, works offline): context, the findings in
//                words, interactive charts (hover for numbers, log axes, legends by family and phase),
//                every table
//   summary.md   findings and tables in Markdown, for papers
//   tables/*.csv every table; analysis.json everything (tables, points, findings)
//   runs.csv     every run and phase as stored
#pragma once
#include <string>
#include <vector>

#include "analysis/study_analysis.hpp"
#include "store/store.hpp"

namespace sedenergy::report {

struct ReportFiles {
  std::string csv, html, markdown, json;
  int rows = 0;
  int charts = 0;
  std::vector<std::string> notes;  // what the reader should know, e.g. runs of one input already read from another
};

ReportFiles write_report(const store::Store& db, const std::string& out_dir);
// Several databases: their rows side by side (run ids kept apart), one report. A run already read from an
// earlier input (store::run_identity: a copy of a database, a merged file beside its shards) is read once.
ReportFiles write_report(const std::vector<std::string>& db_paths, const std::string& out_dir,
                         const analysis::AnalysisOptions& options = {});

}  // namespace sedenergy::report
