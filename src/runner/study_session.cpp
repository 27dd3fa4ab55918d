// The session of a study: its meter and baselines, the hardware probes, the training's CPUs, what the session
// records and which session the runs go to (study_parts.hpp).
#include <iomanip>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/absent.hpp"
#include "common/host.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "data/dataset.hpp"
#include "features/mel.hpp"
#include "energy/cuda_device.hpp"
#include "models/torch_models.hpp"
#include "runner/probes.hpp"
#include "runner/python_loop.hpp"
#include "runner/study_options.hpp"
#include "runner/study_parts.hpp"
#include "sedenergy/build_info.hpp"
#include "store/store.hpp"

namespace sedenergy::runner {
namespace {

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

}  // namespace

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

}  // namespace sedenergy::runner
