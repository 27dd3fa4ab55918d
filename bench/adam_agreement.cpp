// Do sedenergy's Adam implementations take the same steps? Trains identical copies of each model (same
// initial weights, same batches) with the fused kernel, the multi-tensor (foreach) ops and LibTorch's
// per-tensor Adam for one epoch of the study (198 steps of batch 8), BCE on softmax, inputs drawn like
// the study's magnitude mel features (log-normal: median ~0.5, 99th percentile ~8). Prints per model and
// implementation the first step whose loss is not finite and the loss along the way, and how far the
// fused and foreach weights are from LibTorch's after steps 1, 2, 5, 10 and 198 (max |difference| / max |w|).
// Usage: adam_agreement [spec,spec,...]   (default mlp:32x4096,mlp:16x4096,mlp:4x1024,rnn:4x1024,cnn:2x128)
#include <algorithm>
#include <cmath>
#include <memory>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/text.hpp"
#include "models/fast_adam.hpp"
#include "models/torch_models.hpp"

using namespace sedenergy;

namespace {

int run(int argc, char** argv) {
  // Without a GPU the fused kernel (CUDA only) is left out and the rest runs on the CPU.
  const bool cuda = torch::cuda::is_available();
  if (!cuda) std::cerr << "no CUDA GPU: fused Adam left out, running on the CPU\n";
  const std::string list = argc > 1 ? argv[1] : "mlp:32x4096,mlp:16x4096,mlp:4x1024,rnn:4x1024,cnn:2x128";
  const models::InputShape shape{8, 128, 64};
  const int steps = 198;
  const std::set<int> compare_at{1, 2, 5, 10, steps};
  const torch::Device dev = cuda ? torch::kCUDA : torch::kCPU;
  auto opts = torch::TensorOptions().device(dev);
  for (const auto& name : split(list, ',')) {
    const auto spec = models::parse_spec(name);
    torch::manual_seed(2);
    auto xs = torch::exp(torch::randn({steps, 8, 1, 128, 64}, opts) * 1.2 - 0.75);
    auto ys = (torch::rand({steps, 8, 10}, opts) < 0.2).to(torch::kFloat32);
    struct Arm {
      std::string impl;
      models::SedNet model{nullptr};
      std::unique_ptr<models::FastAdam> fast;
      std::unique_ptr<torch::optim::Adam> lib;
      int first_nonfinite = 0;
      std::vector<double> loss_at;
    };
    std::vector<Arm> arms;
    for (std::string impl : {"libtorch", "fused", "foreach"}) {
      if (impl == "fused" && !cuda) continue;
      torch::manual_seed(1);  // identical initial weights in every arm
      Arm a{impl, models::SedNet(spec, shape)};
      a.model->to(dev);
      if (impl == "libtorch") a.lib = std::make_unique<torch::optim::Adam>(a.model->parameters(), torch::optim::AdamOptions(1e-3));
      else a.fast = std::make_unique<models::FastAdam>(a.model->parameters(), 1e-3, impl);
      arms.push_back(std::move(a));
    }
    nlohmann::json row = {{"config", name}, {"steps", steps}};
    for (int s = 1; s <= steps; ++s) {
      for (auto& a : arms) {
        if (a.fast) a.fast->zero_grad(); else a.lib->zero_grad();
        auto loss = models::bce_on_probabilities(a.model->forward(xs[s - 1]), ys[s - 1]);
        loss.backward();
        if (a.fast) a.fast->step(); else a.lib->step();
        const double l = loss.item<double>();
        if (!std::isfinite(l) && a.first_nonfinite == 0) a.first_nonfinite = s;
        if (compare_at.count(s)) a.loss_at.push_back(l);
      }
      if (!compare_at.count(s)) continue;
      torch::NoGradGuard ng;
      const auto ref = arms[0].model->parameters();
      for (std::size_t k = 1; k < arms.size(); ++k) {
        const auto mine = arms[k].model->parameters();
        double diff = 0, scale = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) {
          diff = std::max(diff, (mine[i] - ref[i]).abs().max().item<double>());
          scale = std::max(scale, ref[i].abs().max().item<double>());
        }
        row["weights_vs_libtorch"][arms[k].impl].push_back({{"step", s}, {"max_abs_diff_over_max_abs_w", diff / scale}});
      }
    }
    for (const auto& a : arms) {
      row["impls"][a.impl] = {{"first_nonfinite_loss_step", a.first_nonfinite}, {"loss_at_steps_1_2_5_10_198", a.loss_at}};
    }
    std::cout << row.dump() << "\n" << std::flush;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a spec that does not parse, among others
    std::cerr << "adam_agreement: " << e.what() << "\n";
    return 2;
  }
}
