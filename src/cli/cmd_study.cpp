#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "cli/feature_options.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "report/report.hpp"
#include "runner/study.hpp"
#include "store/store.hpp"

namespace sedenergy::cli {
namespace {

// A study configuration's keys, each applied unless the command line gave its option.
void apply_config(const nlohmann::json& cfg, const std::string& source, runner::StudyOptions& o, FeatureCli& feats,
                  const std::function<bool(const std::string&)>& given) {
  auto bad = [&](const std::string& key, const std::string& want, const nlohmann::json& v) {
    return InputError("--config " + source + ": key '" + key + "' must be " + want + ", not " + v.dump());
  };
  // Typed readers: each names the type it wanted when the value has another.
  auto integer = [&](const std::string& k, const nlohmann::json& v) {
    if (!v.is_number_integer()) throw bad(k, "an integer", v);
    return v.get<int>();
  };
  auto number = [&](const std::string& k, const nlohmann::json& v) {
    if (!v.is_number()) throw bad(k, "a number", v);
    return v.get<double>();
  };
  auto text = [&](const std::string& k, const nlohmann::json& v) {
    if (!v.is_string()) throw bad(k, "a string", v);
    return v.get<std::string>();
  };
  auto list = [&](const std::string& k, const nlohmann::json& v, bool integers) -> const nlohmann::json& {
    const std::string want = std::string("a non-empty list of ") + (integers ? "integers" : "numbers");
    if (!v.is_array() || v.empty()) throw bad(k, want, v);
    for (const auto& e : v) {
      if (integers ? !e.is_number_integer() : !e.is_number()) throw bad(k, want, v);
    }
    return v;
  };
  for (const auto& [k, v] : cfg.items()) {
    if (k == "name" || k == "description") continue;
    if (k == "grid") { if (!given("--grid")) o.grid = text(k, v); }
    else if (k == "clips") { if (!given("--clips")) o.clips = integer(k, v); }
    else if (k == "repetitions") { if (!given("--repetitions")) o.repetitions = integer(k, v); }
    else if (k == "epochs") { if (!given("--epochs")) o.epochs = list(k, v, true).get<std::vector<int>>(); }
    else if (k == "fractions") { if (!given("--fraction")) o.fractions = list(k, v, false).get<std::vector<double>>(); }
    else if (k == "min_window_s") { if (!given("--min-window")) o.min_window_s = number(k, v); }
    else if (k == "warmup_steps") { if (!given("--warmup-steps")) o.warmup_steps = integer(k, v); }
    else if (k == "idle_s") { if (!given("--idle")) o.idle_s = number(k, v); }
    else if (k == "cooldown") {
      if (!given("--cooldown")) {
        if (!v.is_number() && !v.is_string()) throw bad(k, "\"idle\" or a number of seconds", v);
        o.cooldown = v.is_number() ? format_number(v.get<double>()) : v.get<std::string>();
      }
    }
    else if (k == "cooldown_max_s") { if (!given("--cooldown-max")) o.cooldown_max_s = number(k, v); }
    else if (k == "loss") { if (!given("--loss")) o.loss = text(k, v); }
    else if (k == "optimizer") { if (!given("--optimizer")) o.optimizer = text(k, v); }
    else if (k == "batch") { if (!given("--batch")) o.batch = integer(k, v); }
    else if (k == "lr") { if (!given("--lr")) o.lr = number(k, v); }
    else if (k == "feature_mode") { if (!given("--feature-mode")) o.feature_mode = text(k, v); }
    else if (k == "holdout") { if (!given("--holdout")) o.holdout = number(k, v); }
    else if (k == "frames") { if (!given("--frames")) feats.frames = integer(k, v); }
    else if (k == "feature_preset") { if (!given("--preset")) feats.preset = text(k, v); }
    else {
      throw InputError("--config " + source + ": unknown key '" + k +
                       "' (known: grid, clips, repetitions, epochs, fractions, min_window_s, warmup_steps, idle_s, "
                       "cooldown, cooldown_max_s, loss, optimizer, batch, lr, feature_mode, holdout, frames, "
                       "feature_preset, name, description)");
    }
  }
}

// The study's report, from its database; a report that cannot be written leaves the runs where they are.
void write_study_report(const std::string& db_path, const std::string& out_dir) {
  const std::string dir = (std::filesystem::path(out_dir) / "report").string();
  report::ReportFiles files;
  try {
    files = report::write_report(store::Store(db_path), dir);
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
                      " (committed in presets/), or a JSON file with the same keys; options given here win");
  sub->add_option("--data", opt->data_dir, "DESED root (audio/train/weak + metadata/train/weak.tsv); default: generated");
  sub->add_option("--tsv", opt->data_tsv, "metadata TSV of --data when --data is an audio folder, not a DESED root");
  sub->add_option("--test-data", opt->test_data_dir, "a separate DESED root to test on (default: the training set)");
  sub->add_option("--test-tsv", opt->test_tsv, "metadata TSV of --test-data when it is an audio folder");
  sub->add_option("--holdout", opt->holdout, "test on this seeded fraction of the data instead (e.g. 0.2)");
  sub->add_option("--feature-mode", opt->feature_mode,
                  "cached (computed once, memory-mapped cache) or on-the-fly (per batch on the CPU, as the study)")
      ->check(CLI::IsMember({"cached", "on-the-fly"}))->capture_default_str();
  sub->add_option("--cache", opt->cache_dir, "feature cache folder (default OUT/cache)");
  sub->add_option("--out", opt->out_dir, "output folder (results.db, report/, data/)")->capture_default_str();
  sub->add_option("--grid", opt->grid, "auto, paper43, quick, variants, a grid .json, or specs like "
                                       "mlp:1x512,crnn:1x1:64x64")->capture_default_str();
  sub->add_option("--device", opt->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--devices", opt->devices, "several GPUs (e.g. 0,1,2,3): one worker process per GPU")->delimiter(',');
  sub->add_option("--clips", opt->clips, "size of the generated dataset (0: 1578 for paper43, else 256)");
  sub->add_option("--batch", opt->batch, "batch size")->capture_default_str();
  sub->add_option("--lr", opt->lr, "Adam learning rate")->capture_default_str();
  sub->add_option("--repetitions", opt->repetitions, "runs of every configuration, in random interleaved order")
      ->capture_default_str();
  sub->add_option("--epochs", opt->epochs, "epochs per measured unit; a list (1,2,4) sweeps them")->delimiter(',');
  sub->add_option("--fraction", opt->fractions, "fraction of the training set; a list (0.25,0.5,1) sweeps them")
      ->delimiter(',');
  sub->add_option("--loss", opt->loss, "bce-softmax (the study's BCE on softmax outputs) or bce-logits")
      ->check(CLI::IsMember({"bce-softmax", "bce-logits"}))->capture_default_str();
  sub->add_option("--optimizer", opt->optimizer,
                  "Adam implementation: auto (fused on CUDA, multi-tensor on CPU), fused, foreach, libtorch")
      ->check(CLI::IsMember({"auto", "fused", "foreach", "libtorch"}))->capture_default_str();
  sub->add_option("--min-window", opt->min_window_s, "repeat a phase until its window lasts this many seconds")
      ->capture_default_str();
  sub->add_option("--warmup-steps", opt->warmup_steps, "unmeasured training steps first")->capture_default_str();
  sub->add_option("--idle", opt->idle_s, "idle baseline seconds (default 5 with a GPU, 0 without)");
  sub->add_option("--cooldown", opt->cooldown,
                  "between runs: idle (until GPU power is back near the idle baseline), or a pause in seconds "
                  "(the study: 30); auto: idle with a GPU, none without")->capture_default_str();
  sub->add_option("--cooldown-max", opt->cooldown_max_s, "longest wait of --cooldown idle, seconds")->capture_default_str();
  sub->add_option("--sample-period", opt->period_s, "sampler period in seconds")->capture_default_str();
  sub->add_option("--cpu-tdp", opt->cpu_tdp_w, "CPU TDP in W for the CPU power estimate (0: from a table)");
  sub->add_option("--seed", opt->seed, "seed for data generation, training and the run order")
      ->check(whole_in(0, 4294967295LL))->capture_default_str();
  sub->add_option("--threads", opt->threads, "feature extraction threads (0: all cores)");
  sub->add_option("--shard", opt->shard, "K/N: run the K-th of N disjoint parts of the grid (merge them with "
                                         "`sedenergy merge`)");
  sub->add_flag("--resume", opt->resume,
                "continue the study with the same options in OUT/results.db: finished runs are skipped, the "
                "interrupted one is redone");
  // Set by --devices for its worker processes.
  sub->add_option("--worker-group", opt->worker_group)->group("");
  sub->add_option("--worker-name", opt->worker_name)->group("");
  sub->add_option("--worker-count", opt->worker_count)->group("");
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
    exit_code = s.interrupted ? 130 : (s.runs_failed > 0 && s.runs_ok == 0 ? 1 : 0);
  });
}

}  // namespace sedenergy::cli
