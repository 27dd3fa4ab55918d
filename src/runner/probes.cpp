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

}  // namespace sedenergy::runner
