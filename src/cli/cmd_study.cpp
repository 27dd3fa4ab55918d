#include <algorithm>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <type_traits>
#include <variant>
#include <vector>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "cli/feature_options.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "report/report.hpp"
#include "runner/study.hpp"
#include "runner/study_options.hpp"
#include "store/store.hpp"

namespace sedenergy::cli {
namespace {

// The feature option a study configuration's key names (the flag without "--"), if it may set one.
const FeatureOption* feature_option(const std::string& key) {
  for (const auto& o : FeatureCli::options()) {
    if (o.in_config && o.flag == "--" + key) return &o;
  }
  return nullptr;
}

// A configuration's value for a feature option, judged by the option's own check as the flag would be, and
// set when `assign` (the command line did not give the option, which then wins).
void set_feature(const FeatureOption& o, const nlohmann::json& v, FeatureCli& feats, const std::string& where,
                 bool assign) {
  auto bad = [&](const std::string& want) { return InputError(where + " must be " + want + ", not " + v.dump()); };
  std::visit([&](auto field) {
    using T = std::remove_reference_t<decltype(feats.*field)>;
    if constexpr (std::is_same_v<T, int>) {
      if (!v.is_number_integer()) throw bad("an integer");
    } else if constexpr (std::is_same_v<T, double>) {
      if (!v.is_number()) throw bad("a number");
    } else if (!v.is_string()) {
      throw bad("a string");
    }
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    if (const std::string why = o.validator()(text); !why.empty()) throw InputError(where + ": " + why);
    if (assign) feats.*field = v.get<T>();
  }, o.field);
}

// A study configuration's keys, each applied unless the command line gave its option: the study's own
// (runner::study_options) and the feature options marked `in_config` (FeatureCli::options).
void apply_config(const nlohmann::json& cfg, const std::string& source, runner::StudyOptions& o, FeatureCli& feats,
                  const std::function<bool(const std::string&)>& given) {
  auto feature_key = [&](const std::string& key_in, const nlohmann::json& v) {
    const std::string key = key_in == "feature_preset" ? "preset" : key_in;
    if (key_in == "feature_preset") std::cerr << "note: --config " << source << ": key 'feature_preset' is now 'preset' (still read)\n";
    const FeatureOption* option = feature_option(key);
    if (!option) return false;
    set_feature(*option, v, feats, "--config " + source + ": key '" + key_in + "'", !given(option->flag));
    return true;
  };
  std::vector<std::string> keys;
  for (const auto& k : FeatureCli::options()) {
    if (k.in_config) keys.push_back(std::string(k.flag).substr(2));
  }
  runner::apply_study_config(cfg, source, o, given, feature_key, keys, std::cerr);
}

// Each option of the study's table as a command-line option of the same type, range and help.
void add_study_options(CLI::App* sub, runner::StudyOptions& opt) {
  for (const auto& o : runner::study_options()) {
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(opt.*member)>;
          CLI::Option* cli = nullptr;
          if constexpr (std::is_same_v<T, bool>) {
            cli = sub->add_flag(o.flag, opt.*member, o.help);
          } else {
            cli = sub->add_option(o.flag, opt.*member, o.help);
          }
          if constexpr (std::is_same_v<T, std::vector<int>> || std::is_same_v<T, std::vector<double>>) cli->delimiter(',');
          // An automatic value (--idle's -1) is the unset default only: a typed value must be in range.
          auto range = o.open_low ? finite_above(o.lo, o.hi) : finite_in(o.lo, o.hi);
          if constexpr (std::is_same_v<T, std::string>) {
            if (!o.choices.empty()) cli->check(o.hi > o.lo ? CLI::IsMember(o.choices) | range : CLI::IsMember(o.choices));
          } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::vector<int>>) {
            cli->check(whole_in(static_cast<long long>(o.lo), static_cast<long long>(o.hi)));
          } else if constexpr (!std::is_same_v<T, bool>) {
            cli->check(range);
          }
          if constexpr (!std::is_same_v<T, bool>) {
            if (std::isnan(o.automatic) && !(opt.*member == T{})) cli->capture_default_str();
          }
          if (o.hidden) cli->group("");
        },
        o.field);
  }
}

// The study's report, from its database; a report that cannot be written leaves the runs where they are.
void write_study_report(const std::string& db_path, const std::string& out_dir) {
  const std::string dir = (std::filesystem::path(out_dir) / "report").string();
  report::ReportFiles files;
  store::Store db(db_path);
  db.settle();  // one file, to copy or commit alone, unless another study still writes it
  try {
    files = report::write_report(db, dir);
  } catch (const InputError& e) {
    throw InputError(std::string(e.what()) + "\nThe runs are safe in " + db_path +
                     "; write the report again with: sedenergy report " + db_path + " -o " + dir);
  }
  std::cout << "csv:      " << files.csv << "\nreport:   " << files.html << "\n";
}

}  // namespace

void setup_study(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<runner::StudyOptions>();
  auto feats = std::make_shared<FeatureCli>();
  auto config = std::make_shared<std::string>();
  auto* sub = app.add_subcommand(
      "study",
      "Run the study: train and test each configuration in measurement windows, store results, write a report.\n"
      "Examples:\n"
      "  sedenergy study                                  # quick grid on CPU, generated data\n"
      "  sedenergy study --config paper43 --device cuda   # the study's 43 configurations, full protocol\n"
      "  sedenergy study --config paper43 --devices 0,1,2,3  # one worker per GPU, one database\n"
      "  sedenergy study --config scaling                 # energy vs dataset size and epochs\n"
      "  sedenergy study --data /data/DESED --grid mlp:1x512,cnn:2x128 --out runs/desed\n"
      "  sedenergy study --frames 0 --feature-mode on-the-fly   # full-length input, features per batch");
  sub->add_option("--config", *config,
                  "study configuration: " + join(runner::study_config_names(), ", ") +
                      " (committed in configs/), or a JSON file with the same keys; options given here win");
  add_study_options(sub, *opt);
  feats->add_to(sub, "paper");
  sub->callback([sub, opt, feats, config, &exit_code] {
    opt->command_line = command_line();
    if (!config->empty()) {
      apply_config(runner::load_study_config(*config), *config, *opt, *feats,
                   [sub](const std::string& name) { return sub->count(name) > 0; });
    }
    opt->features = feats->params();
    opt->extract = feats->extract_options();
    runner::StudySummary s;
    if (!opt->devices.empty() && opt->worker_group.empty()) {
      // Workers get the same arguments, without --devices and --device (each gets its own).
      std::vector<std::string> args;
      const auto& all = arguments();
      for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i] == "--devices" || all[i] == "--device") {
          ++i;
          continue;
        }
        if (starts_with(all[i], "--devices=") || starts_with(all[i], "--device=")) continue;
        args.push_back(all[i]);
      }
      s = runner::run_study_on_devices(*opt, args, std::cout);
    } else {
      s = runner::run_study(*opt, std::cout);
    }
    std::cout << "\n" << (s.interrupted ? "interrupted" : "finished") << ": " << s.runs_ok << " runs ok, " << s.runs_failed
              << " failed" << (s.runs_skipped ? ", " + std::to_string(s.runs_skipped) + " already done" : "")
              << (s.runs_taken_by_others ? ", " + std::to_string(s.runs_taken_by_others) + " run by another study at once" : "")
              << ", "
              << s.total_s << " s in all\n";
    if (s.gpu_measured) {
      std::cout << "energy inside the measurement windows: GPU " << s.gpu_energy_j << " J (NVML), all domains "
                << s.energy_j << " J\n";
    } else {
      std::cout << "energy inside the measurement windows: " << s.energy_j << " J (ESTIMATED: no GPU sensor)\n";
    }
    std::cout << "database: " << s.db_path << "\n";
    if (opt->worker_group.empty()) write_study_report(s.db_path, opt->out_dir);  // a worker's parent reports all
    exit_code = s.interrupted ? 128 + (s.stop_signal ? s.stop_signal : SIGINT) : (s.runs_failed > 0 && s.runs_ok == 0 ? 1 : 0);
  });
}

}  // namespace sedenergy::cli
