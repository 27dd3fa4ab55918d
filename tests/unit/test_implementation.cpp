// Implementations (models/implementation.hpp): presets and spelled names, and the refusals a study makes
// before allocating anything.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "models/implementation.hpp"
#include "test_util.hpp"

using namespace sedenergy;
using namespace sedenergy::models;

TEST(Implementation, PresetsAndSpelledNamesParse) {
  // The study's reference is a user's loop in Python (issue 33); the same choices in C++ are libtorch-default.
  const auto d = parse_implementation("pytorch-default", "auto", "--impl");
  EXPECT_EQ(d.spelled(), "foreach/eager/fp32/host/python");
  EXPECT_TRUE(d.python);
  EXPECT_EQ(d.name(), "pytorch-default");
  const auto c = parse_implementation("libtorch-default", "auto", "--impl");
  EXPECT_EQ(c.spelled(), "foreach/eager/fp32/host");
  EXPECT_FALSE(c.python);
  EXPECT_TRUE(parse_implementation("fused/eager/bf16/host/python", "auto", "--impl").python);
  const auto f = parse_implementation("fastest", "auto", "--impl");
  EXPECT_TRUE(f.graph && f.device_data && f.precision == Precision::fp32);
  EXPECT_EQ(f.optimizer, "fused");
  // The default takes the study's --optimizer; auto is resolved by the device.
  EXPECT_EQ(parse_implementation("default", "libtorch", "--impl").spelled(), "per-tensor/eager/fp32/host");
  // PyTorch's default on both: torch.optim.Adam() takes the foreach path for CUDA tensors (issue 33).
  EXPECT_EQ(parse_implementation("default", "auto", "--impl").resolved().spelled(), "foreach/eager/fp32/host");
  EXPECT_EQ(parse_implementation("default", "auto", "--impl").resolved().optimizer, "foreach");
  const auto s = parse_implementation("per-tensor/graph/bf16/device", "auto", "--impl");
  EXPECT_EQ(s.name(), "per-tensor/graph/bf16/device");
  EXPECT_TRUE(s.preset.empty());
  EXPECT_EQ(s.precision, Precision::bf16);
  // The float32 math: PyTorch's defaults (fp32), TF32 everywhere, IEEE throughout; only the precision
  // differs from pytorch-default.
  EXPECT_EQ(parse_implementation("pytorch-tf32", "auto", "--impl").spelled(), "foreach/eager/tf32/host/python");
  EXPECT_EQ(parse_implementation("pytorch-ieee", "auto", "--impl").spelled(), "foreach/eager/ieee/host/python");
  EXPECT_EQ(parse_implementation("fused/graph/tf32/device", "auto", "--impl").precision, Precision::tf32);
  // Every preset's spelling parses back to itself.
  for (const auto& p : implementation_presets()) {
    EXPECT_EQ(parse_implementation(p.spelled, "auto", "--impl").spelled(), p.spelled) << p.name;
  }
  const auto list = parse_implementations("pytorch-default, fastest ,bf16", "auto", "--impl");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[1].name(), "fastest");
}

TEST(Implementation, BadNamesAreRefusedByOption) {
  EXPECT_NE(test::input_error_of([] { parse_implementation("quickest", "auto", "--impl"); }).find("--impl 'quickest': not an implementation"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementation("adam/eager/fp32/host", "auto", "--impl"); }).find("unknown optimizer 'adam'"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementation("fused/lazy/fp32/host", "auto", "--impl"); }).find("graphs is eager or graph"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementation("fused/eager/fp16/host", "auto", "--impl"); }).find("precision is fp32, tf32, ieee, bf16, not 'fp16'"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementation("fused/eager/fp32/disk", "auto", "--impl"); }).find("data is host or device"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementation("fused/eager/fp32/host/jax", "auto", "--impl"); }).find("the loop is python (or left out: C++), not 'jax'"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementation("fused/eager/fp32/host/python/x", "auto", "--impl"); }).find("not an implementation"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementations("fastest,fastest", "auto", "--impl"); }).find("'fastest' given twice"),
            std::string::npos);
  EXPECT_NE(test::input_error_of([] { parse_implementations("fastest,,bf16", "auto", "--impl"); }).find("an empty name"),
            std::string::npos);
}

TEST(Implementation, ImpossibleCombinationsSayWhy) {
  const RunContext gpu{true, true, true}, cpu{false, false, true}, no_graphs{true, false, true}, on_the_fly{true, true, false};
  auto why = [](const std::string& name, const RunContext& ctx) {
    return implementation_refusal(parse_implementation(name, "auto", "--impl"), ctx);
  };
  for (const auto& p : implementation_presets()) EXPECT_EQ(why(p.name, gpu), "") << p.name;
  EXPECT_EQ(why("fastest", cpu), "CUDA graphs need a CUDA device");
  EXPECT_NE(why("fastest", no_graphs).find("this build has no CUDA graphs"), std::string::npos);
  EXPECT_NE(why("foreach/graph/fp32/device", gpu).find("bias corrections on the host"), std::string::npos);
  EXPECT_NE(why("per-tensor/graph/fp32/host", gpu).find("use the fused optimizer"), std::string::npos);
  EXPECT_EQ(why("pytorch-fused", cpu), "the fused optimizer needs a CUDA device");
  EXPECT_EQ(why("foreach/eager/bf16/host", cpu), "bf16 autocast is run on CUDA devices only");
  EXPECT_EQ(why("pytorch-tf32", cpu), "tf32 sets CUDA's float32 math: CUDA devices only");
  EXPECT_EQ(why("foreach/eager/ieee/host", cpu), "ieee sets CUDA's float32 math: CUDA devices only");
  EXPECT_NE(why("device-data", on_the_fly).find("needs cached features"), std::string::npos);
  EXPECT_EQ(why("pytorch-default", cpu), "");
  // The Python loop is a user's plain loop: eager steps on host batches of cached features.
  EXPECT_EQ(why("fused/graph/fp32/device/python", gpu), "the Python loop is a user's plain loop: eager steps, host batches");
  EXPECT_EQ(why("fused/eager/fp32/device/python", gpu), "the Python loop is a user's plain loop: eager steps, host batches");
  EXPECT_NE(why("pytorch-default", on_the_fly).find("the Python loop reads cached features"), std::string::npos);
  EXPECT_EQ(why("default", cpu), "");  // auto: foreach on the CPU
}
