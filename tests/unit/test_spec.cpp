#include <gtest/gtest.h>

#include "common/error.hpp"
#include "compute/accounting.hpp"
#include "models/grids.hpp"
#include "test_util.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

using namespace sedenergy;

TEST(Spec, ParsesAndPrintsCanonicalNames) {
  for (const char* s : {"mlp:4x1024", "cnn:2x128", "rnn:1x512", "crnn:1x2:512x256"}) {
    EXPECT_EQ(models::parse_spec(s).name(), s);
  }
  auto c = models::parse_spec(" CRNN:2x1:64x32 ");
  EXPECT_EQ(c.family, models::Family::kCrnn);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.rnn_layers, 1);
  EXPECT_EQ(c.width, 64);
  EXPECT_EQ(c.rnn_hidden, 32);
}

TEST(Spec, BadSpecsAreRejectedWithTheSpecNamed) {
  for (const char* s : {"", "mlp", "mlp:4", "mlp:0x10", "mlp:-1x10", "lstm:1x1", "crnn:1x1", "cnn:2xabc", "mlp:1x1x1"}) {
    try {
      models::parse_spec(s);
      FAIL() << "accepted '" << s << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("model spec"), std::string::npos) << e.what();
    }
  }
}

TEST(Spec, TooMuchPoolingIsRefusedBeforeAllocation) {
  // 64 frames allow 6 pooling layers (64 / 2^6 = 1); a 7th would need 128.
  EXPECT_NO_THROW(models::plan(models::parse_spec("cnn:6x8"), {1, 128, 64}));
  try {
    models::plan(models::parse_spec("cnn:7x8"), {1, 128, 64});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cnn:7x8"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("pooling"), std::string::npos);
  }
  EXPECT_THROW(models::plan(models::parse_spec("mlp:1x8"), {0, 128, 64}), InputError);
}

TEST(Grids, Paper43HasTheStudysConfigurations) {
  auto g = models::paper43();
  ASSERT_EQ(g.size(), 43u);
  int per_family[4] = {0, 0, 0, 0};
  for (const auto& s : g) per_family[static_cast<int>(s.family)]++;
  EXPECT_EQ(per_family[0], 10);  // MLP
  EXPECT_EQ(per_family[1], 12);  // CNN
  EXPECT_EQ(per_family[2], 11);  // RNN
  EXPECT_EQ(per_family[3], 10);  // CRNN
  for (std::size_t i = 0; i < g.size(); ++i)
    for (std::size_t j = i + 1; j < g.size(); ++j) EXPECT_NE(g[i].name(), g[j].name());
  EXPECT_EQ(models::resolve_grid("quick").size(), 8u);
  EXPECT_EQ(models::resolve_grid("mlp:1x512, cnn:2x128").size(), 2u);
  EXPECT_THROW(models::resolve_grid("paper44"), InputError);
}

TEST(Accounting, ParameterCountsOfTheStudy) {
  const models::InputShape in{1, 128, 64};
  EXPECT_EQ(compute::count(models::parse_spec("mlp:1x512"), in).params, 4199946);
  EXPECT_EQ(compute::count(models::parse_spec("cnn:2x128"), in).params, 804234);
  EXPECT_EQ(compute::count(models::parse_spec("crnn:1x1:64x64"), in).params, 26250);
  EXPECT_EQ(compute::count(models::parse_spec("mlp:32x4096"), in).params, 553820170);
  long long lo = 1LL << 62, hi = 0;
  for (const auto& s : models::paper43()) {
    auto p = compute::count(s, in).params;
    lo = std::min(lo, p);
    hi = std::max(hi, p);
  }
  EXPECT_EQ(lo, 26250);
  EXPECT_EQ(hi, 553820170);
}

TEST(Accounting, LinearAndConvCountsByHand) {
  // MLP 1x512 at batch 8: Linear(8192, 512) then Linear(512, 10).
  auto c = compute::count(models::parse_spec("mlp:1x512"), {8, 128, 64});
  EXPECT_DOUBLE_EQ(c.forward.macs, 8.0 * (8192 * 512 + 512 * 10));
  EXPECT_DOUBLE_EQ(c.forward.bias, 8.0 * (512 + 10));
  // Backward: dW for both layers, dX only for the second (the first layer's input needs no gradient).
  EXPECT_DOUBLE_EQ(c.backward.macs, 8.0 * (8192 * 512 + 2 * 512 * 10));
  EXPECT_DOUBLE_EQ(c.optimizer.elementwise, 13.0 * c.params);
  // CNN 1x128: conv 1->128 3x3 on 128x64 positions, then Linear(128*64*32, 10).
  auto k = compute::count(models::parse_spec("cnn:1x128"), {1, 128, 64});
  EXPECT_DOUBLE_EQ(k.forward.macs, 128.0 * 64 * 128 * 9 + 128.0 * 64 * 32 * 10);
}

// Each layer's FLOPs go to the kind of work its kernels do; element-wise layers to none.
TEST(Accounting, WorkSplitsFlopsByKindOfLayer) {
  const models::InputShape in{8, 128, 64};
  // cnn:2x128: conv 1->128 (one input channel), conv 128->128, then the linear head.
  const auto cnn = compute::count(models::parse_spec("cnn:2x128"), in);
  const auto w = compute::work_split(cnn, false);
  EXPECT_DOUBLE_EQ(w.single_channel_conv, cnn.layers[0].forward.flops());
  ASSERT_EQ(cnn.layers[0].name, "conv3x3 1->128");
  EXPECT_DOUBLE_EQ(w.conv, 2 * 8.0 * 64 * 32 * 128 * 128 * 9 + 8.0 * 64 * 32 * 128);  // 2 MACs + bias per output
  EXPECT_DOUBLE_EQ(w.matrix, 2 * 8.0 * 32 * 16 * 128 * 10 + 8.0 * 10);
  EXPECT_DOUBLE_EQ(w.cublas_matrix, w.matrix);  // the head is a torch Linear: cuBLAS's
  EXPECT_EQ(w.serial_recurrent, 0);
  // Training adds each layer's backward pass, still by kind.
  const auto t = compute::work_split(cnn, true);
  EXPECT_DOUBLE_EQ(t.conv, w.conv + cnn.layers[3].backward.flops());
  // A GRU over one step is a matrix product (the RNN family); over 2048 steps, serial (the CRNN's).
  const auto rnn = compute::count(models::parse_spec("rnn:1x128"), in);
  EXPECT_DOUBLE_EQ(compute::work_split(rnn, false).matrix, rnn.layers[0].forward.flops() + rnn.layers[1].forward.flops());
  // Of which cuBLAS runs the linear head only; the GRU is cuDNN's (TF32 at PyTorch's float32 defaults).
  ASSERT_EQ(rnn.layers[1].name.rfind("linear", 0), 0u) << rnn.layers[1].name;
  EXPECT_DOUBLE_EQ(compute::work_split(rnn, false).cublas_matrix, rnn.layers[1].forward.flops());
  const auto crnn = compute::count(models::parse_spec("crnn:1x1:64x64"), in);
  const auto c = compute::work_split(crnn, false);
  std::string names;
  for (const auto& l : crnn.layers) names += l.name + ";";
  EXPECT_EQ(names, "conv3x3 1->64;relu;maxpool2x2;gru 64->64 x1 over 2048;linear 64->10;softmax;");
  EXPECT_DOUBLE_EQ(c.serial_recurrent, crnn.layers[3].forward.flops());
  EXPECT_DOUBLE_EQ(c.single_channel_conv, crnn.layers[0].forward.flops());
  EXPECT_DOUBLE_EQ(c.matrix, crnn.layers[4].forward.flops());
  // What is left out is exactly the element-wise layers.
  EXPECT_DOUBLE_EQ(crnn.forward.flops() - c.serial_recurrent - c.single_channel_conv - c.matrix - c.conv,
                   crnn.layers[1].forward.flops() + crnn.layers[2].forward.flops() + crnn.layers[5].forward.flops());
}

TEST(Accounting, GruFollowsTheReferenceFormula) {
  // RNN 1xH on a single step of I = 8192 features: B*T*[2*3H*(I+H) + 13H] FLOPs + linear head.
  const double B = 4, I = 8192, H = 128;
  auto c = compute::count(models::parse_spec("rnn:1x128"), {4, 128, 64});
  const double gru = B * (2 * 3 * H * (I + H) + 13 * H);
  const double head = 2 * B * H * 10 + B * 10;
  const double softmax = 3 * B * 10;
  EXPECT_DOUBLE_EQ(c.forward.flops(), gru + head + softmax);
  EXPECT_DOUBLE_EQ(c.forward.transcendental, B * 3 * H + B * 10);
  EXPECT_EQ(c.params, static_cast<long long>(3 * H * I + 3 * H * H + 6 * H + H * 10 + 10));
}

TEST(Spec, VariantModifiersParseAndPrint) {
  auto s = models::parse_spec("CRNN:2x2:128x128+time+bi+bn");
  EXPECT_TRUE(s.time_steps);
  EXPECT_TRUE(s.bidirectional);
  EXPECT_TRUE(s.batch_norm);
  EXPECT_EQ(s.name(), "crnn:2x2:128x128+time+bi+bn");
  EXPECT_EQ(models::parse_spec("rnn:1x64+lstm").cell, models::Cell::kLstm);
  EXPECT_EQ(models::parse_spec("dcase-baseline").family, models::Family::kDcaseBaseline);
  EXPECT_THROW(models::parse_spec("mlp:1x8+time"), InputError);
  EXPECT_THROW(models::parse_spec("rnn:1x8+bn"), InputError);
  EXPECT_THROW(models::parse_spec("cnn:1x8+fast"), InputError);
  EXPECT_EQ(models::resolve_grid("variants").size(), 8u);
}

TEST(Accounting, LstmAndBidirectionalFollowTheReferenceFormulas) {
  // LSTM per layer and direction: B*T*[2*4H*(I+H) + 16H] FLOPs, params 4H*I + 4H*H + 8H.
  const double B = 2, T = 64, I = 128, H = 32;
  auto c = compute::count(models::parse_spec("rnn:1x32+time+lstm+bi"), {2, 128, 64});
  const double lstm = 2 * B * T * (2 * 4 * H * (I + H) + 16 * H);
  const double head = 2 * B * (2 * H) * 10 + B * 10;
  EXPECT_DOUBLE_EQ(c.forward.flops(), lstm + head + 3 * B * 10);
  EXPECT_EQ(c.params, static_cast<long long>(2 * (4 * H * I + 4 * H * H + 8 * H) + 2 * H * 10 + 10));
}

TEST(Accounting, DcaseBaselineNearTheQuotedSize) {
  // docs/FACTS.md §1.3: about 1.1 M parameters and 930.9 M MACs for 10 s (626 frames). GEMM MACs here.
  auto c = compute::count(models::parse_spec("dcase-baseline"), {1, 128, 626});
  EXPECT_EQ(c.params, 1112420);
  EXPECT_NEAR(c.forward.macs, 930.9e6, 0.02 * 930.9e6);
  // Dropout and batch statistics only in training.
  EXPECT_GT(c.forward_train.elementwise, c.forward.elementwise);
}

TEST(Accounting, TrainingMemoryEstimate) {
  auto c = compute::count(models::parse_spec("mlp:1x512"), {8, 128, 64});
  auto m = compute::training_memory(c);
  EXPECT_DOUBLE_EQ(m.weights, 4.0 * 4199946);
  EXPECT_DOUBLE_EQ(m.weights + m.gradients + m.optimizer, 16.0 * 4199946);
  // Outputs kept for backward (and their gradients): 512 (linear) + 512 (relu) + 10 + 10 per sample.
  EXPECT_DOUBLE_EQ(m.activations, 2.0 * 4.0 * 8 * (512 + 512 + 10 + 10));
  EXPECT_DOUBLE_EQ(m.input, 4.0 * 8 * 128 * 64);
}

// Every model against PyTorch's FlopCounterMode (tests/data/flops_torch.json, written by
// scripts/flops_golden.py with PyTorch 2.11 on the CPU): forward and forward+backward, batch 1 and 8,
// equal to the unit; parameter counts equal too.
TEST(Accounting, TorchConventionEqualsFlopCounterMode) {
  std::ifstream in(std::string(SEDENERGY_TEST_DATA) + "/flops_torch.json");
  ASSERT_TRUE(in);
  auto golden = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& [name, by_batch] : golden["configs"].items()) {
    auto spec = models::parse_spec(name);
    for (const auto& [batch, want] : by_batch.items()) {
      models::InputShape shape{std::stoi(batch), 128, 64};
      auto c = compute::count(spec, shape);
      auto t = compute::convention_count(c, compute::Convention::kTorch, spec, shape);
      EXPECT_EQ(c.params, want["params"].get<long long>()) << name;
      EXPECT_EQ(t.forward_flops, want["forward"].get<double>()) << name << " batch " << batch;
      EXPECT_EQ(t.train_step_flops, want["forward_backward"].get<double>()) << name << " batch " << batch;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * (43 + 6));
}

TEST(Accounting, DeepSpeedConventionByHand) {
  const models::InputShape in{1, 128, 64};
  auto mlp = models::parse_spec("mlp:1x512");
  auto m = compute::convention_count(compute::count(mlp, in), compute::Convention::kDeepSpeed, mlp, in);
  // Linear as 2 x MACs without bias, ReLU and Softmax one per input element.
  EXPECT_DOUBLE_EQ(m.forward_flops, 2.0 * (8192 * 512 + 512 * 10) + 512 + 10);
  EXPECT_DOUBLE_EQ(m.train_step_flops, 3 * m.forward_flops);
  auto cnn = models::parse_spec("cnn:1x128");
  auto k = compute::convention_count(compute::count(cnn, in), compute::Convention::kDeepSpeed, cnn, in);
  // Conv with bias, ReLU and MaxPool one per input element, Linear without bias.
  const double conv = 2.0 * 128 * 64 * 128 * 9 + 128.0 * 64 * 128;
  EXPECT_DOUBLE_EQ(k.forward_flops, conv + 2 * 128.0 * 64 * 128 + 2.0 * 128 * 64 * 32 * 10 + 10);
  auto rnn = models::parse_spec("rnn:1x128");
  auto r = compute::convention_count(compute::count(rnn, in), compute::Convention::kDeepSpeed, rnn, in);
  EXPECT_DOUBLE_EQ(r.forward_macs, 128.0 * 10);  // the GRU's MACs are not reported, only the head's
  EXPECT_THROW(compute::parse_convention("ptflops"), InputError);
}

// thop and fvcore print MACs (and call them FLOPs); values below are their rules worked by hand.
TEST(Accounting, ThopAndFvcoreConventionsByHand) {
  using compute::Convention;
  auto macs = [](const std::string& s, Convention conv, int batch) {
    const models::InputShape in{batch, 128, 64};
    auto spec = models::parse_spec(s);
    auto c = compute::convention_count(compute::count(spec, in), conv, spec, in);
    EXPECT_DOUBLE_EQ(c.forward_flops, 2 * c.forward_macs) << s;
    EXPECT_DOUBLE_EQ(c.train_step_flops, 3 * c.forward_flops) << s;
    return c.forward_macs;
  };
  const double softmax_row = 10 + 9 + 10;  // thop's nn.Softmax: exp, add and divide over 10 classes
  // MLP: Linear weights only (no bias), ReLU free.
  EXPECT_DOUBLE_EQ(macs("mlp:1x512", Convention::kThop, 1), 8192.0 * 512 + 512 * 10 + softmax_row);
  EXPECT_DOUBLE_EQ(macs("mlp:1x512", Convention::kFvcore, 1), 8192.0 * 512 + 512 * 10);
  EXPECT_DOUBLE_EQ(macs("mlp:1x512", Convention::kThop, 8), 8 * (8192.0 * 512 + 512 * 10 + softmax_row));
  // CNN: output elements x in_channels x 3 x 3, no bias; MaxPool free.
  const double conv = 128.0 * 64 * 128 * 9, head = 128.0 * 64 * 32 * 10;
  EXPECT_DOUBLE_EQ(macs("cnn:1x128", Convention::kThop, 1), conv + head + softmax_row);
  EXPECT_DOUBLE_EQ(macs("cnn:1x128", Convention::kFvcore, 1), conv + head);
  // BatchNorm (eval, affine): thop 4 per element, fvcore 2.
  const double bn = 2.0 * 8 * 128 * 64, conv8 = 2.0 * 128 * 64 * 8 * 9, head8 = 2.0 * 8 * 64 * 32 * 10;
  EXPECT_DOUBLE_EQ(macs("cnn:1x8+bn", Convention::kThop, 2), conv8 + 4 * bn + head8 + 2 * softmax_row);
  EXPECT_DOUBLE_EQ(macs("cnn:1x8+bn", Convention::kFvcore, 2), conv8 + 2 * bn + head8);
  // GRU (the study's one step of 8192 features): thop's cell = 3 gates x ((I + H) H + H + 2H) + 4H.
  auto gate = [](double i, double h) { return (i + h) * h + h + 2 * h; };
  EXPECT_DOUBLE_EQ(macs("rnn:1x128", Convention::kThop, 1), 3 * gate(8192, 128) + 4 * 128 + 1280 + softmax_row);
  EXPECT_DOUBLE_EQ(macs("rnn:1x128", Convention::kFvcore, 1), 1280);  // aten::gru has no handle
  // LSTM cell: 4 gates + 4H; two layers: the second takes H inputs.
  EXPECT_DOUBLE_EQ(macs("rnn:2x16+lstm", Convention::kThop, 1),
                   4 * gate(8192, 16) + 4 * 16 + 4 * gate(16, 16) + 4 * 16 + 160 + softmax_row);
  EXPECT_EQ(compute::parse_convention("thop"), Convention::kThop);
  EXPECT_EQ(compute::parse_convention("fvcore"), Convention::kFvcore);
}

// A configuration listed twice in a grid (a list or a file) is refused by its canonical name.
TEST(Grids, ADuplicateConfigurationIsRefused) {
  try {
    models::resolve_grid("mlp:1x512,cnn:1x128, mlp:1x512");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("lists mlp:1x512 twice"), std::string::npos) << e.what();
  }
  auto dir = test::temp_dir();
  test::write_text(dir / "g.json", R"({"models": ["cnn:1x128", "cnn:1x128"]})");
  EXPECT_THROW(models::resolve_grid((dir / "g.json").string()), InputError);
  EXPECT_EQ(models::resolve_grid("mlp:1x512,cnn:1x128").size(), 2u);
}

TEST(Grids, GridFilesWithClearErrors) {
  auto dir = test::temp_dir();
  test::write_text(dir / "g.json", R"({"name": "mine", "description": "two", "models": ["mlp:1x64", "crnn:1x1:8x8+bi"]})");
  auto g = models::resolve_grid((dir / "g.json").string());
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1].name(), "crnn:1x1:8x8+bi");
  auto expect_error = [&](const std::string& text, const std::string& fragment) {
    test::write_text(dir / "bad.json", text);
    try {
      models::resolve_grid((dir / "bad.json").string());
      FAIL() << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"models": ["mlp:1x64"], "batch": 8})", "unknown key 'batch'");
  expect_error(R"({"models": ["mlp:1x0"]})", "mlp:1x0");
  expect_error(R"({"models": []})", "non-empty");
  expect_error(R"({"models": ["mlp:1x64"])", "not valid JSON");
  EXPECT_THROW(models::resolve_grid((dir / "missing.json").string()), InputError);
}

TEST(Accounting, DramTrafficLowerBoundByHand) {
  auto c = compute::count(models::parse_spec("mlp:1x512"), {8, 128, 64});
  auto t = compute::dram_traffic(c);
  const double w = 4.0 * 4199946, in = 4.0 * 8 * 128 * 64, act = 4.0 * 8 * (512 + 512 + 10 + 10);
  EXPECT_DOUBLE_EQ(t.test_step_bytes, w + in + act);
  EXPECT_DOUBLE_EQ(t.train_step_bytes, w + in + act + act + 2 * w + 7 * w);
  EXPECT_DOUBLE_EQ(t.train_intensity, c.train_step_flops() / t.train_step_bytes);
}
