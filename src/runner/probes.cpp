#include "runner/probes.hpp"

#include <algorithm>
#include <functional>
#include <vector>

#include <torch/cuda.h>
#include <torch/torch.h>

#include "common/host.hpp"

namespace sedenergy::runner {

namespace {

// The median of 5 timings of `reps` calls of fn, the device synchronised at both ends of each timing.
double seconds_per_call(const DeviceChoice& dev, int reps, const std::function<void()>& fn) {
  auto sync = [&] {
    if (dev.cuda) torch::cuda::synchronize(dev.index);
  };
  fn();  // first use: allocation, kernel selection
  std::vector<double> t;
  for (int b = 0; b < 5; ++b) {
    sync();
    const double t0 = monotonic_s();
    for (int i = 0; i < reps; ++i) fn();
    sync();
    t.push_back((monotonic_s() - t0) / reps);
  }
  std::nth_element(t.begin(), t.begin() + 2, t.end());
  return t[2];
}

// Sizes: large enough to saturate an H100/H200, small enough to stay quick on a CPU.
struct ProbeSizes {
  int64_t matmul_n, copy_floats;
  int launch_reps, matmul_reps, copy_reps;
};

ProbeSizes sizes_for(const DeviceChoice& dev) {
  if (dev.cuda) return {4096, 64LL << 20, 2000, 10, 10};
  return {256, 4LL << 20, 2000, 5, 5};
}

}  // namespace

store::HardwareProbes probe_hardware(const DeviceChoice& dev) {
  torch::NoGradGuard no_grad;
  const ProbeSizes s = sizes_for(dev);
  const auto on = torch::TensorOptions().device(dev.device).dtype(torch::kFloat32);
  store::HardwareProbes p;
  auto one = torch::zeros({1}, on);
  p.launch_s = seconds_per_call(dev, s.launch_reps, [&] { one.add_(1); });
  auto a = torch::rand({s.matmul_n, s.matmul_n}, on), b = torch::rand({s.matmul_n, s.matmul_n}, on);
  auto c = torch::empty({s.matmul_n, s.matmul_n}, on);
  const double n = static_cast<double>(s.matmul_n);
  p.matmul_flops_s = 2 * n * n * n / seconds_per_call(dev, s.matmul_reps, [&] { torch::mm_out(c, a, b); });
  auto src = torch::rand({s.copy_floats}, on), dst = torch::empty({s.copy_floats}, on);
  const double bytes = 2.0 * 4.0 * static_cast<double>(s.copy_floats);
  p.copy_bytes_s = bytes / seconds_per_call(dev, s.copy_reps, [&] { dst.copy_(src); });
  return p;
}

namespace {

struct ProductLoop {
  double j = 0, s = 0, flops = 0;
};

// The products looped for at least window_s inside one meter window, at one cuBLAS TF32 setting.
ProductLoop loop_products(energy::Meter& meter, bool tf32, double window_s, const std::function<void()>& step,
                          double flops_per_step) {
  at::globalContext().setAllowTF32CuBLAS(tf32);
  step();  // the setting's kernel chosen outside the window
  auto w = meter.begin(tf32 ? "probe-tf32" : "probe-ieee");
  const double t0 = monotonic_s();
  long steps = 0;
  do {
    for (int i = 0; i < 50; ++i) step();
    steps += 50;
    torch::cuda::synchronize();
  } while (monotonic_s() - t0 < window_s);
  const double s = monotonic_s() - t0;
  const auto t = energy::totals(meter.end(w));
  return {t.measured(energy::Domain::gpu) ? t.of(energy::Domain::gpu) : NAN, s, flops_per_step * static_cast<double>(steps)};
}

}  // namespace

void probe_ieee_cost(const DeviceChoice& dev, energy::Meter& meter, store::HardwareProbes& p, double window_s) {
  if (!dev.cuda || !meter.has_gpu()) return;
  torch::NoGradGuard no_grad;
  const auto on = torch::TensorOptions().device(dev.device).dtype(torch::kFloat32);
  const int64_t batch = 8, width = 4096;
  auto x = torch::rand({batch, width}, on), weight = torch::rand({width, width}, on), dy = torch::rand({batch, width}, on);
  auto y = torch::empty({batch, width}, on), dx = torch::empty({batch, width}, on), dw = torch::empty({width, width}, on);
  const auto step = [&] {
    torch::mm_out(y, x, weight.t());  // forward
    torch::mm_out(dx, dy, weight);    // input gradient
    torch::mm_out(dw, dy.t(), x);     // weight gradient
  };
  const double flops = 3 * 2.0 * batch * width * width;
  const bool was = at::globalContext().allowTF32CuBLAS();
  const auto a = loop_products(meter, true, window_s, step, flops);
  const auto ieee = loop_products(meter, false, window_s, step, flops);
  const auto b = loop_products(meter, true, window_s, step, flops);
  at::globalContext().setAllowTF32CuBLAS(was);
  if (!(a.j > 0 && ieee.j > 0 && b.j > 0)) return;
  p.ieee_j_per_flop = ieee.j / ieee.flops;
  p.ieee_s_per_flop = ieee.s / ieee.flops;
  p.tf32_j_per_flop = (a.j / a.flops + b.j / b.flops) / 2;
  p.tf32_s_per_flop = (a.s / a.flops + b.s / b.flops) / 2;
}

}  // namespace sedenergy::runner
