#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "report/report.hpp"

namespace sedenergy::cli {

void setup_report(CLI::App& app, int& exit_code) {
  auto db = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("report");
  auto* sub = app.add_subcommand("report",
                                 "Write the report (runs.csv, report.html) of a results database.\n"
                                 "Example: sedenergy report sedenergy-out/results.db -o report");
  sub->add_option("database", *db, "results.db written by `sedenergy study`")->required();
  sub->add_option("-o,--out", *out, "output folder")->capture_default_str();
  sub->callback([=, &exit_code] {
    if (!std::filesystem::is_regular_file(*db)) throw InputError("report: database '" + *db + "' does not exist");
    store::Store store(*db);
    auto files = report::write_report(store, *out);
    std::cout << "rows:   " << files.rows << "\ncsv:    " << files.csv << "\nreport: " << files.html << "\n";
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
