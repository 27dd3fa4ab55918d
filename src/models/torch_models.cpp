#include "models/torch_models.hpp"

#include <torch/version.h>

namespace sedenergy::models {

std::string libtorch_version() { return TORCH_VERSION; }

namespace {

// nan_to_num whose backward passes the gradient through unchanged (the gradient PyTorch's own BCE gives
// wherever p is finite). nan_to_num's own backward multiplies by isfinite(p): five more kernels per step,
// which a launch-bound or graph-replayed step pays in time.
struct FiniteOrZero : torch::autograd::Function<FiniteOrZero> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& p) {
    return torch::nan_to_num(p, /*nan=*/0.0, /*posinf=*/1.0, /*neginf=*/0.0);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grad) {
    return {grad[0]};
  }
};

}  // namespace

torch::Tensor bce_on_probabilities(const torch::Tensor& p, const torch::Tensor& target) {
  // PyTorch's own BCE on p with NaNs and infinities replaced, so the kernel's range check never sees one.
  // Adding 0 x sum(p) gives the loss back unchanged, or NaN when p holds a NaN or an infinity.
  auto loss = torch::binary_cross_entropy(FiniteOrZero::apply(p), target);
  return torch::add(loss, p.detach().sum(), /*alpha=*/0);
}

torch::Tensor bce_gradient(const torch::Tensor& p, const torch::Tensor& target, const torch::Tensor& scale) {
  // scale x (p - target) / max(p (1 - p), 1e-12) in ATen's BCE backward kernel (no range check: a NaN
  // stays a NaN), the mean's 1/N folded into the incoming gradient instead of a division after it.
  return at::binary_cross_entropy_backward(scale.expand_as(p), p, target, {}, at::Reduction::None);
}

namespace {

// A recurrent stack returning its output sequence; GRU and LSTM behind one interface.
struct RecurrentImpl : torch::nn::Module {
  explicit RecurrentImpl(const Op& op) {
    if (op.cell == Cell::kLstm) {
      lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(op.in, op.out)
                                                         .num_layers(op.rnn_layers)
                                                         .batch_first(true)
                                                         .bidirectional(op.bidirectional)));
    } else {
      gru = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(op.in, op.out)
                                                      .num_layers(op.rnn_layers)
                                                      .batch_first(true)
                                                      .bidirectional(op.bidirectional)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    return lstm ? std::get<0>(lstm->forward(x)) : std::get<0>(gru->forward(x));
  }
  torch::nn::GRU gru{nullptr};
  torch::nn::LSTM lstm{nullptr};
};
TORCH_MODULE(Recurrent);

// DCASE baseline heads: strong = sigmoid(dense(x)); att = clamp(softmax_classes(dense_softmax(x)));
// weak = sum_t(strong * att) / sum_t(att).
struct AttentionHeadsImpl : torch::nn::Module {
  explicit AttentionHeadsImpl(long long in) {
    dense = register_module("dense", torch::nn::Linear(in, 10));
    dense_softmax = register_module("dense_softmax", torch::nn::Linear(in, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto strong = torch::sigmoid(dense->forward(x));
    auto att = torch::clamp(torch::softmax(dense_softmax->forward(x), -1), 1e-7, 1.0);
    return (strong * att).sum(1) / att.sum(1);
  }
  torch::nn::Linear dense{nullptr}, dense_softmax{nullptr};
};
TORCH_MODULE(AttentionHeads);

// The DCASE baseline's gated linear unit: Linear over channels times sigmoid(x).
struct GluImpl : torch::nn::Module {
  explicit GluImpl(long long c) { linear = register_module("linear", torch::nn::Linear(c, c)); }
  torch::Tensor forward(torch::Tensor x) {
    auto lin = linear->forward(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
    return lin * torch::sigmoid(x);
  }
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(Glu);

}  // namespace

SedNetImpl::SedNetImpl(const ModelSpec& spec, const InputShape& input) : spec_(spec), ops_(plan(spec, input)) {
  for (const Op& op : ops_) {
    const std::string name = "layer" + std::to_string(modules_.size());
    switch (op.kind) {
      case OpKind::kLinear:
        modules_.emplace_back(register_module(name, torch::nn::Linear(op.in, op.out)));
        break;
      case OpKind::kConv2d:
        modules_.emplace_back(register_module(
            name, torch::nn::Conv2d(torch::nn::Conv2dOptions(op.in, op.out, 3).stride(1).padding(1))));
        break;
      case OpKind::kBatchNorm2d:
        modules_.emplace_back(register_module(
            name, torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(op.c).eps(op.eps).momentum(op.momentum))));
        break;
      case OpKind::kGlu:
        modules_.emplace_back(register_module(name, Glu(op.c)));
        break;
      case OpKind::kRnn:
        modules_.emplace_back(register_module(name, Recurrent(op)));
        break;
      case OpKind::kAttentionHeads:
        modules_.emplace_back(register_module(name, AttentionHeads(op.in)));
        break;
      default:
        break;
    }
  }
}

torch::Tensor SedNetImpl::forward(torch::Tensor x) {
  std::size_t mi = 0;
  const auto batch = x.size(0);
  for (const Op& op : ops_) {
    switch (op.kind) {
      case OpKind::kLinear:
      case OpKind::kConv2d:
      case OpKind::kBatchNorm2d:
      case OpKind::kGlu:
      case OpKind::kAttentionHeads:
        x = modules_[mi++].forward(x);
        break;
      case OpKind::kRnn: {
        auto out = modules_[mi++].forward(x);
        x = op.all_steps ? out : out.select(1, out.size(1) - 1);  // last time step
        break;
      }
      case OpKind::kRelu: x = torch::relu(x); break;
      case OpKind::kDropout: x = torch::dropout(x, op.dropout, is_training()); break;
      case OpKind::kMaxPool2d: x = torch::max_pool2d(x, 2); break;
      case OpKind::kAvgPool2d: x = torch::avg_pool2d(x, {op.pool_h, op.pool_w}); break;
      case OpKind::kFlatten: x = x.flatten(1); break;
      case OpKind::kSwapAxes: x = x.transpose(2, 3); break;
      case OpKind::kToSequence:
        // Reinterpret the memory as (batch, steps, features) without permuting (the study's CRNN).
        x = x.contiguous().view({batch, op.seq_len, op.in});
        break;
      case OpKind::kPermuteToSequence:
        // Time on axis 3 (W) or 2 (H) becomes the step axis; the rest are features.
        x = (op.time_axis == 3 ? x.permute({0, 3, 1, 2}) : x.permute({0, 2, 1, 3})).reshape({batch, op.seq_len, op.in});
        break;
      case OpKind::kSoftmax:
        if (!logits_) x = torch::softmax(x, 1);
        break;
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
