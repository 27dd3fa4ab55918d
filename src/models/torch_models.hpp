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
// configuration. The training step's loss: a NaN input gives a finite loss here (its gradient still
// carries the NaN into the weights, which the reported loss then shows).
torch::Tensor bce_on_guarded_probabilities(const torch::Tensor& p, const torch::Tensor& target);
// The same loss as reported: a NaN or infinite input gives a NaN loss, which the runner reports.
torch::Tensor bce_on_probabilities(const torch::Tensor& p, const torch::Tensor& target);

}  // namespace sedenergy::models
