// runner::Trainer under each implementation, on a task it can learn (the class is the input's brightest
// mel band group). On the CPU: the eager implementations with host and resident data do the same
// arithmetic. On a CUDA device (run by scripts/gpu-verify.sh and the GPU checks): CUDA-graph steps, per
// batch (host data) and whole epochs (device data), learn as the eager loop does, and their kernels are counted.
#include <gtest/gtest.h>

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "models/implementation.hpp"
#include "models/torch_models.hpp"
#include "runner/cuda_graph.hpp"
#include "runner/study.hpp"
#include "runner/trainer.hpp"

using namespace sedenergy;

namespace {

constexpr int64_t kClips = 50;  // 6 full batches of 8 and a partial one of 2

runner::BatchSource learnable_set() {
  torch::manual_seed(3);
  auto x = torch::rand({kClips, 1, 16, 8}) * 0.1;
  auto label = torch::randint(10, {kClips}, torch::TensorOptions().dtype(torch::kLong));
  auto y = torch::zeros({kClips, 10});
  for (int64_t i = 0; i < kClips; ++i) {
    const int64_t c = label[i].item<int64_t>();
    y.index_put_({i, c}, 1.0);
    x.index_put_({i, 0, torch::indexing::Slice(c, c + 1)}, 1.0);
  }
  return runner::BatchSource(x, y);
}

struct Trained {
  std::vector<double> losses;
  torch::Tensor params;  // all parameters, flattened, on the CPU
  int train_kernels = -1;
};

Trained train(const std::string& impl_name, const runner::DeviceChoice& dev, int epochs) {
  runner::StudyOptions opt;
  opt.batch = 8;
  const auto impl = models::parse_implementation(impl_name, "auto", "--impl").resolved();
  runner::BatchSource data = learnable_set();
  if (impl.device_data) data.keep_on(dev.device);
  torch::manual_seed(1);
  models::SedNet model(models::parse_spec("mlp:1x64"), models::InputShape{8, 16, 8});
  model->to(dev.device);
  runner::Trainer trainer(data, data, dev, opt, impl, model);
  const auto all = torch::arange(kClips, torch::TensorOptions().dtype(torch::kLong));
  trainer.warm_up(all, 0);
  Trained out;
  torch::manual_seed(5);
  for (int e = 0; e < epochs; ++e) {
    trainer.train_epoch(all);
    out.losses.push_back(trainer.training_loss(all));
    trainer.test_epoch();
  }
  std::vector<torch::Tensor> flat;
  for (const auto& p : trainer.model()->parameters()) flat.push_back(p.detach().flatten().cpu());
  out.params = torch::cat(flat);
  std::string why;
  out.train_kernels = trainer.count_kernels(why).first;
  return out;
}

}  // namespace

TEST(Trainer, HostAndResidentDataTrainAlikeOnTheCpu) {
  runner::DeviceChoice cpu;
  const auto host = train("pytorch-default", cpu, 3), resident = train("foreach/eager/fp32/device", cpu, 3);
  EXPECT_LT(host.losses.back(), host.losses.front());
  EXPECT_TRUE(torch::allclose(host.params, resident.params, 1e-5, 1e-6)) << "the same batches, the same updates";
}

TEST(Trainer, CudaGraphStepsAndEpochsLearnAsTheEagerLoop) {
  if (!torch::cuda::is_available() || !runner::cuda_graphs_available()) GTEST_SKIP() << "needs a CUDA device and graphs";
  runner::DeviceChoice gpu;
  gpu.device = torch::Device(torch::kCUDA, 0);
  gpu.cuda = true;
  const auto eager = train("fused/eager/fp32/device", gpu, 12);
  for (const std::string impl : {"fused/graph/fp32/host", "fastest"}) {
    const auto graphed = train(impl, gpu, 12);
    ASSERT_EQ(graphed.losses.size(), eager.losses.size());
    for (double l : graphed.losses) EXPECT_TRUE(std::isfinite(l)) << impl;
    // The graphs' warm-up trained a little more before the first epoch; the course is the same.
    EXPECT_LT(graphed.losses.back(), 0.8 * graphed.losses.front()) << impl;
    EXPECT_NEAR(graphed.losses.back(), eager.losses.back(), 0.5 * eager.losses.back()) << impl;
    EXPECT_GT(graphed.train_kernels, 5) << impl;
  }
}

// The float32 math of a precision holds for its scope and the process's flags come back after it (they are
// global: a study runs implementations one after another in one process).
TEST(Trainer, Float32MathHoldsForItsScopeOnly) {
  auto& ctx = at::globalContext();
  const bool cublas = ctx.allowTF32CuBLAS(), cudnn = ctx.allowTF32CuDNN();
  {
    runner::Float32Math tf32(models::Precision::tf32);
    EXPECT_TRUE(ctx.allowTF32CuBLAS());
    EXPECT_TRUE(ctx.allowTF32CuDNN());
    {
      runner::Float32Math ieee(models::Precision::ieee);
      EXPECT_FALSE(ctx.allowTF32CuBLAS());
      EXPECT_FALSE(ctx.allowTF32CuDNN());
    }
    EXPECT_TRUE(ctx.allowTF32CuBLAS());
  }
  EXPECT_EQ(ctx.allowTF32CuBLAS(), cublas);
  EXPECT_EQ(ctx.allowTF32CuDNN(), cudnn);
  for (const auto p : {models::Precision::fp32, models::Precision::bf16}) {
    runner::Float32Math defaults(p);
    EXPECT_EQ(ctx.allowTF32CuBLAS(), cublas);
    EXPECT_EQ(ctx.allowTF32CuDNN(), cudnn);
  }
}

// On a GPU with tensor cores, tf32 changes what a float32 matrix product computes (TF32 keeps 10 bits of
// mantissa: errors near 1e-3) and ieee does not (PyTorch's default for cuBLAS); each trains the model.
TEST(Trainer, Tf32AndIeeeReachTheMatrixProducts) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device";
  torch::manual_seed(2);
  const auto a = torch::randn({512, 512}, torch::kCUDA), b = torch::randn({512, 512}, torch::kCUDA);
  const auto exact = torch::matmul(a.to(torch::kDouble), b.to(torch::kDouble));
  auto error = [&](models::Precision p) {
    runner::Float32Math math(p);
    return ((torch::matmul(a, b).to(torch::kDouble) - exact).abs().max() / exact.abs().max()).item<double>();
  };
  EXPECT_LT(error(models::Precision::ieee), 1e-5);
  EXPECT_LT(error(models::Precision::fp32), 1e-5);
  EXPECT_GT(error(models::Precision::tf32), 1e-4);
  runner::DeviceChoice gpu;
  gpu.device = torch::Device(torch::kCUDA, 0);
  gpu.cuda = true;
  for (const std::string impl : {"pytorch-tf32", "pytorch-ieee"}) {
    const auto t = train(impl, gpu, 12);
    EXPECT_LT(t.losses.back(), 0.8 * t.losses.front()) << impl;
  }
}

// A model that diverged mid-epoch: the guarded steps go on (no device assert on a GPU), its weights carry
// the NaN, and the loss the runner records after the window says so.
TEST(Trainer, ADivergedModelKeepsStepsAliveAndShowsInTheLoss) {
  std::vector<runner::DeviceChoice> devices(1);
  if (torch::cuda::is_available()) {
    devices.emplace_back();
    devices.back().device = torch::Device(torch::kCUDA, 0);
    devices.back().cuda = true;
  }
  for (const auto& dev : devices) {
    runner::StudyOptions opt;
    opt.batch = 8;
    runner::BatchSource data = learnable_set();
    models::SedNet model(models::parse_spec("mlp:1x64"), models::InputShape{8, 16, 8});
    model->to(dev.device);
    const auto impl = models::parse_implementation("pytorch-default", "auto", "--impl").resolved();
    runner::Trainer trainer(data, data, dev, opt, impl, model);
    const auto all = torch::arange(kClips, torch::TensorOptions().dtype(torch::kLong));
    trainer.train_epoch(all);
    EXPECT_TRUE(std::isfinite(trainer.training_loss(all))) << dev.device;
    {
      torch::NoGradGuard no_grad;
      trainer.model()->parameters().front().index_put_({0, 0}, NAN);
    }
    EXPECT_EQ(trainer.train_epoch(all), runner::Trainer::steps_per_epoch(kClips, 8)) << dev.device;
    EXPECT_TRUE(std::isnan(trainer.training_loss(all))) << dev.device;
  }
}
