#include "runner/study_options.hpp"

#include <algorithm>
#include <climits>
#include <limits>
#include <type_traits>

#include "common/error.hpp"
#include "common/number_check.hpp"
#include "common/text.hpp"
#include "energy/meter.hpp"
#include "models/implementation.hpp"
#include "runner/repetitions.hpp"

namespace sedenergy::runner {

namespace {

using O = StudyOptions;

// Adds options to the table: `add` appends one and returns it for its fields; `path` adds a path, never in
// a config file.
struct TableBuilder {
  std::vector<StudyOption>& t;
  StudyOption& add(StudyOption o) { return t.emplace_back(std::move(o)); }
  void path(const char* flag, std::string O::*field, const char* help) { add({flag, field, help}).in_config = false; }
};

// Where the data comes from and where results go; the grid and the device.
void add_data_options(TableBuilder&& b) {
  auto add = [&](StudyOption o) -> StudyOption& { return b.add(std::move(o)); };
  auto path = [&](const char* flag, std::string O::*field, const char* help) { b.path(flag, field, help); };
  auto& t = b.t;
  path("--data", &O::data_dir, "DESED root (audio/train/weak + metadata/train/weak.tsv); default: generated");
  path("--tsv", &O::data_tsv, "metadata TSV of --data when --data is an audio folder, not a DESED root");
  path("--test-data", &O::test_data_dir, "a separate DESED root to test on (default: the training set)");
  path("--test-tsv", &O::test_tsv, "metadata TSV of --test-data when it is an audio folder");
  add({"--holdout", &O::holdout, "test on this seeded fraction of the data instead (e.g. 0.2)", 0, 0.9});
  add({"--feature-mode", &O::feature_mode,
       "cached (computed once, memory-mapped cache) or on-the-fly (per batch on the CPU, as the study)"})
      .choices = {"cached", "on-the-fly"};
  t.back().record_key = "feature_mode";
  path("--cache", &O::cache_dir, "feature cache folder (default OUT/cache)");
  path("--out", &O::out_dir, "output folder (results.db, report/, data/)");
  add({"--grid", &O::grid, "auto, paper43, quick, variants, a grid .json, or specs like mlp:1x512,crnn:1x1:64x64"});
  path("--device", &O::device, "auto, cpu, cuda or cuda:N");
  add({"--devices", &O::devices, "several GPUs (e.g. 0,1,2,3): one worker process per GPU", 0, 1023}).in_config = false;
  add({"--clips", &O::clips, "size of the generated dataset (0: 1578 for paper43, else 256)", 0, 10000000});
}

// How each configuration is trained.
void add_training_options(TableBuilder&& b) {
  auto add = [&](StudyOption o) -> StudyOption& { return b.add(std::move(o)); };
  auto& t = b.t;
  add({"--batch", &O::batch, "batch size", 1, 65536}).record_key = "batch";
  StudyOption& lr = add({"--lr", &O::lr, "Adam learning rate", 0, 10});
  lr.open_low = true;
  lr.record_key = "lr";
  add({"--repetitions", &O::repetitions, "runs of every configuration, in random interleaved order", 1, 1000})
      .record_key = "repetitions";
  add({"--epochs", &O::epochs, "epochs per measured unit; a list (1,2,4) sweeps them", 1, 10000}).record_key = "epochs";
  StudyOption& fraction = add({"--fraction", &O::fractions, "fraction of the training set; a list (0.25,0.5,1) sweeps them", 0, 1});
  fraction.open_low = true;
  fraction.record_key = fraction.old_key = "fractions";
  add({"--loss", &O::loss, "bce-softmax (the study's BCE on softmax outputs) or bce-logits (per-class sigmoid: BCE with logits; the "
                        "CRNNs' pooled sigmoid outputs keep BCE on them)"}).choices = {"bce-softmax", "bce-logits"};
  t.back().record_key = "loss";
  StudyOption& validation = add({"--validation", &O::validation,
                                 "hold out this seeded fraction of the training clips for validation (--early-stop reads it)", 0, 0.9});
  validation.record_key = "validation";
  validation.unrecorded = 0.0;  // sessions from before it had no validation split and recorded nothing
  StudyOption& early = add({"--early-stop", &O::early_stop,
                            "learning runs: train epoch by epoch, at most --epochs, until the validation mAP has not "
                            "improved for this many epochs; the test phase uses the best epoch's weights (0: off)",
                            0, 1000});
  early.record_key = "early_stop";
  early.unrecorded = 0;
  StudyOption& target = add({"--target-map", &O::target_map,
                             "learning runs: the validation mAP whose energy the report gives, fixed before the runs "
                             "(0: none; the report then chooses one after them and says so)",
                             0, 1});
  target.record_key = "target_map";
  target.unrecorded = 0.0;  // sessions from before it fixed none
  add({"--optimizer", &O::optimizer, "Adam implementation: auto (PyTorch's default for torch.optim.Adam(): multi-tensor, foreach), fused, foreach, libtorch"})
      .choices = {"auto", "fused", "foreach", "libtorch"};
  t.back().record_key = "optimizer";
  std::vector<std::string> presets;
  for (const auto& p : models::implementation_presets()) presets.push_back(p.name);
  StudyOption& impl = add({"--impl", &O::impl,
                           "how each configuration runs: presets (" + join(presets, ", ") +
                               ") or optimizer/graphs/precision/data like foreach/eager/fp32/host; a list makes it a "
                               "dimension"});
  impl.record_key = "impl";
  impl.unrecorded = std::string(models::kDefaultImplementation);  // sessions from before --impl ran the default and recorded nothing
  add({"--python", &O::python, "the Python interpreter (with PyTorch) that runs the Python loop: pytorch-default and the "
                               "other implementations spelled .../python"}).in_config = false;  // the machine's, not the study's
}

// How windows are measured, and what happens between runs.
void add_measurement_options(TableBuilder&& b) {
  auto add = [&](StudyOption o) -> StudyOption& { return b.add(std::move(o)); };
  auto& t = b.t;
  StudyOption& window = add({"--min-window", &O::min_window_s, "repeat a phase until its window lasts this many seconds", 0, 3600});
  window.record_key = window.old_key = "min_window_s";
  add({"--warmup-steps", &O::warmup_steps, "unmeasured training steps first", 0, 100000}).record_key = "warmup_steps";
  StudyOption& idle = add({"--idle", &O::idle_s, "idle baseline seconds (default 5 with a GPU, 0 without)", 0,
                               energy::kMaxIdleS});
  idle.automatic = -1;
  idle.record_key = idle.old_key = "idle_s";
  add({"--cooldown", &O::cooldown,
       "between runs: idle (until GPU power is back near the idle baseline), or a pause in seconds (the study: 30); "
       "auto: idle with a GPU, none without",
       0, 3600});
  t.back().choices = {"idle", "auto"};  // or a number of seconds in [lo, hi]
  t.back().record_key = "cooldown";
  StudyOption& cool_max = add({"--cooldown-max", &O::cooldown_max_s, "longest wait of --cooldown idle, seconds", 0, 3600});
  cool_max.open_low = true;
  cool_max.old_key = "cooldown_max_s";
  add({"--sample-period", &O::period_s, "sampler period in seconds", energy::kMinPeriodS, energy::kMaxPeriodS})
      .record_key = "period_s";
  add({"--stall-factor", &O::stall_factor,
       "a repetition slower per epoch than this x its configuration's median is a host stall, measured again", 1, 100})
      .open_low = true;
  add({"--stall-retries", &O::stall_retries,
       "re-runs of a host-stalled repetition, at most (0: none; none under " + std::to_string(kStallMinRepetitions) +
           " repetitions or when --min-window is under " + format_number(kStallWindowS) + " s)",
       0, kMaxStallRetries});
  StudyOption& interval = add({"--interval-target", &O::interval_target,
                               "more repetitions of a configuration until the interval of its median energy per epoch "
                               "(each phase, as the report computes it) lies within +/- this fraction of the median "
                               "(0: off; at most --max-repetitions, and only while more could still tighten it)",
                               0, 1});
  interval.record_key = "interval_target";
  interval.unrecorded = 0.0;  // sessions from before the rule had none
  StudyOption& most = add({"--max-repetitions", &O::max_repetitions,
                           "the most repetitions --interval-target gives a configuration", 1, 1000});
  most.record_key = "max_repetitions";
  most.unrecorded = 10;
  add({"--cpu-tdp", &O::cpu_tdp_w, "CPU TDP in W for the CPU power estimate (0: from a table)", 0,
       energy::kMaxCpuTdpW}).in_config = false;
  add({"--seed", &O::seed, "seed for data generation, training and the run order", 0, 4294967295.0}).record_key = "seed";
  add({"--threads", &O::threads, "feature extraction threads (0: all cores)", 0, 1024}).in_config = false;
  StudyOption& train = add({"--train-threads", &O::train_threads,
                            "LibTorch threads for training and testing, the process pinned to that many of its CPUs "
                            "(default 4 with a GPU, which the CPU only feeds; 0: LibTorch's default, unpinned)",
                            0, 1024});
  train.automatic = -1;
  train.record_key = "train_threads";
  train.unrecorded = 0;  // sessions from before it ran unpinned
}

// Parts of a sweep: shards, resuming, and the hidden options the parent hands its workers.
void add_sweep_options(TableBuilder&& b) {
  auto add = [&](StudyOption o) -> StudyOption& { return b.add(std::move(o)); };
  StudyOption& shard = add({"--shard", &O::shard, "K/N: run the K-th of N disjoint parts of the grid (merge them with `sedenergy merge`)"});
  shard.record_key = "shard";
  shard.in_config = false;
  add({"--resume", &O::resume,
       "continue the study with the same options, GPU model and code version in OUT/results.db: finished runs are skipped, the interrupted one is redone"})
      .in_config = false;
  for (auto [flag, field] : {std::pair{"--worker-group", &O::worker_group}, std::pair{"--worker-name", &O::worker_name}}) {
    StudyOption& w = add({flag, field, ""});
    w.in_config = false;
    w.hidden = true;
  }
  StudyOption& count = add({"--worker-count", &O::worker_count, "", 1, 1024});
  count.in_config = false;
  count.hidden = true;
}

// The table. Ranges bound every number, from a flag or a file: a typo must not run for ever.
std::vector<StudyOption> make_table() {
  std::vector<StudyOption> t;
  add_data_options({t});
  add_training_options({t});
  add_measurement_options({t});
  add_sweep_options({t});
  return t;
}

void check_number(const StudyOption& o, double v) {
  if (!(v == o.automatic)) check_in_range(o.flag, v, o.lo, o.hi, o.open_low);
}

template <typename T>
void check_value(const StudyOption& o, const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!o.choices.empty() && std::find(o.choices.begin(), o.choices.end(), v) == o.choices.end()) {
      double seconds = 0;
      if (o.hi > o.lo && parse_double(v, seconds)) return check_number(o, seconds);  // a number instead of a choice
      throw InputError(o.flag + " '" + v + "': expected " + join(o.choices, ", ") +
                       (o.hi > o.lo ? " or a number in " + range_text(o.lo, o.hi, o.open_low) : ""));
    }
  } else if constexpr (std::is_same_v<T, std::vector<int>> || std::is_same_v<T, std::vector<double>>) {
    if (v.empty() && o.flag != "--devices") throw InputError(o.flag + " needs at least one value");
    for (auto x : v) check_number(o, static_cast<double>(x));
  } else if constexpr (!std::is_same_v<T, bool>) {
    check_number(o, static_cast<double>(v));
  }
}

// A --config value as the option's type, or a message naming the key and what it must be.
template <typename T>
T read_value(const nlohmann::json& v, const std::string& key, const std::string& source) {
  auto bad = [&](const std::string& want) {
    return InputError("--config " + source + ": key '" + key + "' must be " + want + ", not " + v.dump());
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (v.is_number()) return format_number(v.get<double>());  // "cooldown": 30
    if (!v.is_string()) throw bad("a string");
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw bad("true or false");
    return v.get<bool>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) throw bad("a number");
    return v.get<double>();
  } else if constexpr (std::is_same_v<T, std::vector<int>> || std::is_same_v<T, std::vector<double>>) {
    constexpr bool integers = std::is_same_v<T, std::vector<int>>;
    const std::string want = std::string("a non-empty list of ") + (integers ? "integers" : "numbers");
    if (!v.is_array() || v.empty()) throw bad(want);
    T out;
    for (const auto& e : v) {
      if (integers ? !e.is_number_integer() : !e.is_number()) throw bad(want);
      if (integers && (e.get<long long>() < INT_MIN || e.get<long long>() > INT_MAX)) throw bad(want);
      out.push_back(e.get<typename T::value_type>());
    }
    return out;
  } else {  // int, std::uint64_t
    if (!v.is_number_integer()) throw bad("an integer");
    if (v.is_number_unsigned() ? v.get<std::uint64_t>() > std::numeric_limits<T>::max()
                               : v.get<long long>() < static_cast<long long>(std::numeric_limits<T>::min()) ||
                                     v.get<long long>() > static_cast<long long>(std::numeric_limits<T>::max())) {
      throw bad("an integer the option can hold");
    }
    return v.get<T>();
  }
}

}  // namespace

std::string StudyOption::key() const {
  std::string k = flag.substr(2);
  std::replace(k.begin(), k.end(), '-', '_');
  return k;
}

const std::vector<StudyOption>& study_options() {
  static const std::vector<StudyOption> table = make_table();
  return table;
}

void check_study_options(const StudyOptions& o) {
  for (const auto& opt : study_options()) {
    std::visit([&](auto member) { check_value(opt, o.*member); }, opt.field);
  }
}

nlohmann::json recorded_options(const StudyOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& opt : study_options()) {
    if (opt.record_key.empty()) continue;
    std::visit([&](auto member) {
      const nlohmann::json value = o.*member;
      if (!opt.unrecorded.is_null() && value == opt.unrecorded) return;
      j[opt.record_key] = value;
    }, opt.field);
  }
  return j;
}

void apply_study_config(const nlohmann::json& cfg, const std::string& source, StudyOptions& o,
                        const std::function<bool(const std::string& flag)>& given,
                        const std::function<bool(const std::string& key, const nlohmann::json& value)>& other,
                        const std::vector<std::string>& other_keys, std::ostream& notes) {
  for (const auto& [key, value] : cfg.items()) {
    if (key == "name" || key == "description") continue;
    const StudyOption* found = nullptr;
    for (const auto& opt : study_options()) {
      if (opt.in_config && (key == opt.key() || key == opt.old_key)) found = &opt;
    }
    if (found && key == found->old_key) {
      notes << "note: --config " << source << ": key '" << key << "' is now '" << found->key() << "' (still read)\n";
    }
    if (found) {
      // The file is judged whole, by the option's own check, even where the command line gives the option:
      // only the assignment waits on the flag.
      std::visit([&](auto member) {
        auto v = read_value<std::decay_t<decltype(o.*member)>>(value, key, source);
        try {
          check_value(*found, v);
        } catch (const InputError& e) {
          throw InputError("--config " + source + ": key '" + key + "': " + e.what());
        }
        if (!given(found->flag)) o.*member = std::move(v);
      }, found->field);
      continue;
    }
    if (other(key, value)) continue;
    std::vector<std::string> known;
    for (const auto& opt : study_options()) {
      if (opt.in_config) known.push_back(opt.key());
    }
    known.insert(known.end(), other_keys.begin(), other_keys.end());
    known.insert(known.end(), {"name", "description"});
    throw InputError("--config " + source + ": unknown key '" + key + "' (known: " + join(known, ", ") + ")");
  }
}

}  // namespace sedenergy::runner
