// Subcommands of the sedenergy CLI. Each setup_* adds its subcommand to the app; the callback it
// installs runs the command and stores the process exit code in `exit_code`.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace sedenergy::cli {

// The full command line, recorded with results.
std::string& command_line();
// The arguments after the program name, as given.
std::vector<std::string>& arguments();

void setup_synth(CLI::App& app, int& exit_code);
void setup_features(CLI::App& app, int& exit_code);
void setup_flops(CLI::App& app, int& exit_code);
void setup_sensors(CLI::App& app, int& exit_code);
void setup_measure(CLI::App& app, int& exit_code);
void setup_report(CLI::App& app, int& exit_code);
void setup_merge(CLI::App& app, int& exit_code);
void setup_dcase(CLI::App& app, int& exit_code);
void setup_study(CLI::App& app, int& exit_code);  // only in builds with LibTorch

}  // namespace sedenergy::cli
