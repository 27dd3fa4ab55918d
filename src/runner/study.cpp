#include "runner/study.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <set>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "analysis/metrics.hpp"
#include "data/synth.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/number_check.hpp"
#include "common/host.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "compute/accounting.hpp"
#include "data/dataset.hpp"
#include "data/feature_cache.hpp"
#include "energy/cuda_device.hpp"
#include "energy/meter.hpp"
#include "models/grids.hpp"
#include "models/torch_models.hpp"
#include "sedenergy/build_info.hpp"
#include "sedenergy/study_configs.hpp"
#include "runner/more_runs.hpp"
#include "runner/plan.hpp"
#include "runner/probes.hpp"
#include "runner/study_options.hpp"
#include "runner/study_parts.hpp"
#include "runner/python_loop.hpp"
#include "runner/trainer.hpp"
#include "store/store.hpp"

namespace fs = std::filesystem;

namespace sedenergy::runner {
namespace {

// Ctrl-C (SIGINT) or SIGTERM: end the windows of the run in progress, commit it (interrupted), stop.
// A second signal more than 2 s after the first ends the process at once; one sooner is the same
// request (GNU timeout sends SIGINT to the child and then to its whole process group).
std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};
std::atomic<double> g_stop_at{0.0};
double signal_safe_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void request_stop(int sig) {
  const double now = signal_safe_now();
  if (!g_stop) {
    g_stop_at = now;
    g_stop_signal = sig;
    g_stop = true;
  } else if (now - g_stop_at > 2.0) {
    std::signal(sig, SIG_DFL);
    raise(sig);
  }
}

std::string clock_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int t = static_cast<int>(std::lround(s));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

// Free memory where the model will live: NVML's free bytes on the GPU, MemAvailable on the host; 0 if unknown.
double available_memory_gb(const DeviceChoice& dev, const energy::Meter& meter) {
  if (dev.cuda) {
    if (!meter.has_gpu()) return 0;
    double free = meter.gpu_sample(0).mem_free_gb;
    return std::isfinite(free) ? free : 0;
  }
  return read_memory_info().available_kib * 1024.0 / 1e9;
}


// GPU power (sum over the selected GPUs) averaged over the last `seconds` of the sampler's timeline.
double recent_gpu_power_w(const energy::Meter& meter, double seconds) {
  const double now = monotonic_s();
  double sum = 0;
  int n = 0;
  for (const auto& s : meter.timeline(now - seconds, now)) {
    double p = 0;
    bool ok = false;
    for (const auto& g : s.gpus) {
      const double w = std::isfinite(g.power_instant_w) ? g.power_instant_w : g.power_avg_w;
      if (std::isfinite(w)) p += w, ok = true;
    }
    if (ok) sum += p, ++n;
  }
  return n ? sum / n : NAN;
}

// Between runs: a fixed pause, or until GPU power is back near the idle baseline. Returns seconds waited.
double cool_down(const StudyOptions& opt, const energy::Meter& meter, const Cooldown& how) {
  const double t0 = monotonic_s();
  if (const auto* pause = std::get_if<Pause>(&how)) {
    if (pause->seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(pause->seconds));
    return monotonic_s() - t0;
  }
  const double target = meter.idle_gpu_power_w() * 1.10 + 5.0;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  while (!g_stop && monotonic_s() - t0 < opt.cooldown_max_s) {
    const double p = recent_gpu_power_w(meter, 1.0);
    if (std::isfinite(p) && p <= target) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return monotonic_s() - t0;
}

// The meter of a study: this CUDA device's GPU (by PCI bus id, as CUDA and NVML number GPUs differently;
// without the CUDA driver API, the CUDA_VISIBLE_DEVICES entry, else the same index), CPU and RAM.
energy::MeterOptions study_meter_options(const StudyPlan& plan, std::ostream& log) {
  const auto& opt = plan.opt;
  energy::MeterOptions mo;
  mo.use_gpus = plan.dev.cuda;
  mo.period_s = opt.period_s;
  mo.cpu_tdp_w = opt.cpu_tdp_w;
  mo.host_share = 1.0 / std::max(1, opt.worker_count);
  if (!plan.dev.cuda) return mo;
  std::string why;
  if (!energy::select_cuda_ordinal(plan.dev.index, mo, &why)) {
    mo.gpu_indices = {static_cast<unsigned>(plan.dev.index)};  // the same index when nothing says otherwise
  }
  if (mo.gpu_pci_bus_ids.empty()) log << "note: " << why << "; choosing the NVML GPU from CUDA_VISIBLE_DEVICES\n";
  const int idx = plan.dev.index;
  mo.sync = [idx] { torch::cuda::synchronize(idx); };
  return mo;
}

// The options a session records; --resume continues a session whose record matches. The Python loop's
// interpreter and PyTorch are the study's software as much as the build is: another one starts a session.
std::string recorded_config(const StudyPlan& plan, const StudyData& data, const PythonWorker* python) {
  const auto& opt = plan.opt;
  std::vector<std::string> specs;
  for (const auto& s : plan.specs) specs.push_back(s.name());
  auto recorded = recorded_options(opt);
  recorded["extraction"] = data::describe(extraction_options(opt));
  recorded["skipped"] = data.skipped;
  recorded["specs"] = specs;
  if (python) recorded["python_loop"] = python->versions();
  return json_text(recorded);
}

store::SessionRecord session_record(const StudyPlan& plan, const StudyData& data, const energy::Meter& meter,
                                    const PythonWorker* python) {
  const HostInfo host = read_host_info();
  store::SessionRecord sess;
  sess.started_at = utc_now_iso();
  sess.command = plan.opt.command_line;
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
  sess.device = plan.dev.cuda ? "cuda:" + std::to_string(plan.dev.index) : "cpu";
  sess.grid = plan.opt.grid;
  sess.dataset = data.description;
  sess.features = features::describe(plan.opt.features);
  sess.config_json = recorded_config(plan, data, python);
  return sess;
}

// The session the runs go to, and which runs are already done. Studies resuming one session at once (two
// --resume on one --out) share its runs: each run is claimed first, and a claim whose process has ended
// (killed, or interrupted) is taken over unless its run finished.
struct SessionState {
  std::int64_t id = 0;
  std::vector<std::int64_t> sessions;  // every session of these options, this one included
  std::set<std::string> finished;
  std::string claim_group, claimant;
};

SessionState open_session(store::Store& db, const store::SessionRecord& sess, const StudyPlan& plan, std::ostream& log) {
  const auto& opt = plan.opt;
  SessionState s;
  if (opt.resume && opt.worker_group.empty()) {
    s.id = db.continue_or_begin_session(sess, s.sessions);
  } else if (opt.resume) {
    s.sessions = db.matching_sessions(sess);  // the workers of a multi-GPU study each start their own session
  }
  if (opt.resume && s.sessions.empty()) {
    log << "resume: no earlier session with these options, GPU model and code version ("
        << (sess.gpu_name.empty() ? "no GPU" : sess.gpu_name) << ", " << sess.git_revision << ") in " << db.path()
        << "; starting a new one\n";
  } else if (opt.resume) {
    s.finished = db.finished_items(s.sessions);
    log << "resume: " << s.finished.size() << " of " << plan.items.size() << " runs already finished\n";
  }
  if (s.id == 0) s.id = db.begin_session(sess);
  if (std::find(s.sessions.begin(), s.sessions.end(), s.id) == s.sessions.end()) s.sessions.push_back(s.id);
  s.claim_group = opt.worker_group.empty() ? "session-" + std::to_string(s.id) : opt.worker_group;
  s.claimant = opt.worker_group.empty() ? process_identity(getpid()) : opt.worker_name;
  return s;
}


// Refuses what cannot fit before allocating anything (an out-of-memory crash loses the device).
void refuse_what_cannot_fit(const compute::ModelCount& counts, const DeviceChoice& dev, const energy::Meter& meter) {
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
}

// The model of a run, on its device, checked against the accounting; the global generator seeded for it.
models::SedNet build_model(const models::ModelSpec& spec, const StudyPlan& plan, const compute::ModelCount& counts,
                           std::uint64_t seed) {
  torch::manual_seed(seed);
  models::SedNet model(spec, plan.shape);
  model->to(plan.dev.device);
  // bce-logits: a class softmax gives way to BCE with logits; a model whose outputs are already per-class
  // sigmoids (the CRNN's attention pooling) keeps BCE on them, which is the same per-class loss.
  if (plan.loss == Loss::bce_logits) model->set_logits(true);
  if (model->parameter_count() != counts.params) {
    throw Error("internal: module has " + std::to_string(model->parameter_count()) + " parameters, accounting says " +
                std::to_string(counts.params));
  }
  return model;
}

// The test metrics of a trained model (outside any window).
void record_quality(store::RunRecord& rec, Loop& loop) {
  auto [scores, targets] = loop.predict();
  const auto tm = analysis::tagging_metrics(scores, targets, data::kNumClasses);
  rec.metrics.accuracy = tm.accuracy;
  rec.metrics.label_accuracy = tm.label_accuracy;
  rec.metrics.f1_macro = tm.f1_macro;
  rec.metrics.map = tm.map;
  rec.metrics.map_chance = analysis::chance_map(targets, data::kNumClasses);
  rec.metrics.per_class_json = nlohmann::json{{"f1", tm.f1}, {"ap", tm.ap}}.dump();
}

// The loop of a run: sedenergy's C++ steps, or the Python worker's (started again when one ended during a
// run), its model checked against the accounting as the C++ one is.
std::unique_ptr<Loop> make_loop(const WorkItem& item, const StudyPlan& plan, const compute::ModelCount& counts,
                                const StudyData& data, std::uint64_t seed, std::unique_ptr<PythonWorker>& python,
                                std::ostream& log) {
  if (!item.impl.python) {
    return std::make_unique<Trainer>(*data.train, data.test_set(), plan.dev, plan.opt, item.impl,
                                     build_model(item.spec, plan, counts, seed));
  }
  if (!python || !python->running()) {
    python = std::make_unique<PythonWorker>(plan.opt.python);
    log << "    Python loop started again: pid " << python->pid() << "\n" << std::flush;
  }
  auto loop = std::make_unique<PythonLoop>(*python, *data.train, data.test_set(), data.validation.get(), plan.dev,
                                           plan.opt, item.impl, item.spec, plan.shape, seed);
  if (loop->parameter_count() != counts.params) {
    throw Error("the Python loop's model has " + std::to_string(loop->parameter_count()) +
                " parameters, the accounting says " + std::to_string(counts.params));
  }
  return loop;
}

// Kernels per training and test step, counted on a fresh copy of the run's model and optimizer (capture
// needs a real step first, which must not touch the measured model); after the windows, outside them.
void record_kernels(store::RunRecord& rec, const WorkItem& item, const StudyPlan& plan, const compute::ModelCount& counts,
                    const StudyData& data, std::ostream& log) {
  if (!plan.dev.cuda || item.impl.python) return;  // counted on the C++ loop's captured graphs
  Trainer counter(*data.train, data.test_set(), plan.dev, plan.opt, item.impl,
                  build_model(item.spec, plan, counts, plan.opt.seed));
  std::string why;
  std::tie(rec.train_work.kernels_per_step, rec.test_work.kernels_per_step) = counter.count_kernels(why);
  if (rec.train_work.kernels_per_step < 0 || rec.test_work.kernels_per_step < 0) log << "    kernels not counted: " << why << "\n";
}

// One work item measured into its record (status ok, failed or interrupted); adds to the summary.
void measure_run(store::RunRecord& rec, const WorkItem& item, const compute::ModelCount& counts, const StudyPlan& plan,
                 const StudyData& data, const torch::Tensor& subset, energy::Meter& meter, StudySummary& sum,
                 std::unique_ptr<PythonWorker>& python, std::ostream& log) {
  std::string optimizer_method;
  try {
    refuse_what_cannot_fit(counts, plan.dev, meter);
    {
      const std::uint64_t seed = training_seed(item, plan.opt);
      const auto loop = make_loop(item, plan, counts, data, seed, python, log);
      loop->stop_when(&g_stop);  // a long epoch (full-length input on a CPU) ends at the next step
      rec.params = loop->parameter_count();
      optimizer_method = loop->optimizer_method();
      loop->warm_up(subset, plan.opt.warmup_steps);
      const double min_window = plan.opt.min_window_s;
      const auto train = data.validation && plan.opt.early_stop > 0
                             ? learning_window(item, *loop, subset, *data.validation, plan.opt.early_stop, seed,
                                               meter, rec.learning_json)
                             : training_window(item, *loop, subset, meter, min_window);
      const auto test = test_window(item, *loop, meter, min_window);
      static const int host_cpus = read_host_info().cpu_count;
      rec.phases = {to_phase("train", train, host_cpus), to_phase("test", test, host_cpus)};
      record_quality(rec, *loop);
      for (const auto& ph : {train, test}) {
        sum.gpu_energy_j += ph.window.energy_j(energy::Domain::gpu);
        sum.energy_j += ph.window.total_energy_j();
      }
      const auto& tp = rec.phases[0];
      log << "    train " << std::setprecision(4) << tp.duration_s << " s/epoch, " << tp.energy_j << " J/epoch"
          << (tp.estimated ? " (cpu/ram estimated)" : "") << "; test " << rec.phases[1].duration_s << " s, "
          << rec.phases[1].energy_j << " J; loss " << train.loss << "; mAP " << rec.metrics.map << "\n";
    }
    record_kernels(rec, item, plan, counts, data, log);
    ++sum.runs_ok;
  } catch (const RunInterrupted&) {
    // Its windows were cut short: recorded as such (never as ok), and redone by --resume.
    rec.status = "interrupted";
    rec.error = "stopped by a signal during its windows; --resume redoes it";
    log << "    INTERRUPTED: its windows were cut short by the stop request\n";
    sum.interrupted = true;
  } catch (const std::exception& e) {
    rec.status = "failed";
    rec.error = e.what();
    auto nl = rec.error.find('\n');
    if (nl != std::string::npos) rec.error = rec.error.substr(0, nl);
    log << "    FAILED: " << rec.error << "\n";
    ++sum.runs_failed;
  }
  rec.spec_json = nlohmann::json{{"spec", item.spec.name()}, {"batch", plan.opt.batch}, {"mels", plan.shape.mels},
                                 {"frames", plan.shape.frames}, {"optimizer", optimizer_method},
                                 {"impl", item.impl.spelled()}}
                      .dump();
  rec.finished_at = utc_now_iso();
}

// The meter started, its sensors listed.
std::unique_ptr<energy::Meter> start_meter(const StudyPlan& plan, std::ostream& log) {
  auto meter = std::make_unique<energy::Meter>(study_meter_options(plan, log));
  if (plan.dev.cuda && !meter->has_gpu()) {
    log << "warning: CUDA device in use but no NVML GPU sensor: GPU energy is not measured\n";
  }
  for (const auto& s : meter->sensors()) {
    log << "sensor: " << s.name << (s.available ? (s.estimated ? " [estimate] " : " [measured] ") : " [unavailable] ")
        << s.detail << "\n";
  }
  meter->start();
  return meter;
}

// The GPU's idle power before this process holds a CUDA context, so that the baseline its context adds is
// known: measured only where the driver says the device's primary context is not active, before and after
// (the window itself skips the device sync, which would create it); -1 otherwise.
double idle_without_context_w(const StudyPlan& plan, energy::Meter& meter, std::ostream& log) {
  if (!plan.dev.cuda || !meter.has_gpu() || plan.opt.idle_s <= 0) return -1;
  auto unknown = [&](const char* why) {
    log << "note: idle power without a CUDA context not measured: " << why << "\n";
    return -1.0;
  };
  const int ordinal = plan.dev.index;
  if (energy::cuda_primary_context_active(ordinal) != 0) return unknown("this process already holds one, or no CUDA driver to ask");
  log << "idle baseline without a CUDA context: " << plan.opt.idle_s << " s ...\n";
  meter.measure_idle(plan.opt.idle_s, /*synchronize=*/false);
  const double w = meter.idle_gpu_power_w();
  if (energy::cuda_primary_context_active(ordinal) != 0) return unknown("a CUDA context was created during the window");
  log << "idle without a CUDA context: gpu " << std::setprecision(4) << w << " W (NVML)\n";
  return w;
}

// The idle baseline (--idle seconds, with the study's CUDA context) into the session record.
void record_idle_baseline(const StudyPlan& plan, energy::Meter& meter, store::SessionRecord& sess, std::ostream& log) {
  if (plan.opt.idle_s <= 0) return;
  log << "idle baseline: " << plan.opt.idle_s << " s ...\n";
  auto idle = meter.measure_idle(plan.opt.idle_s);
  sess.idle_json = json_text(idle.to_json());
  for (const auto& d : idle.domains) {
    log << "idle: " << d.domain << " " << d.device << " " << std::setprecision(4) << d.mean_power_w << " W ("
        << (d.estimated ? "estimated" : d.method) << ")\n";
  }
}

// The runs of a session, one after the other: each claimed (another process sharing the session may
// have it), cooled down to, measured and recorded.
struct Sweep {
  const StudyPlan& plan;
  const StudyData& data;
  store::Store& db;
  const SessionState& session;
  energy::Meter& meter;
  StudySummary& sum;
  std::ostream& log;
  double t_runs = monotonic_s();
  int done_here = 0;
  std::unique_ptr<PythonWorker> python = nullptr;  // the Python loop's process, for the runs that use it

  // A stop was requested: the sweep ends, `left` runs untouched, and says how to continue.
  bool stopped(std::size_t left) {
    if (!g_stop) return false;
    sum.interrupted = true;
    log << "interrupted: " << left << " runs left; continue with --resume\n";
    return true;
  }

  // The items in order, each announced as "[LABEL k/n]", until a stop is requested.
  void run_all(const std::vector<WorkItem>& items, const std::string& label) {
    for (std::size_t k = 0; k < items.size() && !stopped(items.size() - k); ++k) {
      run(items[k], "[" + label + std::to_string(k + 1) + "/" + std::to_string(items.size()) + "]", items.size() - k);
    }
  }

  void run(const WorkItem& item, const std::string& progress, std::size_t left) {
    const auto& opt = plan.opt;
    if (session.finished.count(item.key)) {
      ++sum.runs_skipped;
      return;
    }
    // Each run is taken once, by whichever process sharing the session is free first.
    const auto stale = [&](const std::string& holder) {
      return opt.worker_group.empty() && !process_may_be_running(holder) &&
             !db.finished_items(session.sessions).count(item.key);
    };
    if (!db.claim(session.claim_group, item.key, session.claimant, stale)) {
      if (opt.worker_group.empty()) ++sum.runs_taken_by_others;
      return;
    }
    if (!item.retry_reason.empty()) log << "host stall: " << item.retry_reason << "\n";  // by the process re-running it
    if (done_here > 0) {
      const double waited = cool_down(opt, meter, plan.cooldown);
      if (std::holds_alternative<CoolToIdle>(plan.cooldown)) log << "    cooldown " << std::setprecision(3) << waited << " s\n";
    }
    const double elapsed = monotonic_s() - t_runs;
    const double eta = done_here ? elapsed / done_here * left : NAN;
    log << progress << " " << item.variant << " (repetition " << item.repetition << ")"
        << "  elapsed " << clock_text(elapsed) << "  left ~" << clock_text(eta) << "\n" << std::flush;
    const torch::Tensor subset = training_subset(data.train->size(), item.fraction, opt.seed);
    const auto counts = compute::count(item.spec, plan.shape);  // one accounting for the record and the model
    store::RunRecord rec = planned_run({item.spec, item.variant, item.impl.name(), opt.loss, item.repetition, item.epochs,
                                        opt.batch, item.fraction, plan.shape, subset.size(0), data.test_set().size()},
                                       counts);
    rec.session_id = session.id;
    if (!item.retry_reason.empty()) {
      rec.retry_of = item.repetition - opt.repetitions;
      rec.retry_reason = item.retry_reason;
    }
    measure_run(rec, item, counts, plan, data, subset, meter, sum, python, log);
    db.add_run(rec);
    ++done_here;
  }
};

// The training's CPU side on fixed CPUs (issue 33: less noise): LibTorch's intra-op threads, and every
// thread of the process (the meter's sampler too) on the last --train-threads CPUs it may use, so the
// scheduler does not move the thread that launches the kernels from core to core between runs.
void pin_training(const StudyOptions& opt, std::ostream& log) {
  if (opt.train_threads <= 0) return;
  const auto cpus = last_cpus(allowed_cpus(), opt.train_threads);
  std::string why = "no CPU list";
  if (cpus.empty() || !pin_process(cpus, why)) {
    log << "training threads: not pinned (" << why << ")\n";
    return;
  }
  torch::set_num_threads(static_cast<int>(cpus.size()));
  log << "training threads: " << cpus.size() << ", pinned to CPU(s) " << cpu_list_text(cpus) << "\n";
}

// The hardware constants of the session's device (runner/probes.hpp), after the idle baseline.
void record_hardware_probes(const StudyPlan& plan, energy::Meter& meter, double idle_no_context_w,
                            store::SessionRecord& sess, std::ostream& log) {
  auto probes = probe_hardware(plan.dev);
  probes.idle_no_context_w = idle_no_context_w;
  probe_ieee_cost(plan.dev, meter, probes);
  if (present(probes.ieee_j_per_flop)) {
    log << "hardware probes: a batch-8 matrix FLOP costs " << std::setprecision(3) << probes.ieee_j_per_flop
        << " J in IEEE float32, " << probes.tf32_j_per_flop << " J on TF32 (GPU energy, measured)\n";
  }
  sess.hardware_json = probes.to_json();
  log << "hardware probes: launch " << std::setprecision(3) << 1e6 * probes.launch_s << " us, matmul "
      << probes.matmul_flops_s / 1e12 << " TFLOP/s, copy " << probes.copy_bytes_s / 1e9 << " GB/s (measured)\n";
}

// The interval rule: a round of extra repetitions at a time, each round judged on all before it. A round
// whose runs another process sharing the session took ends this one's rounds (that process goes on). A
// configuration no repetition left could tighten is named once and left as it is.
void interval_rounds(Sweep& sweep, const StudyPlan& plan, store::Store& db, const std::vector<std::int64_t>& sharing,
                     StudySummary& sum, std::ostream& log) {
  const auto& opt = plan.opt;
  std::set<std::string> told;
  for (int ran = 1; ran > 0 && !sum.interrupted;) {
    std::vector<std::string> futile, untold;
    const auto extras = extra_repetitions(plan, db, sharing, futile);
    for (const auto& v : futile) {
      if (told.insert(v).second) untold.push_back(v);
    }
    if (!untold.empty()) {
      log << untold.size() << " configuration(s) with an interval wider than +/- " << 100 * opt.interval_target
          << " % of the median that no repetition up to " << opt.max_repetitions
          << " could tighten, so none is added: " << join(untold, ", ") << "\n";
    }
    if (extras.empty()) break;
    log << extras.size() << " configuration(s) with an interval wider than +/- " << 100 * opt.interval_target
        << " % of the median: one more repetition each\n";
    const int before = sum.runs_ok + sum.runs_failed;
    sweep.run_all(extras, "extra ");
    ran = sum.runs_ok + sum.runs_failed - before;
  }
}

}  // namespace

const std::atomic<bool>& stop_requested() { return g_stop; }

StudySummary run_study(const StudyOptions& opt_in, std::ostream& log, bool prepare_only) {
  const double t_start = monotonic_s();
  StudyPlan plan = plan_study(opt_in);
  const auto& opt = plan.opt;
  StudyData data = load_study_data(plan, log, prepare_only);
  StudySummary sum;
  if (prepare_only) {
    sum.total_s = monotonic_s() - t_start;
    return sum;
  }
  pin_training(opt, log);
  auto python = start_python_loop(plan, log);  // pinned with the study; before any file is written
  auto meter = start_meter(plan, log);
  sum.db_path = (fs::path(opt.out_dir) / "results.db").string();
  store::Store db(sum.db_path);
  auto sess = session_record(plan, data, *meter, python.get());
  const double idle_no_context = idle_without_context_w(plan, *meter, log);
  record_idle_baseline(plan, *meter, sess, log);
  record_hardware_probes(plan, *meter, idle_no_context, sess, log);
  const SessionState session = open_session(db, sess, plan, log);
  g_stop = false;
  g_stop_signal = 0;
  // Installed for the rest of the process: a repeated request (GNU timeout signals the child, then its
  // group) arriving after the runs, while the report is written or the program exits, is the same request.
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);

  Sweep sweep{plan, data, db, session, *meter, sum, log};
  sweep.python = std::move(python);
  sweep.run_all(plan.items, "");
  // The workers of --devices each have a session: the group's are those with the same options.
  const auto sharing = opt.worker_group.empty() ? session.sessions : db.matching_sessions(sess);
  const bool judged = opt.min_window_s >= kStallWindowS && opt.repetitions >= kStallMinRepetitions;
  const int stall_rounds = judged ? opt.stall_retries : 0;
  for (int round = 0; round < stall_rounds && !sum.interrupted; ++round) {
    const auto retries = stall_retries(plan, db, sharing);
    if (retries.empty()) break;
    sweep.run_all(retries, "re-run ");
  }
  interval_rounds(sweep, plan, db, sharing, sum, log);
  meter->stop();
  if (!sum.interrupted) db.finish_session(session.id);
  sum.stop_signal = sum.interrupted ? g_stop_signal.load() : 0;
  sum.gpu_measured = meter->has_gpu();
  sum.total_s = monotonic_s() - t_start;
  return sum;
}

nlohmann::json load_study_config(const std::string& name_or_file) {
  for (const auto& f : embedded::kStudyConfigs) {
    if (name_or_file + ".json" == f.name) return nlohmann::json::parse(f.text);
  }
  if (name_or_file.size() > 5 && name_or_file.substr(name_or_file.size() - 5) == ".json") {
    return read_json_object_file(name_or_file, "study configuration");
  }
  throw InputError("--config '" + name_or_file + "': not a built-in configuration (" + join(study_config_names(), ", ") +
                   ") nor a .json file");
}

std::vector<std::string> study_config_names() {
  std::vector<std::string> out;
  for (const auto& f : embedded::kStudyConfigs) {
    std::string n = f.name;
    out.push_back(n.substr(0, n.size() - 5));
  }
  return out;
}

}  // namespace sedenergy::runner
