#include <cmath>
#include <filesystem>
#include <set>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "common/error.hpp"
#include "report/report.hpp"
#include "report/user_report.hpp"
#include "store/store.hpp"

namespace sedenergy::cli {

void setup_report(CLI::App& app, int& exit_code) {
  auto db = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>("report");
  auto* sub = app.add_subcommand("report",
                                 "Write the report of results databases (a study's, or your own runs recorded by the "
                                 "Python package or `measure --db`) and of CodeCarbon-compatible emissions.csv files.\n"
                                 "A study gives report.html (offline, interactive charts), summary.md, tables/*.csv, "
                                 "analysis.json, runs.csv; your own runs give energy per window and domain, timelines "
                                 "and runs side by side (user-report.html etc. when a study is in the same report).\n"
                                 "Examples: sedenergy report sedenergy-out/results.db -o report\n"
                                 "          sedenergy report h100/results.db t4/results.db -o compare   # hardware comparison\n"
                                 "          sedenergy report energy.db emissions/ -o mine   # Python records and a folder of CSVs");
  sub->add_option("inputs", *db, "results.db files, emissions CSV files, or folders of CSV files")->required();
  sub->add_option("-o,--out", *out, "output folder")->capture_default_str();
  auto energy = std::make_shared<std::string>("gross");
  std::vector<std::string> energy_values;
  for (const auto& c : analysis::baseline_choices()) energy_values.push_back(c.option);
  sub->add_option("--energy", *energy,
                  "gross: the GPU counter's whole delta (as CodeCarbon reports); net: minus the session's idle power "
                  "with the study's CUDA context x window length (what the model itself added); net-no-context: minus "
                  "the idle power measured before the process held a CUDA context (the GPU's own floor)")
      ->check(CLI::IsMember(energy_values))->capture_default_str();
  auto target_map = std::make_shared<double>(NAN);
  sub->add_option("--target-map", *target_map,
                  "learning runs: the validation mAP whose energy to reach is compared (default: 0.9 x the lowest of "
                  "the families' best)")
      ->check(finite_in(0, 1));
  sub->callback([=, &exit_code] {
    std::vector<std::string> studies, user_inputs;
    std::set<std::string> seen;  // the same file given twice (by any path) is read once: no run counted twice
    for (const auto& path : *db) {
      std::error_code ec;
      if (!seen.insert(std::filesystem::weakly_canonical(path, ec).string()).second) {
        std::cerr << "sedenergy report: " << path << " is given more than once: read once\n";
        continue;
      }
      const bool folder = std::filesystem::is_directory(path, ec);
      if (!folder && !std::filesystem::is_regular_file(path, ec)) {
        throw InputError("report: input '" + path + "' does not exist");
      }
      if (folder || std::filesystem::path(path).extension() == ".csv") {
        user_inputs.push_back(path);
        continue;
      }
      store::Store s(path, store::Store::Access::kRead);
      if (s.run_count() > 0) studies.push_back(path);
      if (!s.user_windows().empty()) user_inputs.push_back(path);
      if (s.run_count() == 0 && s.user_windows().empty()) studies.push_back(path);  // says "no runs" in the report
    }
    if (!studies.empty()) {
      analysis::AnalysisOptions options;
      for (const auto& c : analysis::baseline_choices()) {
        if (*energy == c.option) options.baseline = c.baseline;
      }
      options.target_map = *target_map;
      auto files = report::write_report(studies, *out, options);
      for (const auto& note : files.notes) std::cerr << "sedenergy report: " << note << "\n";
      std::cout << "rows:    " << files.rows << "\ncharts:  " << files.charts << "\ncsv:     " << files.csv
                << "\nsummary: " << files.markdown << "\nreport:  " << files.html << "\n";
    }
    if (!user_inputs.empty()) {
      std::vector<std::string> notes;
      auto windows = report::read_user_windows(user_inputs, &notes);
      for (const auto& note : notes) std::cerr << "sedenergy report: " << note << "\n";
      auto files = report::write_user_report(windows, user_inputs, *out,
                                             studies.empty() ? "" : "user-");
      std::cout << "windows: " << files.windows << "\ncharts:  " << files.charts << "\ncsv:     " << files.csv
                << "\nsummary: " << files.markdown << "\nreport:  " << files.html << "\n";
    }
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
