// Checks the energy meter on a real GPU (issue: the instrument's verification). Writes one JSON object:
//   nvml_call_ms      cost of one energy-counter read and of one full sampler sample
//   windows           constant load (a matrix-product loop) measured in windows of 1, 5 and 30 s: the
//                     counter delta next to the integral of instantaneous power, and their difference
//   sampler_overhead  step time of a training loop with the 10 Hz sampler running vs stopped, in
//                     alternating blocks (medians and their ratio)
// Usage: meter_check OUT.json   (needs a CUDA GPU; see scripts/gpu-verify.sh)
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/host.hpp"
#include "energy/cuda_device.hpp"
#include "energy/meter.hpp"
#include "models/fast_adam.hpp"
#include "models/torch_models.hpp"

using namespace sedenergy;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n == 0 ? NAN : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Keeps the GPU at constant load for `seconds`: back-to-back FP32 matrix products, synchronised often
// enough that the host never queues far ahead.
void load_for(double seconds, const torch::Tensor& a, const torch::Tensor& b) {
  const double t0 = monotonic_s();
  while (monotonic_s() - t0 < seconds) {
    for (int i = 0; i < 4; ++i) (void)torch::mm(a, b);
    torch::cuda::synchronize();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: meter_check OUT.json\n";
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
    out["nvml_call_ms"] = {{"energy_counter_median", median(counter_ms)}, {"sample_median", median(sample_ms)}};
  }

  torch::globalContext().setAllowTF32CuBLAS(false);
  auto opts = torch::TensorOptions().device(torch::kCUDA);
  auto a = torch::randn({4096, 4096}, opts), b = torch::randn({4096, 4096}, opts);
  meter.start();
  load_for(5.0, a, b);  // reach a steady temperature and clock first
  for (double len : {1.0, 5.0, 30.0}) {
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

  // Sampler overhead on a training loop whose steps are short (launch-bound): blocks with the sampler
  // running and stopped, alternating, so drifts hit both alike.
  {
    const models::InputShape shape{8, 128, 64};
    torch::manual_seed(1);
    models::SedNet model(models::parse_spec("cnn:2x128"), shape);
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
    block(50);
    std::vector<double> with, without;
    for (int k = 0; k < 12; ++k) {
      meter.start();
      with.push_back(block(300));
      meter.stop();
      without.push_back(block(300));
    }
    const double mw = median(with), mo2 = median(without);
    out["sampler_overhead"] = {{"model", "cnn:2x128 batch 8, data on the GPU"},
                               {"period_s", 0.1},
                               {"blocks", 12},
                               {"steps_per_block", 300},
                               {"step_ms_with_sampler_median", 1e3 * mw},
                               {"step_ms_without_sampler_median", 1e3 * mo2},
                               {"slowdown_pct", 100.0 * (mw / mo2 - 1)}};
  }
  meter.stop();
  std::ofstream f(argv[1]);
  f << out.dump(2) << "\n";
  std::cout << out["nvml_call_ms"].dump() << "\n" << out["sampler_overhead"].dump() << "\n";
  return f ? 0 : 1;
}
