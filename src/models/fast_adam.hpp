// Adam that updates all parameters in a few kernel launches, as PyTorch's Python optimizer does by default,
// instead of LibTorch's torch::optim::Adam, which loops over tensors one by one (several kernels each).
//   fused    ATen's _fused_adam_ (one kernel for all tensors; CUDA)
//   foreach  ATen's multi-tensor _foreach_* ops (PyTorch's default implementation; CPU and CUDA)
// Same algorithm and defaults as torch.optim.Adam (betas 0.9/0.999, eps 1e-8, no weight decay).
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

namespace sedenergy::models {

class FastAdam {
 public:
  // mode: "auto" (PyTorch's default for torch.optim.Adam(): foreach, on any device), "fused" or "foreach".
  FastAdam(std::vector<torch::Tensor> params, double lr, const std::string& mode = "auto", double beta1 = 0.9,
           double beta2 = 0.999, double eps = 1e-8);
  void zero_grad();  // gradients set to none, as PyTorch 2's default
  void step();
  const std::string& method() const { return method_; }

 private:
  std::vector<torch::Tensor> params_, exp_avg_, exp_avg_sq_, steps_;
  double lr_, beta1_, beta2_, eps_;
  long long step_ = 0;
  std::string method_;
};

}  // namespace sedenergy::models
