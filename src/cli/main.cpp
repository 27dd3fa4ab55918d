// sedenergy: measure, explain and predict the energy of training and testing SED networks.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "sedenergy/build_info.hpp"

std::string& sedenergy::cli::command_line() {
  static std::string line;
  return line;
}

std::vector<std::string>& sedenergy::cli::arguments() {
  static std::vector<std::string> args;
  return args;
}

int main(int argc, char** argv) {
  CLI::App app{
      "sedenergy: measure, explain and predict the energy used to train and test sound event detection networks.\n"
      "\nExamples:\n"
      "  sedenergy study                              # the study on a generated dataset (quick grid on CPU)\n"
      "  sedenergy study --grid paper43 --device cuda # the study's 43 configurations on a GPU\n"
      "  sedenergy synth --out data/synth --clips 100 # a DESED-format synthetic dataset\n"
      "  sedenergy flops mlp:1x512 crnn:1x1:64x64     # parameters and FLOPs of configurations\n"
      "  sedenergy sensors                            # which energy sensors this machine has\n"
      "  sedenergy measure -- python3 train.py        # energy of any program, CodeCarbon-compatible CSV\n"
      "  sedenergy report sedenergy-out/results.db -o report\n"
      "  sedenergy merge all.db a/results.db b/results.db # shards of a sweep into one database\n"
      "  sedenergy dcase --train t.csv --test e.csv --baseline-train bt.csv --baseline-test be.csv  # DCASE energy\n",
      "sedenergy"};
  app.set_version_flag("--version", std::string(sedenergy::build::kVersion) + " (" + sedenergy::build::kGitRevision + ")");
  app.require_subcommand(1);
  int exit_code = 0;
  for (int i = 0; i < argc; ++i) sedenergy::cli::command_line() += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) sedenergy::cli::arguments().push_back(argv[i]);
#ifdef SEDENERGY_WITH_TORCH
  sedenergy::cli::setup_study(app, exit_code);
#else
  // The torch-free build: `study` says why it is absent instead of "a subcommand is required".
  app.add_subcommand("study", "(not in this build: it needs LibTorch)")->allow_extras()->callback([] {
    throw sedenergy::InputError("study: this sedenergy was built without LibTorch (-DSEDENERGY_WITH_TORCH=OFF); "
                                "build with it (the default preset) to run the study");
  });
#endif
  sedenergy::cli::setup_synth(app, exit_code);
  sedenergy::cli::setup_features(app, exit_code);
  sedenergy::cli::setup_flops(app, exit_code);
  sedenergy::cli::setup_sensors(app, exit_code);
  sedenergy::cli::setup_measure(app, exit_code);
  sedenergy::cli::setup_report(app, exit_code);
  sedenergy::cli::setup_merge(app, exit_code);
  sedenergy::cli::setup_dcase(app, exit_code);
  sedenergy::cli::refuse_empty_values(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RequiredError& e) {
    // CLI11 checks required options before unknown ones: a mistyped flag ("--ouT") is the mistake to name.
    for (CLI::App* sub : app.get_subcommands()) {
      if (sub->remaining().empty()) continue;
      std::cerr << "sedenergy " << sub->get_name() << ": unknown option or argument: "
                << sedenergy::join(sub->remaining(), " ") << "\nRun with --help for more information.\n";
      return 2;
    }
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const CLI::ParseError& e) {
    // Usage errors print their message; every one exits with 2 (--help and --version with 0).
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const sedenergy::InputError& e) {
    std::cerr << "sedenergy: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sedenergy: error: " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}
