// Checks the energy meter on a real GPU (issue: the instrument's verification). Writes one JSON object:
//   nvml_call_ms      cost of one energy-counter read and of one full sampler sample
//   windows           constant load (a matrix-product loop) measured in windows of 1, 5 and 30 s: the
//                     counter delta next to the integral of instantaneous power, and their difference
//   sampler_overhead  per training loop (cnn:2x128, launch-bound, free and pinned; cnn:2x512, GPU-bound): step time with the
//                     10 Hz sampler running vs stopped in rotating blocks, paired per round, with the noise
//                     floor of two sampler-free arms
// Usage: meter_check OUT.json [overhead]   (overhead: only the sampler-overhead part; needs a CUDA GPU; see scripts/gpu-verify.sh)
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include <sched.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "analysis/stats.hpp"
#include "common/host.hpp"
#include "energy/cuda_device.hpp"
#include "energy/meter.hpp"
#include "models/fast_adam.hpp"
#include "models/torch_models.hpp"

using namespace sedenergy;

namespace {

// Keeps the GPU at constant load for `seconds`: back-to-back FP32 matrix products, synchronised often
// enough that the host never queues far ahead.
void load_for(double seconds, const torch::Tensor& a, const torch::Tensor& b) {
  const double t0 = monotonic_s();
  while (monotonic_s() - t0 < seconds) {
    for (int i = 0; i < 4; ++i) (void)torch::mm(a, b);
    torch::cuda::synchronize();
  }
}

// Optionally the training thread on a core of its own and the sampler threads on the others (a thread
// inherits the mask of the thread that starts it): core migrations are then out of the launch-bound
// loop's noise, and the sampler cannot share the training thread's core.
struct Pinning {
  cpu_set_t all{}, mine{}, others{};
  bool ok = false;
  explicit Pinning(bool wanted) {
    if (!wanted || sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) return;
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &all)) last = c;
    }
    CPU_ZERO(&mine);
    CPU_SET(last, &mine);
    others = all;
    CPU_CLR(last, &others);
    ok = true;
  }
  ~Pinning() { set(all); }
  void set(const cpu_set_t& m) {
    if (ok) sched_setaffinity(0, sizeof m, &m);
  }
};

// Step time of one training loop (batch 8, data on the GPU) with the sampler stopped and running, in
// rotating blocks of ~0.3 s so drifts hit every arm alike. The loop never pauses (an idle gap lets
// clocks drop and the next block starts cold): the sampler is started, a few untimed steps run while it
// settles, then the timed block. "none (again)" is a second sampler-free arm: the two sampler-free arms
// against each other give the noise floor of the paired estimate.
nlohmann::json sampler_overhead(const std::string& spec, const energy::MeterOptions& mo, bool pin) {
  Pinning pinning(pin);
  auto opts = torch::TensorOptions().device(torch::kCUDA);
  const models::InputShape shape{8, 128, 64};
  torch::manual_seed(1);
  models::SedNet model(models::parse_spec(spec), shape);
  model->to(torch::kCUDA);
  models::FastAdam optim(model->parameters(), 1e-3);
  auto x = torch::rand({8, 1, 128, 64}, opts);
  auto y = torch::zeros({8, 10}, opts);
  y.index_put_({torch::indexing::Slice(), 0}, 1.0);
  auto block = [&](int steps) {
    torch::cuda::synchronize();
    const double t0 = monotonic_s();
    for (int i = 0; i < steps; ++i) {
      optim.zero_grad();
      models::bce_on_probabilities(model->forward(x), y).backward();
      optim.step();
    }
    torch::cuda::synchronize();
    return (monotonic_s() - t0) / steps;
  };
  struct Arm {
    std::string name;
    std::unique_ptr<energy::Meter> meter;
    std::vector<double> step_s;
  };
  std::vector<Arm> arms;
  auto add = [&](const std::string& name, bool on, bool activity, bool gpm) {
    Arm a{name, nullptr, {}};
    if (on) {
      auto o = mo;
      o.activity = activity;
      o.gpm = gpm;
      o.gpm_every = 1;
      a.meter = std::make_unique<energy::Meter>(o);
    }
    arms.push_back(std::move(a));
  };
  add("none", false, false, false);
  add("full (power, activity, GPM every sample)", true, true, true);
  add("none (again)", false, false, false);
  add("power only", true, false, false);
  block(50);
  const double step_guess = block(100);
  const int steps = std::max(20, static_cast<int>(0.3 / step_guess));
  const int settle = std::max(5, steps / 10);
  const int rounds = 40;
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < arms.size(); ++k) {
      Arm& a = arms[(k + r) % arms.size()];
      pinning.set(pinning.others);
      if (a.meter) a.meter->start();
      pinning.set(pinning.mine);
      block(settle);
      a.step_s.push_back(block(steps));
      if (a.meter) a.meter->stop();
    }
  }
  const double base = analysis::median(arms[0].step_s);
  nlohmann::json res = {{"model", spec + " batch 8, data on the GPU"}, {"period_s", mo.period_s},
                        {"pinned", pinning.ok ? "training thread on its own core, sampler on the others" : "no"},
                        {"rounds", rounds}, {"steps_per_block", steps}};
  for (const auto& a : arms) {
    const double m = analysis::median(a.step_s);
    res["arms"].push_back({{"sampler", a.name},
                           {"step_ms_median", 1e3 * m},
                           {"step_ms_min", 1e3 * *std::min_element(a.step_s.begin(), a.step_s.end())},
                           {"slowdown_pct", 100.0 * (m / base - 1)},
                           {"block_step_ms", a.step_s}});
  }
  // Paired within each round (all arms run back to back): per round, an arm's slowdown in % against a
  // reference of the same round; median over rounds with a bootstrap interval.
  auto slowdown_pct = [&](std::size_t arm, auto reference) {
    std::vector<double> pct;
    for (int r = 0; r < rounds; ++r) pct.push_back(100.0 * (arms[arm].step_s[r] / reference(r) - 1));
    return pct;
  };
  auto summary = [&](const std::vector<double>& pct) {
    auto ci = analysis::bootstrap_ci(rounds, [&](const std::vector<int>& idx) {
      std::vector<double> v;
      for (int i : idx) v.push_back(pct[i]);
      return analysis::median(v);
    });
    return nlohmann::json{{"median_pct", analysis::median(pct)}, {"ci95_lo_pct", ci.lo}, {"ci95_hi_pct", ci.hi}};
  };
  auto both_controls = [&](int r) { return 0.5 * (arms[0].step_s[r] + arms[2].step_s[r]); };
  auto control = slowdown_pct(2, [&](int r) { return arms[0].step_s[r]; });  // none (again) vs none
  res["paired_slowdown"] = {{"full", summary(slowdown_pct(1, both_controls))},
                            {"power_only", summary(slowdown_pct(3, both_controls))},
                            {"control: none (again) vs none", summary(control)}};
  for (auto& c : control) c = std::abs(c);
  res["noise_floor_pct_median_abs"] = analysis::median(control);
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  const bool overhead_only = argc == 3 && std::string(argv[2]) == "overhead";
  if (argc != 2 && !overhead_only) {
    std::cerr << "usage: meter_check OUT.json [overhead]\n";
    return 2;
  }
  if (!torch::cuda::is_available()) {
    std::cerr << "meter_check: no CUDA device\n";
    return 2;
  }
  nlohmann::json out;
  energy::MeterOptions mo;
  mo.gpu_pci_bus_ids = {energy::cuda_pci_bus_id(0)};
  mo.period_s = 0.1;
  mo.sync = [] { torch::cuda::synchronize(); };
  energy::Meter meter(mo);
  if (!meter.has_gpu()) {
    std::cerr << "meter_check: no NVML GPU\n";
    return 1;
  }
  out["gpu"] = meter.gpus().front().name;
  out["pci_bus_id"] = meter.gpus().front().pci_bus_id;
  out["driver"] = meter.gpu_driver();
  out["gpm"] = meter.gpus().front().has_gpm;

  // Cost of the calls the sampler makes, and of the energy counter it avoids in its loop.
  {
    std::string why;
    auto api = energy::load_nvml(why);
    energy::Nvml nvml(api);
    const auto& g = nvml.gpus().at(meter.gpus().front().index);
    std::vector<double> counter_ms, sample_ms;
    for (int i = 0; i < 50; ++i) {
      double j = 0;
      std::string err;
      double t0 = monotonic_s();
      nvml.energy_j(g, j, err);
      counter_ms.push_back(1e3 * (monotonic_s() - t0));
      t0 = monotonic_s();
      auto s = nvml.sample(g);
      nvml.gpm_update(g, s);
      sample_ms.push_back(1e3 * (monotonic_s() - t0));
    }
    out["nvml_call_ms"] = {{"energy_counter_median", analysis::median(counter_ms)},
                           {"sample_median", analysis::median(sample_ms)}};
  }

  torch::globalContext().setAllowTF32CuBLAS(false);
  auto opts = torch::TensorOptions().device(torch::kCUDA);
  auto a = torch::randn({4096, 4096}, opts), b = torch::randn({4096, 4096}, opts);
  meter.start();
  load_for(5.0, a, b);  // reach a steady temperature and clock first
  for (double len : {1.0, 5.0, 30.0}) {
    if (overhead_only) break;
    const int reps = len < 2 ? 5 : len < 10 ? 3 : 1;
    for (int r = 0; r < reps; ++r) {
      auto w = meter.begin("load " + std::to_string(len) + " s");
      load_for(len, a, b);
      auto res = meter.end(w);
      const auto& d = res.domains.front();
      nlohmann::json row = {{"window_s", len},
                            {"duration_s", res.duration_s},
                            {"counter_j", d.energy_j},
                            {"integral_j", d.integral_energy_j},
                            {"difference_pct", 100.0 * (d.integral_energy_j - d.energy_j) / d.energy_j},
                            {"uncertainty_j", d.uncertainty_j},
                            {"mean_power_w", d.mean_power_w},
                            {"samples", res.samples},
                            {"flags", res.flags},
                            {"gpu_activity", res.gpu_activity}};
      out["windows"].push_back(row);
      std::cout << row.dump() << "\n" << std::flush;
    }
  }

  // Sampler overhead on two training loops: cnn:2x128 (~1.5 ms steps, launch-bound: the worst case, where
  // the host's own noise is large; once more with the training thread pinned to its own core) and
  // cnn:2x512 (~2.7 ms, GPU-bound, like most paper43 steps).
  meter.stop();
  for (auto [spec, pin] : {std::pair{"cnn:2x128", false}, std::pair{"cnn:2x128", true}, std::pair{"cnn:2x512", false}}) {
    auto res = sampler_overhead(spec, mo, pin);
    std::cout << res.dump() << "\n" << std::flush;
    out["sampler_overhead"].push_back(res);
  }
  std::ofstream f(argv[1]);
  f << out.dump(2) << "\n";
  std::cout << out["nvml_call_ms"].dump() << "\n";
  return f ? 0 : 1;
}
