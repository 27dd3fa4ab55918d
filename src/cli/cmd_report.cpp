#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "report/report.hpp"

namespace sedenergy::cli {

void setup_report(CLI::App& app, int& exit_code) {
  auto db = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>("report");
  auto* sub = app.add_subcommand("report",
                                 "Write the report of one or more results databases: report.html (offline, interactive "
                                 "charts), summary.md, tables/*.csv, analysis.json, runs.csv.\n"
                                 "Examples: sedenergy report sedenergy-out/results.db -o report\n"
                                 "          sedenergy report h100/results.db t4/results.db -o compare   # hardware comparison");
  sub->add_option("databases", *db, "results.db files written by `sedenergy study` (several: one report)")->required();
  sub->add_option("-o,--out", *out, "output folder")->capture_default_str();
  auto energy = std::make_shared<std::string>("gross");
  sub->add_option("--energy", *energy,
                  "gross: the GPU counter's whole delta (as CodeCarbon reports); net: minus the idle baseline x window "
                  "length (what the model itself added)")
      ->check(CLI::IsMember({"gross", "net"}))->capture_default_str();
  sub->callback([=, &exit_code] {
    for (const auto& path : *db) {
      if (!std::filesystem::is_regular_file(path)) throw InputError("report: database '" + path + "' does not exist");
    }
    analysis::AnalysisOptions options;
    options.net_energy = *energy == "net";
    auto files = report::write_report(*db, *out, options);
    std::cout << "rows:    " << files.rows << "\ncharts:  " << files.charts << "\ncsv:     " << files.csv
              << "\nsummary: " << files.markdown << "\nreport:  " << files.html << "\n";
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
