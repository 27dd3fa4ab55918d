// LibTorch modules built from a ModelSpec's execution plan (models/spec.hpp).
#pragma once
#include <torch/torch.h>

#include "models/spec.hpp"

namespace sedenergy::models {

class SedNetImpl : public torch::nn::Module {
 public:
  SedNetImpl(const ModelSpec& spec, const InputShape& input);
  // x: (batch, 1, mels, frames) -> (batch, 10) class probabilities (softmax over classes for the study's
  // families, attention-pooled sigmoid outputs for the DCASE baseline).
  torch::Tensor forward(torch::Tensor x);
  long long parameter_count() const;
  // Whether the model ends with a softmax over class scores (the study's families), which
  // set_logits(true) then leaves out, for losses on logits (BCE with logits).
  bool has_logits() const { return !ops_.empty() && ops_.back().kind == OpKind::kSoftmax; }
  void set_logits(bool on) { logits_ = on && has_logits(); }
  bool logits() const { return logits_; }
  const ModelSpec& spec() const { return spec_; }

 private:
  ModelSpec spec_;
  std::vector<Op> ops_;
  std::vector<torch::nn::AnyModule> modules_;  // one per op that owns parameters, in op order
  bool logits_ = false;
};
TORCH_MODULE(SedNet);

std::string libtorch_version();

// Binary cross-entropy on probabilities (torch::binary_cross_entropy, mean), guarded so that a NaN never
// reaches the CUDA kernel's range assertion, which would poison the CUDA context for every later
// configuration. A NaN or infinite input gives a NaN loss, which the runner reports.
torch::Tensor bce_on_probabilities(const torch::Tensor& p, const torch::Tensor& target);
// The gradient of that mean loss with respect to p, as PyTorch's BCE backward computes it, in one kernel
// and without the loss itself (which a training step does not use): `scale` is 1 / p.numel() as a
// scalar tensor on p's device. A NaN in p gives NaN gradients (no assertion), so the weights carry it.
torch::Tensor bce_gradient(const torch::Tensor& p, const torch::Tensor& target, const torch::Tensor& scale);

}  // namespace sedenergy::models
