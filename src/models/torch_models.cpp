#include "models/torch_models.hpp"

#include <torch/version.h>

namespace sedenergy::models {

std::string libtorch_version() { return TORCH_VERSION; }

torch::Tensor bce_on_probabilities(const torch::Tensor& p, const torch::Tensor& target) {
  // PyTorch's own BCE (its backward is finite where p is exactly 0 or 1); NaNs are replaced before the
  // kernel sees them and the loss is then NaN, so divergence is still reported.
  auto loss = torch::binary_cross_entropy(torch::nan_to_num(p, 0.0), target);
  return torch::where(torch::isfinite(p).all(), loss, torch::full_like(loss, NAN));
}

SedNetImpl::SedNetImpl(const ModelSpec& spec, const InputShape& input) : spec_(spec), ops_(plan(spec, input)) {
  for (const Op& op : ops_) {
    switch (op.kind) {
      case OpKind::kLinear:
        linears_.push_back(register_module("linear" + std::to_string(linears_.size()),
                                           torch::nn::Linear(op.in, op.out)));
        break;
      case OpKind::kConv2d:
        convs_.push_back(register_module("conv" + std::to_string(convs_.size()),
                                         torch::nn::Conv2d(torch::nn::Conv2dOptions(op.in, op.out, 3).stride(1).padding(1))));
        break;
      case OpKind::kGru:
        grus_.push_back(register_module(
            "gru" + std::to_string(grus_.size()),
            torch::nn::GRU(torch::nn::GRUOptions(op.in, op.out).num_layers(op.gru_layers).batch_first(true))));
        break;
      default:
        break;
    }
  }
}

torch::Tensor SedNetImpl::forward(torch::Tensor x) {
  std::size_t li = 0, ci = 0, gi = 0;
  const auto batch = x.size(0);
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    const Op& op = ops_[i];
    switch (op.kind) {
      case OpKind::kLinear: x = linears_[li++]->forward(x); break;
      case OpKind::kConv2d: x = convs_[ci++]->forward(x); break;
      case OpKind::kRelu: x = torch::relu(x); break;
      case OpKind::kMaxPool2d: x = torch::max_pool2d(x, 2); break;
      case OpKind::kFlatten: x = x.flatten(1); break;
      case OpKind::kToSequence: {
        // Reinterpret the memory as (batch, steps, features) without permuting (the study's CRNN).
        const Op& g = ops_.at(i + 1);
        x = x.contiguous().view({batch, g.seq_len, g.in});
        break;
      }
      case OpKind::kGru: {
        auto out = std::get<0>(grus_[gi++]->forward(x));
        x = out.select(1, out.size(1) - 1);  // last time step
        break;
      }
      case OpKind::kSoftmax: x = torch::softmax(x, 1); break;
    }
  }
  return x;
}

long long SedNetImpl::parameter_count() const {
  long long n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace sedenergy::models
