// The report of a user's own runs: windows recorded by the Python package or `measure --db` (a results
// database's user_windows) and CodeCarbon-compatible emissions.csv files (sedenergy's or CodeCarbon's).
//   PREFIXreport.html   energy per window and domain with methods and flags, each window's power and
//                       utilization timeline, runs side by side (offline, interactive charts)
//   PREFIXsummary.md    the same tables in Markdown
//   PREFIXwindows.csv   one row per window; PREFIXreport.json everything
#pragma once
#include <string>
#include <vector>

#include "store/store.hpp"

namespace sedenergy::report {

struct UserReportFiles {
  std::string html, markdown, csv, json;
  int windows = 0;
  int charts = 0;
};

// The windows of an emissions CSV file (CodeCarbon's 38 columns, or at least timestamp, project_name,
// run_id, experiment_id, duration and the three *_energy columns): one per row, named after the file
// ("emissions_train.csv" -> "train") and the experiment_id. Throws InputError naming file and line for a value
// that is not a number, negative or implausible; a row whose energy_consumed disagrees with its three domains is
// read by the domains, flagged, and said in `warnings`.
std::vector<store::UserWindowRecord> read_emissions_csv(const std::string& path,
                                                        std::vector<std::string>* warnings = nullptr);

// Inputs: results databases, emissions CSV files, or folders of *.csv files. A window already read from an
// earlier input (store::user_window_identity: a copied file) is read once, and `notes` says so.
std::vector<store::UserWindowRecord> read_user_windows(const std::vector<std::string>& inputs,
                                                       std::vector<std::string>* notes = nullptr);

UserReportFiles write_user_report(const std::vector<store::UserWindowRecord>& windows,
                                  const std::vector<std::string>& sources, const std::string& out_dir,
                                  const std::string& prefix = "");

}  // namespace sedenergy::report
