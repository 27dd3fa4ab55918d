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
#include <iomanip>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "analysis/metrics.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/number_check.hpp"
#include "common/host.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "compute/accounting.hpp"
#include "data/dataset.hpp"
#include "data/feature_cache.hpp"
#include "energy/meter.hpp"
#include "models/grids.hpp"
#include "models/torch_models.hpp"
#include "sedenergy/study_configs.hpp"
#include "runner/more_runs.hpp"
#include "runner/plan.hpp"
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
