#include "runner/study.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <set>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "audio/synth.hpp"
#include "common/error.hpp"
#include "common/host.hpp"
#include "common/text.hpp"
#include "compute/accounting.hpp"
#include "data/dataset.hpp"
#include "data/feature_cache.hpp"
#include "energy/meter.hpp"
#include "models/grids.hpp"
#include "models/torch_models.hpp"
#include "report/report.hpp"
#include "sedenergy/build_info.hpp"
#include "store/store.hpp"

namespace fs = std::filesystem;

namespace sedenergy::runner {
namespace {

// Ctrl-C (SIGINT) or SIGTERM: finish the configuration in progress, commit it, write the report, stop.
// A second signal ends the process at once (the handler is reset to the default).
std::atomic<bool> g_stop{false};
void request_stop(int sig) {
  g_stop = true;
  std::signal(sig, SIG_DFL);
}

struct DeviceChoice {
  torch::Device device = torch::kCPU;
  bool cuda = false;
  int index = 0;
};

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
  fs::path probe = fs::path(dir) / ".sedenergy-write-test";
  {
    std::ofstream f(probe);
    if (!f || !(f << "ok") || !f.flush()) throw InputError("--out '" + dir + "': folder is not writable");
  }
  fs::remove(probe, ec);
}

std::string clock_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int t = static_cast<int>(std::lround(s));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

// One phase measured as a window, repeating whole epochs until the window is long enough.
struct PhaseOutcome {
  energy::WindowResult window;
  int epochs = 0;
  double loss = -1;
};

// Batches of (features, targets) on the CPU, from cached features or computed per batch as the study did
// (its data loader computed each item's mel spectrogram on the CPU, with no worker processes).
class BatchSource {
 public:
  // Cached: every clip's features in memory (or mapped from the cache).
  BatchSource(const data::FeatureSet& fs, bool pin) : size_(fs.n_clips), mels_(fs.n_mels), frames_(fs.frames) {
    x_ = torch::from_blob(const_cast<float*>(fs.data()), {fs.n_clips, 1, fs.n_mels, fs.frames}, torch::kFloat32).clone();
    y_ = targets(fs.targets, fs.n_clips);
    if (pin) x_ = x_.pin_memory();
  }
  // On the fly: features computed from the audio files for each batch.
  BatchSource(const data::DatasetPaths& paths, const std::vector<data::Clip>& clips, const features::FeatureParams& p,
              const data::ExtractOptions& opt)
      : size_(static_cast<int64_t>(clips.size())), opt_(opt), params_(p),
        mel_(std::make_shared<features::MelExtractor>(p)) {
    mels_ = p.n_mels;
    frames_ = mel_->output_frames(static_cast<std::size_t>(p.clip_seconds * p.sample_rate));
    std::vector<float> t;
    for (const auto& c : clips) {
      files_.push_back((fs::path(paths.audio_dir) / c.filename).string());
      auto mh = data::multi_hot(c.labels);
      t.insert(t.end(), mh.begin(), mh.end());
    }
    y_ = targets(t, size_);
  }

  int64_t size() const { return size_; }

  std::pair<torch::Tensor, torch::Tensor> batch(const torch::Tensor& idx) const {
    auto y = y_.index_select(0, idx);
    if (!mel_) return {x_.index_select(0, idx), y};
    const int64_t b = idx.size(0);
    auto x = torch::empty({b, 1, mels_, frames_}, torch::kFloat32);
    float* dst = x.data_ptr<float>();
    const auto* ids = idx.data_ptr<int64_t>();
    const std::size_t per = static_cast<std::size_t>(mels_) * frames_;
    for (int64_t i = 0; i < b; ++i) {
      auto f = mel_->compute(data::load_clip_audio(files_[ids[i]], params_, opt_, static_cast<std::size_t>(ids[i])));
      std::copy(f.begin(), f.end(), dst + i * per);
    }
    return {x, y};
  }

 private:
  static torch::Tensor targets(const std::vector<float>& t, int64_t n) {
    return torch::from_blob(const_cast<float*>(t.data()), {n, data::kNumClasses}, torch::kFloat32).clone();
  }
  int64_t size_;
  int mels_ = 0, frames_ = 0;
  torch::Tensor x_, y_;
  data::ExtractOptions opt_;
  features::FeatureParams params_;
  std::shared_ptr<features::MelExtractor> mel_;
  std::vector<std::string> files_;
};

class Trainer {
 public:
  Trainer(const BatchSource& train, const BatchSource& test, const DeviceChoice& dev, const StudyOptions& opt)
      : train_(train), test_(test), dev_(dev), opt_(opt) {}

  int steps_per_epoch() const { return static_cast<int>((train_.size() + opt_.batch - 1) / opt_.batch); }

  // Trains `steps` steps (all of an epoch when steps < 0); returns the mean loss as a device tensor.
  torch::Tensor train_epoch(models::SedNet& model, torch::optim::Optimizer& optim, int steps = -1) {
    model->train();
    const int64_t n = train_.size();
    auto perm = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong));
    torch::Tensor total = torch::zeros({}, torch::TensorOptions().device(dev_.device));
    int done = 0;
    for (int64_t i = 0; i < n && (steps < 0 || done < steps); i += opt_.batch, ++done) {
      auto [xc, yc] = train_.batch(perm.slice(0, i, std::min<int64_t>(i + opt_.batch, n)));
      auto xb = xc.to(dev_.device, /*non_blocking=*/true);
      auto yb = yc.to(dev_.device, /*non_blocking=*/true);
      optim.zero_grad();
      auto out = model->forward(xb);
      auto loss = models::bce_on_probabilities(out, yb);  // BCE on softmax outputs, as the study
      loss.backward();
      optim.step();
      total += loss.detach();
    }
    return total / std::max(1, done);
  }

  void test_epoch(models::SedNet& model) {
    model->eval();
    torch::NoGradGuard no_grad;
    const int64_t n = test_.size();
    for (int64_t i = 0; i < n; i += opt_.batch) {
      auto idx = torch::arange(i, std::min<int64_t>(i + opt_.batch, n), torch::TensorOptions().dtype(torch::kLong));
      auto xb = test_.batch(idx).first.to(dev_.device, true);
      auto out = model->forward(xb);
      (void)out;
    }
  }

 private:
  const BatchSource& train_;
  const BatchSource& test_;
  DeviceChoice dev_;
  const StudyOptions& opt_;
};

// Free memory where the model will live: NVML's free bytes on the GPU, MemAvailable on the host; 0 if unknown.
double available_memory_gb(const DeviceChoice& dev, const energy::Meter& meter) {
  if (dev.cuda) {
    if (!meter.has_gpu()) return 0;
    double free = meter.gpu_sample(0).mem_free_gb;
    return std::isfinite(free) ? free : 0;
  }
  return read_memory_info().available_kib * 1024.0 / 1e9;
}

store::PhaseRecord to_phase(const std::string& name, const PhaseOutcome& o) {
  store::PhaseRecord p;
  const auto& w = o.window;
  const double e = std::max(1, o.epochs);
  p.phase = name;
  p.epochs = o.epochs;
  p.window_s = w.duration_s;
  p.duration_s = w.duration_s / e;
  p.energy_j = w.total_energy_j() / e;
  p.gpu_energy_j = w.energy_j("gpu") / e;
  p.cpu_energy_j = w.energy_j("cpu") / e;
  p.ram_energy_j = w.energy_j("ram") / e;
  p.loss = o.loss;
  double unc = 0, net = 0;
  bool has_net = false;
  for (const auto& d : w.domains) {
    if (d.estimated) p.estimated = true;
    std::string& method = d.domain == "gpu" ? p.gpu_method : d.domain == "cpu" ? p.cpu_method : p.ram_method;
    if (method.empty()) method = d.method;
    if (d.domain == "gpu") {
      p.gpu_power_w += d.mean_power_w;
      if (d.uncertainty_j >= 0) unc += d.uncertainty_j;
      if (d.net_energy_j >= 0) {
        net += d.net_energy_j;
        has_net = true;
      }
    }
  }
  if (!p.gpu_method.empty()) p.uncertainty_j = unc / e;
  if (has_net) p.net_gpu_energy_j = net / e;
  p.gpu_util_pct = w.gpu_util_pct;
  p.mem_util_pct = w.mem_util_pct;
  p.cpu_load = w.cpu_load;
  p.flags = join(w.flags, "; ");
  p.window_json = w.to_json().dump();
  return p;
}

}  // namespace

StudySummary run_study(const StudyOptions& opt_in, std::ostream& log) {
  StudyOptions opt = opt_in;
  const double t_start = monotonic_s();
  // ---- validate everything before any long work ----
  if (opt.batch <= 0) throw InputError("--batch must be positive");
  if (!(opt.lr > 0)) throw InputError("--lr must be positive");
  if (opt.epochs <= 0) throw InputError("--epochs must be positive");
  if (opt.min_window_s < 0) throw InputError("--min-window must be >= 0");
  if (!(opt.period_s >= 0.01)) throw InputError("--sample-period must be >= 0.01 s");
  const DeviceChoice dev = parse_device(opt.device);
  if (opt.grid == "auto") opt.grid = dev.cuda ? "paper43" : "quick";
  auto specs = models::resolve_grid(opt.grid);
  if (!opt.shard.empty()) {
    // A deterministic split of the grid, so N machines (a Slurm job array, say) run disjoint parts.
    auto parts = split(opt.shard, '/');
    long long k = 0, n = 0;
    if (parts.size() != 2 || !parse_int(parts[0], k) || !parse_int(parts[1], n) || n < 1 || k < 1 || k > n) {
      throw InputError("--shard '" + opt.shard + "': expected K/N with 1 <= K <= N");
    }
    std::vector<models::ModelSpec> mine;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (static_cast<long long>(i % n) == k - 1) mine.push_back(specs[i]);
    }
    if (mine.empty()) throw InputError("--shard " + opt.shard + ": no configuration falls in this shard");
    specs = mine;
  }
  const auto params = opt.features;
  features::validate(params);
  if (opt.feature_mode != "cached" && opt.feature_mode != "on-the-fly") {
    throw InputError("--feature-mode '" + opt.feature_mode + "': expected cached or on-the-fly");
  }
  if (opt.holdout != 0 && !opt.test_data_dir.empty()) throw InputError("give --holdout or --test-data, not both");
  const int frames = features::MelExtractor(params).output_frames(
      static_cast<std::size_t>(params.clip_seconds * params.sample_rate));
  const models::InputShape shape{opt.batch, params.n_mels, frames};
  for (const auto& s : specs) models::plan(s, shape);  // rejects invalid specs now
  data::DatasetPaths paths, test_paths;
  if (!opt.data_dir.empty()) paths = data::open_dataset(opt.data_dir, opt.data_tsv);
  if (!opt.test_data_dir.empty()) test_paths = data::open_dataset(opt.test_data_dir, opt.test_tsv);
  ensure_writable_dir(opt.out_dir);
  if (opt.cache_dir.empty()) opt.cache_dir = (fs::path(opt.out_dir) / "cache").string();
  if (opt.idle_s < 0) opt.idle_s = dev.cuda ? 5.0 : 0.0;
  if (opt.cooldown_s < 0) opt.cooldown_s = dev.cuda ? 2.0 : 0.0;

  // ---- dataset ----
  if (opt.data_dir.empty()) {
    audio::SynthOptions so;
    so.clips = opt.clips > 0 ? opt.clips : (opt.grid == "paper43" ? 1578 : 256);
    so.seed = opt.seed;
    std::string root = (fs::path(opt.out_dir) / "data" / ("synth-" + std::to_string(so.clips) + "-seed" +
                                                           std::to_string(so.seed))).string();
    if (audio::synthetic_dataset_matches(root, so)) {
      log << "dataset: reusing synthetic DESED-format set " << root << "\n";
      paths = data::locate_train_set(root);
    } else {
      log << "dataset: generating " << so.clips << " synthetic 10 s clips at 44.1 kHz into " << root << "\n";
      paths = audio::synthesize_dataset(root, so).paths;
    }
  }
  std::vector<std::string> problems;
  auto clips = data::load_clips(paths, opt.extract.on_error, &problems);
  std::vector<data::Clip> test_clips;
  std::string test_desc = "the training set (as the study)";
  if (!opt.test_data_dir.empty()) {
    test_clips = data::load_clips(test_paths, opt.extract.on_error, &problems);
    test_desc = test_paths.root + " (" + std::to_string(test_clips.size()) + " clips)";
  } else if (opt.holdout > 0) {
    std::tie(clips, test_clips) = data::split_holdout(clips, opt.holdout, opt.seed);
    test_paths = paths;
    test_desc = "held-out " + std::to_string(test_clips.size()) + " clips (fraction " + std::to_string(opt.holdout) + ")";
  }

  // ---- features ----
  log << "features: " << features::describe(params) << " (" << opt.feature_mode << ")\n";
  data::ExtractOptions eo = opt.extract;
  eo.threads = opt.threads;
  eo.seed = opt.seed;
  std::unique_ptr<BatchSource> train_src, test_src;
  std::vector<data::FeatureSet> keep;  // cached features stay alive (mapped) while the sources use them
  auto make_source = [&](const data::DatasetPaths& p, std::vector<data::Clip>& cl) {
    if (opt.feature_mode == "on-the-fly") return std::make_unique<BatchSource>(p, cl, params, eo);
    std::string note;
    keep.push_back(data::cached_features(opt.cache_dir, p, cl, params, eo, note));
    const auto& f = keep.back();
    log << note << "\n" << "features: " << f.n_clips << " clips -> " << f.n_mels << "x" << f.frames << " in "
        << std::fixed << std::setprecision(2) << f.extract_seconds << " s\n";
    log.unsetf(std::ios::fixed);
    problems.insert(problems.end(), f.skipped.begin(), f.skipped.end());
    return std::make_unique<BatchSource>(f, dev.cuda);
  };
  train_src = make_source(paths, clips);
  test_src = test_clips.empty() ? nullptr : make_source(test_paths, test_clips);
  const BatchSource& test_source = test_src ? *test_src : *train_src;
  if (!problems.empty()) {
    const auto list = (fs::path(opt.out_dir) / "skipped.txt").string();
    std::ofstream rep(list);
    for (const auto& pr : problems) rep << pr << "\n";
    log << "skipped " << problems.size() << " bad clips (--on-error skip); list in " << list << "\n";
  }
  keep.clear();  // the sources hold their own copies now

  // ---- meter, store, session ----
  energy::MeterOptions mo;
  mo.use_gpus = dev.cuda;
  mo.period_s = opt.period_s;
  mo.cpu_tdp_w = opt.cpu_tdp_w;
  if (dev.cuda) {
    // The GPU named by CUDA_VISIBLE_DEVICES (an index or a UUID) for this CUDA device; otherwise the
    // same index, which CUDA and NVML share when CUDA_DEVICE_ORDER=PCI_BUS_ID or one GPU is visible.
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    mo.gpu_indices = {static_cast<unsigned>(dev.index)};
    if (visible && *visible) {
      auto parts = split(visible, ',');
      long long v = 0;
      if (dev.index < static_cast<int>(parts.size())) {
        const std::string entry = trim(parts[dev.index]);
        if (starts_with(entry, "GPU-")) {
          mo.gpu_indices.clear();
          mo.gpu_uuids = {entry};
        } else if (parse_int(entry, v) && v >= 0) {
          mo.gpu_indices = {static_cast<unsigned>(v)};
        }
      }
    }
    const int idx = dev.index;
    mo.sync = [idx] { torch::cuda::synchronize(idx); };
  }
  energy::Meter meter(mo);
  if (dev.cuda && !meter.has_gpu()) {
    log << "warning: CUDA device in use but no NVML GPU sensor: GPU energy is not measured\n";
  }
  for (const auto& s : meter.sensors()) {
    log << "sensor: " << s.name << (s.available ? (s.estimated ? " [estimate] " : " [measured] ") : " [unavailable] ")
        << s.detail << "\n";
  }
  meter.start();

  const std::string db_path = (fs::path(opt.out_dir) / "results.db").string();
  store::Store db(db_path);
  HostInfo host = read_host_info();
  store::SessionRecord sess;
  sess.started_at = utc_now_iso();
  sess.command = opt.command_line;
  sess.hostname = host.hostname;
  sess.os = host.os + (host.distro.empty() ? "" : " (" + host.distro + ")");
  sess.cpu_model = host.cpu_model;
  sess.cpu_count = host.cpu_count;
  sess.ram_gb = host.ram_total_gb;
  if (meter.has_gpu()) sess.gpu_name = meter.gpus().front().name;
  sess.gpu_driver = meter.gpu_driver();
  sess.libtorch_version = models::libtorch_version();
  sess.sedenergy_version = build::kVersion;
  sess.git_revision = build::kGitRevision;
  sess.device = dev.cuda ? "cuda:" + std::to_string(dev.index) : "cpu";
  sess.grid = opt.grid;
  sess.dataset = paths.root + " (" + std::to_string(train_src->size()) + " clips); test: " + test_desc;
  sess.features = features::describe(params);
  sess.config_json = nlohmann::json{{"batch", opt.batch},
                                    {"lr", opt.lr},
                                    {"epochs", opt.epochs},
                                    {"min_window_s", opt.min_window_s},
                                    {"warmup_steps", opt.warmup_steps},
                                    {"idle_s", opt.idle_s},
                                    {"cooldown_s", opt.cooldown_s},
                                    {"period_s", opt.period_s},
                                    {"seed", opt.seed},
                                    {"shard", opt.shard},
                                    {"loss", "bce-on-softmax"},
                                    {"optimizer", "adam"},
                                    {"feature_mode", opt.feature_mode},
                                    {"extraction", data::describe(eo)},
                                    {"skipped", problems},
                                    {"specs", [&] {
                                       std::vector<std::string> v;
                                       for (const auto& s : specs) v.push_back(s.name());
                                       return v;
                                     }()}}
                         .dump();
  if (opt.idle_s > 0) {
    log << "idle baseline: " << opt.idle_s << " s ...\n";
    auto idle = meter.measure_idle(opt.idle_s);
    sess.idle_json = idle.to_json().dump();
    for (const auto& d : idle.domains) {
      log << "idle: " << d.domain << " " << d.device << " " << std::setprecision(4) << d.mean_power_w << " W ("
          << (d.estimated ? "estimated" : d.method) << ")\n";
    }
  }
  std::int64_t session_id = 0;
  std::set<std::string> finished;
  if (opt.resume) {
    if (auto previous = db.find_session(sess)) {
      session_id = *previous;
      for (const auto& c : db.finished_configs(session_id)) finished.insert(c);
      log << "resume: session " << session_id << " has " << finished.size() << " of " << specs.size()
          << " configurations finished\n";
    } else {
      log << "resume: no earlier session with these options in " << db_path << "; starting a new one\n";
    }
  }
  if (session_id == 0) session_id = db.begin_session(sess);
  g_stop = false;
  auto old_int = std::signal(SIGINT, request_stop);
  auto old_term = std::signal(SIGTERM, request_stop);

  // ---- the runs ----
  Trainer trainer(*train_src, test_source, dev, opt);
  StudySummary sum;
  sum.db_path = db_path;
  const double t_runs = monotonic_s();
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const auto& spec = specs[k];
    if (finished.count(spec.name())) {
      ++sum.runs_skipped;
      continue;
    }
    if (g_stop) {
      sum.interrupted = true;
      log << "interrupted: " << specs.size() - k << " configurations left; continue with --resume\n";
      break;
    }
    const double elapsed = monotonic_s() - t_runs;
    const std::size_t done_here = k - static_cast<std::size_t>(sum.runs_skipped);
    const double eta = done_here ? elapsed / done_here * (specs.size() - k) : NAN;
    std::ostringstream line;
    line << "[" << k + 1 << "/" << specs.size() << "] " << spec.name() << "  done " << k << "/" << specs.size()
         << "  elapsed " << clock_text(elapsed) << "  left ~" << clock_text(eta);
    log << line.str() << "\n" << std::flush;

    store::RunRecord rec;
    rec.session_id = session_id;
    rec.config = spec.name();
    rec.family = models::family_name(spec.family);
    rec.spec_json = nlohmann::json{{"spec", spec.name()}, {"batch", opt.batch}, {"mels", shape.mels},
                                   {"frames", shape.frames}}
                        .dump();
    rec.batch = opt.batch;
    rec.clips = static_cast<int>(train_src->size());
    rec.steps_per_epoch = trainer.steps_per_epoch();
    rec.started_at = utc_now_iso();
    auto counts = compute::count(spec, shape);
    // Per-epoch FLOPs: full batches plus the last partial one, for each phase's own set.
    rec.train_flops_per_step = counts.train_step_flops();
    rec.test_flops_per_step = counts.test_step_flops();
    auto epoch_flops = [&](int64_t n, bool train) {
      double total = static_cast<double>(n / opt.batch) * (train ? counts.train_step_flops() : counts.test_step_flops());
      if (n % opt.batch) {
        auto last = shape;
        last.batch = static_cast<int>(n % opt.batch);
        auto c = compute::count(spec, last);
        total += train ? c.train_step_flops() : c.test_step_flops();
      }
      return total;
    };
    rec.train_flops_per_epoch = epoch_flops(train_src->size(), true);
    rec.test_flops_per_epoch = epoch_flops(test_source.size(), false);
    try {
      // Refuse what cannot fit before allocating anything (an out-of-memory crash loses the device).
      const auto need = compute::training_memory(counts);
      const double free_gb = available_memory_gb(dev, meter);
      if (free_gb > 0 && need.total() / 1e9 > 0.9 * free_gb) {
        char msg[256];
        std::snprintf(msg, sizeof msg,
                      "does not fit: needs ~%.1f GB (weights+gradients+Adam %.1f GB, activations %.1f GB), "
                      "%s has %.1f GB free",
                      need.total() / 1e9, (need.weights + need.gradients + need.optimizer) / 1e9,
                      need.activations / 1e9, dev.cuda ? "the GPU" : "the host", free_gb);
        throw Error(msg);
      }
      torch::manual_seed(opt.seed);
      models::SedNet model(spec, shape);
      model->to(dev.device);
      rec.params = model->parameter_count();
      if (rec.params != counts.params) {
        throw Error("internal: module has " + std::to_string(rec.params) + " parameters, accounting says " +
                    std::to_string(counts.params));
      }
      torch::optim::Adam optim(model->parameters(), torch::optim::AdamOptions(opt.lr));
      if (opt.warmup_steps > 0) trainer.train_epoch(model, optim, opt.warmup_steps);
      // Every measured epoch starts from the same weights: each repetition is the study's workload (one
      // epoch from one starting point), and a long window cannot drift into divergence. Restoring is one
      // device copy of the weights per epoch, inside the window (negligible next to an epoch).
      std::vector<torch::Tensor> start;
      {
        torch::NoGradGuard no_grad;
        for (const auto& p : model->parameters()) start.push_back(p.detach().clone());
      }
      auto restore = [&] {
        torch::NoGradGuard no_grad;
        auto params = model->parameters();
        for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(start[i]);
      };
      PhaseOutcome train, test;
      {
        auto w = meter.begin(spec.name() + "/train");
        const double t0 = monotonic_s();
        torch::Tensor loss;
        do {
          if (train.epochs > 0) restore();
          loss = trainer.train_epoch(model, optim);
          ++train.epochs;
        } while (train.epochs < opt.epochs || monotonic_s() - t0 < opt.min_window_s);
        train.window = meter.end(w);
        train.loss = loss.item<double>();
      }
      start.clear();
      if (!std::isfinite(train.loss)) throw Error("training loss is not finite (NaN/Inf) after one epoch");
      {
        auto w = meter.begin(spec.name() + "/test");
        const double t0 = monotonic_s();
        do {
          trainer.test_epoch(model);
          ++test.epochs;
        } while (test.epochs < opt.epochs || monotonic_s() - t0 < opt.min_window_s);
        test.window = meter.end(w);
      }
      rec.phases = {to_phase("train", train), to_phase("test", test)};
      for (const auto& ph : {train, test}) {
        sum.gpu_energy_j += ph.window.energy_j("gpu");
        sum.energy_j += ph.window.total_energy_j();
      }
      const auto& tp = rec.phases[0];
      log << "    train " << std::setprecision(4) << tp.duration_s << " s/epoch, " << tp.energy_j << " J/epoch"
          << (tp.estimated ? " (cpu/ram estimated)" : "") << "; test " << rec.phases[1].duration_s << " s, "
          << rec.phases[1].energy_j << " J; loss " << train.loss << "\n";
      ++sum.runs_ok;
    } catch (const std::exception& e) {
      rec.status = "failed";
      rec.error = e.what();
      auto nl = rec.error.find('\n');
      if (nl != std::string::npos) rec.error = rec.error.substr(0, nl);
      log << "    FAILED: " << rec.error << "\n";
      ++sum.runs_failed;
    }
    rec.finished_at = utc_now_iso();
    db.add_run(rec);
    if (opt.cooldown_s > 0 && k + 1 < specs.size()) {
      std::this_thread::sleep_for(std::chrono::duration<double>(opt.cooldown_s));
    }
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  meter.stop();
  if (!sum.interrupted) db.finish_session(session_id);
  sum.gpu_measured = meter.has_gpu();
  auto files = report::write_report(db, (fs::path(opt.out_dir) / "report").string());
  sum.csv_path = files.csv;
  sum.html_path = files.html;
  sum.total_s = monotonic_s() - t_start;
  return sum;
}

}  // namespace sedenergy::runner
