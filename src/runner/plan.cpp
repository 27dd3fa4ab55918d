#include "runner/plan.hpp"

#include <algorithm>
#include <filesystem>
#include <random>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "features/mel.hpp"
#include "models/grids.hpp"
#include "models/torch_models.hpp"
#include "runner/cuda_graph.hpp"
#include "runner/repetitions.hpp"
#include "runner/study_options.hpp"

namespace fs = std::filesystem;

namespace sedenergy::runner {

namespace {
void validate(const StudyOptions& opt) {
  check_study_options(opt);  // every number in its range, every choice among its values (study_options.cpp)
  if (opt.early_stop > 0 && opt.validation <= 0) {
    throw InputError("--early-stop " + std::to_string(opt.early_stop) + " needs a validation split (--validation, e.g. 0.15)");
  }
  if (opt.early_stop > 0 && opt.epochs.size() != 1) {
    throw InputError("--early-stop: --epochs is the most epochs of a learning run, one value (not a sweep)");
  }
}
}  // namespace

DeviceChoice parse_device(const std::string& text) {
  DeviceChoice d;
  if (text == "cpu") return d;
  if (text == "auto") {
    if (torch::cuda::is_available()) {
      d.cuda = true;
      d.device = torch::Device(torch::kCUDA, 0);
    }
    return d;
  }
  if (text == "cuda" || starts_with(text, "cuda:")) {
    long long idx = 0;
    if (text.size() > 5 && !parse_int(text.substr(5), idx)) {
      throw InputError("--device '" + text + "': expected cpu, cuda or cuda:N");
    }
    if (!torch::cuda::is_available()) {
      throw InputError("--device " + text + ": no CUDA device is available (this LibTorch " +
                       models::libtorch_version() + " has no CUDA support or no GPU is visible); use --device cpu");
    }
    const long long count = static_cast<long long>(torch::cuda::device_count());
    if (idx < 0 || idx >= count) {
      throw InputError("--device " + text + ": only " + std::to_string(count) + " CUDA device(s) visible");
    }
    d.cuda = true;
    d.index = static_cast<int>(idx);
    d.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(idx));
    return d;
  }
  throw InputError("--device '" + text + "': expected auto, cpu, cuda or cuda:N");
}

void ensure_writable_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError("--out '" + dir + "': cannot create folder (" + ec.message() + ")");
  try {  // a fresh file of mkstemp's (a planted symlink is never followed), removed again
    TempFile probe((fs::path(dir) / ".sedenergy-write-test").string());
    probe.write("ok");
  } catch (const InputError&) {
    throw InputError("--out '" + dir + "': folder is not writable");
  }
}

std::uint64_t training_seed(const WorkItem& item, const StudyOptions& opt) {
  if (opt.early_stop <= 0) return opt.seed;
  const int stands_for = RepetitionNumbers{opt.repetitions}.stands_for(item.repetition);
  return opt.seed + static_cast<std::uint64_t>(stands_for - 1);
}

std::vector<std::size_t> seeded_permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng() % i]);
  return p;
}

std::vector<WorkItem> work_items(const std::vector<models::ModelSpec>& specs, const StudyOptions& opt,
                                 const std::vector<models::Implementation>& impls) {
  std::vector<WorkItem> variants;
  for (const auto& s : specs) {
    for (double f : opt.fractions) {
      for (int e : opt.epochs) {
        for (const auto& impl : impls) variants.push_back({s, f, e, impl, 1, models::variant_name(s.name(), f, e, impl.name()), "", ""});
      }
    }
  }
  std::vector<WorkItem> items;
  for (int r = 1; r <= opt.repetitions; ++r) {
    for (std::size_t i : seeded_permutation(variants.size(), opt.seed * 1000003ULL + static_cast<std::uint64_t>(r))) {
      WorkItem w = variants[i];
      w.repetition = r;
      w.key = w.variant + "#" + std::to_string(r);
      items.push_back(w);
    }
  }
  return items;
}

namespace {
// --feature-mode as the plan reads it (its choices checked by validate).
FeatureMode feature_mode_of(const StudyOptions& opt) {
  return opt.feature_mode == "on-the-fly" ? FeatureMode::on_the_fly : FeatureMode::cached;
}
}  // namespace

std::vector<models::Implementation> study_implementations(const StudyOptions& opt, const DeviceChoice& dev) {
  const models::RunContext ctx{dev.cuda, cuda_graphs_available(), feature_mode_of(opt) == FeatureMode::cached};
  return models::runnable_implementations(opt.impl, opt.optimizer, ctx, "--impl");
}

data::ExtractOptions extraction_options(const StudyOptions& opt) {
  data::ExtractOptions eo = opt.extract;
  eo.threads = opt.threads;
  eo.seed = opt.seed;
  return eo;
}
Shard parse_shard(const std::string& shard) {
  auto parts = split(shard, '/');
  long long k = 0, n = 0;
  if (parts.size() != 2 || !parse_int(parts[0], k) || !parse_int(parts[1], n) || n < 1 || k < 1 || k > n) {
    std::string hint;
    if (std::getenv("SLURM_ARRAY_TASK_ID")) {
      hint = " (this is Slurm array task " + std::string(std::getenv("SLURM_ARRAY_TASK_ID")) +
             ": number the tasks 1..N, sbatch --array=1-N, as scripts/slurm/study-array.sh does)";
    }
    throw InputError("--shard '" + shard + "': expected K/N with 1 <= K <= N" + hint);
  }
  return {static_cast<int>(k), static_cast<int>(n)};
}

std::vector<models::ModelSpec> shard_of(const std::vector<models::ModelSpec>& specs, const Shard& shard) {
  std::vector<models::ModelSpec> mine;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(shard.n)) == shard.k - 1) mine.push_back(specs[i]);
  }
  if (mine.empty()) {
    throw InputError("--shard " + std::to_string(shard.k) + "/" + std::to_string(shard.n) +
                     ": no configuration falls in this shard");
  }
  return mine;
}
// The Python loop builds the study's plain specs (python/sedenergy/study_models.py).
void check_python_loop(const std::vector<models::Implementation>& impls, const std::vector<models::ModelSpec>& specs) {
  const auto python = std::find_if(impls.begin(), impls.end(), [](const auto& i) { return i.python; });
  if (python == impls.end()) return;
  const std::string which = "--impl " + python->name() + " (the Python loop)";
  for (const auto& s : specs) {
    const bool plain = !s.time_steps && !s.bidirectional && s.cell == models::Cell::kGru && !s.batch_norm &&
                       s.family != models::Family::kDcaseBaseline;
    if (!plain) throw InputError(which + " builds the study's plain mlp/cnn/rnn/crnn specs, not " + s.name());
  }
}

StudyPlan plan_study(const StudyOptions& opt_in) {
  StudyPlan p;
  p.opt = opt_in;
  auto& opt = p.opt;
  validate(opt);
  p.dev = parse_device(opt.device);
  p.impls = study_implementations(opt, p.dev);
  if (opt.grid == "auto") opt.grid = p.dev.cuda ? "paper43" : "quick";
  p.specs = models::resolve_grid(opt.grid);
  if (!opt.shard.empty()) p.specs = shard_of(p.specs, parse_shard(opt.shard));
  features::validate(opt.features);
  if (opt.holdout != 0 && !opt.test_data_dir.empty()) throw InputError("give --holdout or --test-data, not both");
  const auto& params = opt.features;
  const int frames = features::MelExtractor(params).output_frames(
      static_cast<std::size_t>(params.clip_seconds * params.sample_rate));
  p.shape = models::InputShape{opt.batch, params.n_mels, frames};
  for (const auto& s : p.specs) models::plan(s, p.shape);  // rejects invalid specs now
  check_python_loop(p.impls, p.specs);
  if (!opt.data_dir.empty()) p.paths = data::open_dataset(opt.data_dir, opt.data_tsv);
  if (!opt.test_data_dir.empty()) p.test_paths = data::open_dataset(opt.test_data_dir, opt.test_tsv, "--test-data");
  ensure_writable_dir(opt.out_dir);
  if (opt.cache_dir.empty()) opt.cache_dir = (fs::path(opt.out_dir) / "cache").string();
  if (opt.idle_s < 0) opt.idle_s = p.dev.cuda ? 5.0 : 0.0;
  if (opt.train_threads < 0) opt.train_threads = p.dev.cuda ? 4 : 0;
  // auto on a GPU was ATen's fused Adam before issue 33 and is foreach now: recorded as what it runs, so
  // --resume never continues an older GPU session (fused) with foreach runs. On a CPU it was always foreach.
  if (opt.optimizer == "auto" && p.dev.cuda) opt.optimizer = "foreach";
  p.loss = opt.loss == "bce-logits" ? Loss::bce_logits : Loss::bce_softmax;  // choices checked by validate
  p.feature_mode = feature_mode_of(opt);
  double pause_s = 0;
  if (opt.cooldown == "idle" || (opt.cooldown == "auto" && p.dev.cuda)) p.cooldown = CoolToIdle{};
  else if (opt.cooldown != "auto" && parse_double(opt.cooldown, pause_s)) p.cooldown = Pause{pause_s};
  p.items = work_items(p.specs, opt, p.impls);
  return p;
}

}  // namespace sedenergy::runner
