#include "runner/records.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/host.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"

namespace sedenergy::runner {

store::PhaseRecord to_phase(const std::string& name, const PhaseOutcome& o, int host_cpus) {
  using energy::Domain;
  store::PhaseRecord p;
  const auto& w = o.window;
  const auto t = energy::totals(w);
  const double e = std::max(1, o.epochs);
  p.phase = name;
  p.epochs = o.epochs;
  p.window_s = w.duration_s;
  p.duration_s = w.duration_s / e;
  p.energy_j = t.energy_j / e;
  p.gpu_energy_j = t.of(Domain::gpu) / e;
  p.cpu_energy_j = t.of(Domain::cpu) / e;
  p.ram_energy_j = t.of(Domain::ram) / e;
  p.gpu_method = t.method(Domain::gpu);
  p.cpu_method = t.method(Domain::cpu);
  p.ram_method = t.method(Domain::ram);
  p.estimated = t.estimated;
  p.gpu_power_w = t.power_w(Domain::gpu);
  p.loss = o.loss;
  if (t.measured(Domain::gpu)) p.uncertainty_j = t.gpu_uncertainty_j / e;
  if (t.net_gpu_energy_j >= 0) p.net_gpu_energy_j = t.net_gpu_energy_j / e;
  p.gpu_util_pct = w.gpu_util_pct;
  p.mem_util_pct = w.mem_util_pct;
  p.cpu_load = w.cpu_load;
  p.flags = join(w.flags, "; ");
  p.window_json = json_text(w.to_json());
  p.epoch_times_json = nlohmann::json(o.epoch_s).dump();
  p.own_cpu_s = o.own_cpu_s;
  // Every other process's CPU: the host's busy CPU-seconds in the window less this process's.
  const int cpus = std::max(1, host_cpus);
  if (w.duration_s > 0) p.other_cpu_load = std::max(0.0, w.cpu_load - o.own_cpu_s / (cpus * w.duration_s));
  return p;
}

namespace {
void store_split(const compute::WorkSplit& w, store::PhaseWork& into) {
  into.matrix_flops = w.matrix;
  into.single_channel_conv_flops = w.single_channel_conv;
  into.conv_flops = w.conv;
  into.serial_recurrent_flops = w.serial_recurrent;
  into.cublas_matrix_flops = w.cublas_matrix;
}
}  // namespace

store::RunRecord planned_run(const RunPlan& p, const compute::ModelCount& counts) {
  store::RunRecord rec;
  rec.config = p.spec.name();
  rec.variant = p.variant;
  rec.repetition = p.repetition;
  rec.fraction = p.fraction;
  rec.epochs_per_unit = p.epochs;
  rec.frames = p.shape.frames;
  rec.loss = p.loss;
  rec.family = models::family_name(p.spec.family);
  rec.batch = p.batch;
  rec.clips = static_cast<int>(p.n_train);
  rec.steps_per_epoch = static_cast<int>((p.n_train + p.batch - 1) / p.batch);
  rec.impl = p.impl;
  rec.started_at = utc_now_iso();
  rec.train_work.flops_per_step = counts.train_step_flops();
  rec.test_work.flops_per_step = counts.test_step_flops();
  const auto traffic = compute::dram_traffic(counts);
  rec.train_work.traffic_bytes_per_step = traffic.train_step_bytes;
  rec.test_work.traffic_bytes_per_step = traffic.test_step_bytes;
  auto epoch_flops = [&](std::int64_t n, bool train) {
    double total = static_cast<double>(n / p.batch) * (train ? counts.train_step_flops() : counts.test_step_flops());
    if (n % p.batch) {
      auto last = p.shape;
      last.batch = static_cast<int>(n % p.batch);
      const auto c = compute::count(p.spec, last);
      total += train ? c.train_step_flops() : c.test_step_flops();
    }
    return total;
  };
  rec.train_work.flops_per_epoch = epoch_flops(p.n_train, true);
  rec.test_work.flops_per_epoch = epoch_flops(p.n_test, false);
  store_split(compute::work_split(counts, true), rec.train_work);
  store_split(compute::work_split(counts, false), rec.test_work);
  return rec;
}

}  // namespace sedenergy::runner
