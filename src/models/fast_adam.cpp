#include "models/fast_adam.hpp"

#include <cmath>

#include "common/error.hpp"

namespace sedenergy::models {

FastAdam::FastAdam(std::vector<torch::Tensor> params, double lr, const std::string& mode, double beta1, double beta2,
                   double eps)
    : params_(std::move(params)), lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps) {
  if (params_.empty()) throw InputError("FastAdam: no parameters");
  const bool cuda = params_.front().is_cuda();
  if (mode == "auto") method_ = "foreach";  // PyTorch's default for torch.optim.Adam(), CUDA or not
  else if (mode == "fused" || mode == "foreach") method_ = mode;
  else throw InputError("--optimizer '" + mode + "': expected auto, fused, foreach or libtorch");
  if (method_ == "fused" && !cuda) throw InputError("--optimizer fused needs the model on a CUDA device");
  for (const auto& p : params_) {
    exp_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    exp_avg_sq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    // The fused kernel keeps one float step counter per tensor, on the tensor's device.
    if (method_ == "fused") steps_.push_back(torch::zeros({}, p.options().dtype(torch::kFloat32)));
  }
}

void FastAdam::zero_grad() {
  for (auto& p : params_) p.mutable_grad().reset();
}

void FastAdam::step() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params, grads, m, v, steps;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].grad().defined()) continue;
    params.push_back(params_[i]);
    grads.push_back(params_[i].grad());
    m.push_back(exp_avg_[i]);
    v.push_back(exp_avg_sq_[i]);
    if (!steps_.empty()) steps.push_back(steps_[i]);
  }
  if (params.empty()) return;
  ++step_;
  if (method_ == "fused") {
    // The kernel reads the step counts for the bias corrections but does not advance them (PyTorch's
    // optimizer adds 1 first, as here).
    at::_foreach_add_(steps, 1.0);
    at::_fused_adam_(params, grads, m, v, /*max_exp_avg_sqs=*/{}, steps, lr_, beta1_, beta2_, /*weight_decay=*/0.0,
                     eps_, /*amsgrad=*/false, /*maximize=*/false);
    return;
  }
  const double bc1 = 1 - std::pow(beta1_, static_cast<double>(step_));
  const double bc2 = 1 - std::pow(beta2_, static_cast<double>(step_));
  at::_foreach_mul_(m, beta1_);
  at::_foreach_add_(m, grads, 1 - beta1_);
  at::_foreach_mul_(v, beta2_);
  at::_foreach_addcmul_(v, grads, grads, 1 - beta2_);
  auto denom = at::_foreach_sqrt(v);
  at::_foreach_div_(denom, std::sqrt(bc2));
  at::_foreach_add_(denom, eps_);
  at::_foreach_addcdiv_(params, m, denom, -lr_ / bc1);
}

}  // namespace sedenergy::models
