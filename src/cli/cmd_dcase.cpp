#include <iostream>

#include "cli/commands.hpp"
#include "report/dcase.hpp"

namespace sedenergy::cli {

void setup_dcase(CLI::App& app, int& exit_code) {
  auto in = std::make_shared<report::DcaseInputs>();
  auto out = std::make_shared<std::string>("dcase-energy");
  auto* sub = app.add_subcommand(
      "dcase",
      "DCASE task 4 energy reporting: your training and devtest-inference emissions files against the baseline's\n"
      "reference runs on the same hardware -> kWh per phase and domain, normalised energy (baseline kWh /\n"
      "submission kWh) and, with --psds, the energy-weighted PSDS; with --complexity, the model's parameters and\n"
      "MACs. Writes dcase.md, .csv, .json, .html and dcase-submission.yaml (the figures a submission reports).\n"
      "Example:\n  sedenergy dcase --train energy/emissions_training.csv --test energy/emissions_test.csv \\\n"
      "    --baseline-train energy/emissions_baseline_training.csv --baseline-test energy/emissions_baseline_test.csv \\\n"
      "    --psds 0.49,0.72 -o dcase");
  sub->add_option("--train", in->train, "the submission's training emissions CSV")->required();
  sub->add_option("--test", in->test, "the submission's devtest inference emissions CSV")->required();
  sub->add_option("--baseline-train", in->baseline_train, "the baseline's training (10 epochs) emissions CSV")->required();
  sub->add_option("--baseline-test", in->baseline_test, "the baseline's devtest inference emissions CSV")->required();
  sub->add_option("--psds", in->psds, "the submission's PSDS scores (e.g. PSDS1,PSDS2), each in [0, 1]")->delimiter(',');
  sub->add_option("--complexity", in->complexity,
                  "the system's parameters and MACs on 10 s of audio, from: python -m sedenergy complexity "
                  "FILE.py:NAME --input 1x1x128x626 --json > complexity.json");
  sub->add_option("-o,--out", *out, "output folder")->capture_default_str();
  sub->callback([=, &exit_code] {
    const auto files = report::write_dcase_report(*in, *out);
    for (const auto& w : files.warnings) std::cerr << "sedenergy dcase: warning: " << w << "\n";
    std::cout << files.summary << "\nwrote " << files.markdown << ", " << files.csv << ", " << files.json << ", "
              << files.html << ", " << files.yaml << "\n";
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
