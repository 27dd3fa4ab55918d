#include <gtest/gtest.h>
#include <torch/torch.h>

#include "compute/accounting.hpp"
#include "common/error.hpp"
#include "models/fast_adam.hpp"
#include "models/grids.hpp"
#include "models/torch_models.hpp"

using namespace sedenergy;

// Every paper43 configuration: the built module has the parameters the accounting counts, and maps
// (batch, 1, 128, 64) to (batch, 10) probabilities.
TEST(Models, Paper43ParametersAndOutputShapes) {
  torch::NoGradGuard no_grad;
  const models::InputShape shape{2, 128, 64};
  auto x = torch::rand({2, 1, 128, 64});
  for (const auto& spec : models::paper43()) {
    models::SedNet net(spec, shape);
    EXPECT_EQ(net->parameter_count(), compute::count(spec, shape).params) << spec.name();
    auto y = net->forward(x);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 10})) << spec.name();
    auto sums = y.sum(1);
    EXPECT_TRUE(torch::allclose(sums, torch::ones({2}), 1e-4, 1e-4)) << spec.name();
  }
}

TEST(Models, KnownParameterCounts) {
  const models::InputShape shape{1, 128, 64};
  EXPECT_EQ(models::SedNet(models::parse_spec("mlp:1x512"), shape)->parameter_count(), 4199946);
  EXPECT_EQ(models::SedNet(models::parse_spec("cnn:2x128"), shape)->parameter_count(), 804234);
  EXPECT_EQ(models::SedNet(models::parse_spec("crnn:1x1:64x64"), shape)->parameter_count(), 26250);
}

TEST(Models, CrnnReadsConvOutputAsSequenceWithoutPermuting) {
  // With one conv block on 128x64, the GRU sees 64*32 steps of C features taken from raw memory.
  torch::manual_seed(0);
  models::SedNet net(models::parse_spec("crnn:1x1:4x3"), models::InputShape{1, 128, 64});
  auto x = torch::rand({1, 1, 128, 64});
  auto y = net->forward(x);
  EXPECT_EQ(y.size(1), 10);
}

TEST(Models, OneTrainingStepLowersTheLossOnAFixedBatch) {
  torch::manual_seed(1);
  models::SedNet net(models::parse_spec("cnn:1x16"), models::InputShape{8, 128, 64});
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  auto x = torch::rand({8, 1, 128, 64});
  auto y = torch::zeros({8, 10});
  y.index_put_({torch::indexing::Slice(), 3}, 1.0);
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i) {
    opt.zero_grad();
    auto loss = torch::binary_cross_entropy(net->forward(x), y);
    loss.backward();
    opt.step();
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, first);
}

TEST(Models, BceOnProbabilitiesEqualsTorchsBce) {
  torch::manual_seed(2);
  auto p = torch::softmax(torch::randn({8, 10}) * 30, 1);  // saturated: exact 0s and 1s included
  auto y = (torch::rand({8, 10}) > 0.7).to(torch::kFloat32);
  auto p1 = p.clone().requires_grad_(true), p2 = p.clone().requires_grad_(true);
  auto ours = models::bce_on_probabilities(p1, y);
  auto theirs = torch::binary_cross_entropy(p2, y);
  EXPECT_NEAR(ours.item<double>(), theirs.item<double>(), 1e-5 * std::max(1.0, std::abs(theirs.item<double>())));
  ours.backward();
  theirs.backward();
  EXPECT_TRUE(torch::allclose(p1.grad(), p2.grad())) << "the same gradient as PyTorch's BCE";
  // The training step's gradient, without the loss: PyTorch's BCE gradient too.
  const auto direct = models::bce_gradient(p, y, torch::full({}, 1.0 / p.numel()));
  EXPECT_TRUE(torch::allclose(direct, p2.grad(), 1e-6, 1e-6)) << "the step's gradient is PyTorch's BCE gradient";
  // A NaN or an infinity gives a NaN loss rather than an error (a CUDA assert would poison the process).
  // On a GPU too, where the kernel's range check is a device assert (run by scripts/gpu-verify.sh).
  std::vector<torch::Device> devices{torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
  for (const auto& dev : devices) {
    for (float v : {NAN, INFINITY, -INFINITY}) {
      auto bad = p.clone();
      bad.index_put_({0, 0}, v);
      EXPECT_TRUE(std::isnan(models::bce_on_probabilities(bad.to(dev), y.to(dev)).item<double>())) << v << " on " << dev;
      // The training step's gradient: no device assertion either, and the non-finite value carried on.
      auto scale = torch::full({}, 1.0 / bad.numel(), torch::TensorOptions().device(dev));
      EXPECT_FALSE(models::bce_gradient(bad.to(dev), y.to(dev), scale).isfinite().all().item<bool>()) << v << " on " << dev;
    }
  }
}

// The realistic variants: module and accounting agree on parameters; outputs are probabilities.
TEST(Models, VariantsBuildAndAgreeWithAccounting) {
  const models::InputShape shape{2, 128, 64};
  auto x = torch::rand({2, 1, 128, 64});
  for (const auto& spec : models::variants_grid()) {
    if (spec.family == models::Family::kDcaseBaseline) continue;  // needs full-length input: below
    models::SedNet net(spec, shape);
    EXPECT_EQ(net->parameter_count(), compute::count(spec, shape).params) << spec.name();
    net->eval();
    auto y = net->forward(x);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 10})) << spec.name();
    EXPECT_TRUE(torch::allclose(y.sum(1), torch::ones({2}), 1e-4, 1e-4)) << spec.name();
  }
}

TEST(Models, DcaseBaselineShapeParametersAndTraining) {
  const models::InputShape shape{2, 128, 626};  // 10 s at 16 kHz, hop 256
  auto spec = models::parse_spec("dcase-baseline");
  models::SedNet net(spec, shape);
  EXPECT_EQ(net->parameter_count(), 1112420);  // "about 1.1 M" (docs/FACTS.md §1.3), counted by hand
  EXPECT_EQ(net->parameter_count(), compute::count(spec, shape).params);
  auto x = torch::rand({2, 1, 128, 626});
  auto y = net->forward(x);  // training mode: dropout active, batch statistics
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_TRUE((y >= 0).all().item<bool>() && (y <= 1).all().item<bool>());
  auto loss = models::bce_on_probabilities(y, torch::zeros({2, 10}));
  loss.backward();
  net->eval();
  torch::NoGradGuard no_grad;
  auto a = net->forward(x), b = net->forward(x);
  EXPECT_TRUE(torch::equal(a, b));  // eval: no dropout
}

namespace {

// Copies a's weights into b.
void copy_weights(models::SedNet& a, models::SedNet& b) {
  torch::NoGradGuard no_grad;
  auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) pb[i].copy_(pa[i]);
}

// Trains two models side by side, each with its optimizer; returns the largest weight difference after.
template <typename OptA, typename OptB>
double train_side_by_side(models::SedNet& a, OptA& oa, models::SedNet& b, OptB& ob, const torch::Tensor& x,
                          const torch::Tensor& y) {
  for (int step = 0; step < 6; ++step) {
    oa.zero_grad();
    models::bce_on_probabilities(a->forward(x), y).backward();
    oa.step();
    ob.zero_grad();
    models::bce_on_probabilities(b->forward(x), y).backward();
    ob.step();
  }
  auto pa = a->parameters(), pb = b->parameters();
  double worst = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
  return worst;
}

}  // namespace

// The multi-tensor Adam follows torch::optim::Adam step for step (same algorithm and defaults).
TEST(Models, FastAdamMatchesLibTorchAdam) {
  torch::manual_seed(3);
  const models::InputShape shape{4, 128, 64};
  auto spec = models::parse_spec("crnn:1x1:8x8");
  models::SedNet a(spec, shape), b(spec, shape);
  copy_weights(a, b);
  torch::optim::Adam ref(a->parameters(), torch::optim::AdamOptions(1e-2));
  models::FastAdam fast(b->parameters(), 1e-2);
  EXPECT_EQ(fast.method(), "foreach");  // PyTorch's default, on any device
  auto x = torch::rand({4, 1, 128, 64});
  auto y = torch::zeros({4, 10});
  y.index_put_({torch::indexing::Slice(), 3}, 1.0);
  EXPECT_LT(train_side_by_side(a, ref, b, fast, x, y), 1e-5);
  EXPECT_THROW(models::FastAdam(b->parameters(), 1e-3, "fused"), InputError);  // fused needs CUDA
  if (!torch::cuda::is_available()) {
    std::cout << "[ note ] fused-Adam check skipped: no CUDA device visible to this binary\n";
    return;
  }
  // On a GPU: ATen's fused kernel and the multi-tensor path take the same steps.
  models::SedNet f(spec, shape), g(spec, shape);
  f->to(torch::kCUDA);
  g->to(torch::kCUDA);
  copy_weights(f, g);
  models::FastAdam fused(f->parameters(), 1e-2, "fused"), multi(g->parameters(), 1e-2);
  EXPECT_EQ(fused.method(), "fused");
  EXPECT_EQ(multi.method(), "foreach");  // auto on CUDA too
  EXPECT_LT(train_side_by_side(f, fused, g, multi, x.cuda(), y.cuda()), 1e-4);
}

// Logits mode leaves out the final softmax, for BCE with logits.
TEST(Models, LogitsModeDropsTheFinalSoftmax) {
  const models::InputShape shape{2, 128, 64};
  models::SedNet net(models::parse_spec("mlp:1x16"), shape);
  auto x = torch::rand({2, 1, 128, 64});
  auto p = net->forward(x);
  net->set_logits(true);
  auto z = net->forward(x);
  EXPECT_TRUE(torch::allclose(torch::softmax(z, 1), p));
  models::SedNet dcase(models::parse_spec("dcase-baseline"), shape);
  EXPECT_FALSE(dcase->has_logits());
}
