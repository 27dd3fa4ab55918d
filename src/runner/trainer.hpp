// Training and testing one model on its device, the way an implementation says (models/implementation.hpp):
// batches gathered on the host and copied or indexed from a device-resident copy; eager steps or steps
// captured into CUDA graphs; PyTorch's float32 defaults, TF32 everywhere, IEEE float32 throughout or bf16 autocast;
// foreach, fused or per-tensor Adam.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "data/dataset.hpp"
#include "data/feature_cache.hpp"
#include "features/mel.hpp"
#include "models/fast_adam.hpp"
#include "models/implementation.hpp"
#include "models/torch_models.hpp"
#include "runner/cuda_graph.hpp"
#include "runner/loop.hpp"
#include "runner/plan.hpp"

namespace sedenergy::runner {

// Batches of (features, targets): from cached features (in memory, and a resident copy
// on the GPU when an implementation asks), or computed from the audio per batch on the CPU, as the study's
// data loader did (no worker processes).
class BatchSource {
 public:
  // The whole set stays in pageable memory: batch() gathers each batch straight into pinned memory.
  explicit BatchSource(const data::FeatureSet& fs);
  // Given features (n, 1, mels, frames) and multi-hot targets (n, classes) on the host (benchmarks).
  BatchSource(torch::Tensor x, torch::Tensor y);
  BatchSource(const data::DatasetPaths& paths, const std::vector<data::Clip>& clips, const features::FeatureParams& p,
              const data::ExtractOptions& opt);

  int64_t size() const { return size_; }
  int mels() const { return mels_; }
  int frames() const { return frames_; }
  // A batch on the host (idx: a CPU index tensor). `pinned`: gathered straight into page-locked memory
  // (PyTorch's caching host allocator, which keeps a block until the copies reading it are done), so the
  // copy to the GPU is asynchronous, as a DataLoader with pin_memory=True gives.
  std::pair<torch::Tensor, torch::Tensor> batch(const torch::Tensor& idx, bool pinned = false) const;
  // Keeps a copy of the whole set on `device` (cached features only), for device-resident batches.
  void keep_on(const torch::Device& device);
  // The whole set on the host (cached features only; undefined for features computed per batch).
  const torch::Tensor& host_x() const { return x_; }
  const torch::Tensor& host_y() const { return y_; }
  const torch::Tensor& resident_x() const { return x_dev_; }
  const torch::Tensor& resident_y() const { return y_dev_; }

 private:
  static torch::Tensor targets(const std::vector<float>& t, int64_t n);
  int64_t size_;
  int mels_ = 0, frames_ = 0;
  torch::Tensor x_, y_, x_dev_, y_dev_;
  data::ExtractOptions opt_;
  features::FeatureParams params_;
  std::shared_ptr<features::MelExtractor> mel_;
  std::vector<std::string> files_;
};

// Adam as the implementation says: FastAdam (fused, foreach) or LibTorch's own (per-tensor).
class Optimizer {
 public:
  Optimizer(models::SedNet& model, const models::Implementation& impl, double lr);
  void zero_grad() { fast_ ? fast_->zero_grad() : libtorch_->zero_grad(); }
  void step() { fast_ ? fast_->step() : (void)libtorch_->step(); }
  std::string method() const { return fast_ ? "adam-" + fast_->method() : "adam-libtorch"; }

 private:
  std::unique_ptr<models::FastAdam> fast_;
  std::unique_ptr<torch::optim::Adam> libtorch_;
};

// The float32 math of an implementation's precision, for a scope (a trainer's life): tf32 lets cuBLAS and
// cuDNN use TF32 tensor cores, ieee neither; fp32 and bf16 leave PyTorch's defaults (cuDNN TF32, cuBLAS
// IEEE). The flags are the process's: the scope restores them.
class Float32Math {
 public:
  explicit Float32Math(models::Precision p);
  ~Float32Math();
  Float32Math(const Float32Math&) = delete;
  Float32Math& operator=(const Float32Math&) = delete;

 private:
  bool on_;
  bool cublas_was_ = false, cudnn_was_ = true;
};

// sedenergy's own steps in C++ (the loop of every implementation not spelled /python).
class Trainer : public Loop {
 public:
  Trainer(const BatchSource& train, const BatchSource& test, const DeviceChoice& dev, const StudyOptions& opt,
          const models::Implementation& impl, models::SedNet model);

  static int steps_per_epoch(int64_t clips, int batch) { return static_cast<int>((clips + batch - 1) / batch); }
  models::SedNet& model() { return model_; }
  void stop_when(const std::atomic<bool>* flag) override { stop_ = flag; }
  std::string optimizer_method() const override { return optim_.method(); }
  std::int64_t parameter_count() override { return model_->parameter_count(); }
  void synchronize() const override {
    if (dev_.cuda) torch::cuda::synchronize();
  }
  double cpu_seconds() const override;

  // With graphs, each step shape the epochs use (full batches and the last partial one, training and
  // test) captured after two warm-up steps, or with device data the whole training and test epochs captured
  // after one eager epoch each; then `steps` training steps.
  void warm_up(const torch::Tensor& subset, int steps) override;
  int train_epoch(const torch::Tensor& subset, int steps = -1) override;
  // The steps keep no loss: summing it would be one more kernel in every step.
  double training_loss(const torch::Tensor& subset) override;
  void test_epoch() override;
  std::pair<std::vector<float>, std::vector<float>> predict(const BatchSource* source = nullptr) override;
  void keep_weights(const std::string& slot) override;
  void restore_weights(const std::string& slot) override;
  // Kernels one training step and one test step of a full batch launch, counted on captured graphs
  // (CUDA only; the model and optimizer take one more real step first): {train, test}, -1 where unknown.
  std::pair<int, int> count_kernels(std::string& why);

 private:
  struct Graphed {
    torch::Tensor x, y, out;  // static input, target and (test) output
    std::unique_ptr<CapturedStep> step;
  };
  // Graphs with device data: the whole epoch (each step's batch gathered on the device by the epoch's
  // order, then the step) captured once and replayed once per epoch, so no host launch sits between steps.
  struct EpochGraph {
    torch::Tensor order;  // static: the epoch's order on the device, refilled before each replay
    std::unique_ptr<CapturedStep> graph;
  };
  bool epoch_graphs() const { return impl_.graph && impl_.device_data; }
  // Replays the epoch over `order` (CPU), capturing it first when needed. Returns the steps it holds.
  int replay_epoch(bool train, const torch::Tensor& order);
  void train_step(const torch::Tensor& x, const torch::Tensor& y);
  // 1 / numel on the device, made once per batch shape (before any capture: its first step is eager).
  const torch::Tensor& mean_scale(int64_t numel);
  torch::Tensor test_step(const torch::Tensor& x);
  // Rows [i, j) of `order` (CPU) / `order_dev` (the same on the device, with device data) as device tensors.
  std::pair<torch::Tensor, torch::Tensor> device_batch(const BatchSource& src, const torch::Tensor& order,
                                                       const torch::Tensor& order_dev, int64_t i, int64_t j) const;
  void fill(Graphed& g, const BatchSource& src, const torch::Tensor& order, const torch::Tensor& order_dev,
            int64_t i, int64_t j) const;
  Graphed& graph_for(std::map<int64_t, Graphed>& graphs, bool train, const torch::Tensor& order,
                     const torch::Tensor& order_dev, int64_t i, int64_t j);
  torch::Tensor on_device(const torch::Tensor& order) const;
  int run_steps(bool train, const torch::Tensor& order, const torch::Tensor& order_dev, int max_steps,
                bool step_graphs);

  Float32Math float32_math_;  // first: set before any step, restored after the last
  const BatchSource& train_;
  const BatchSource& test_;
  DeviceChoice dev_;
  int batch_;
  models::Implementation impl_;
  models::SedNet model_;
  Optimizer optim_;
  torch::Tensor test_order_, test_order_dev_;
  std::map<int64_t, Graphed> train_graphs_, test_graphs_;  // by batch size
  std::map<int64_t, torch::Tensor> mean_scales_;            // by output size
  EpochGraph train_epoch_graph_, test_epoch_graph_;
  const std::atomic<bool>* stop_ = nullptr;
  std::map<std::string, std::vector<torch::Tensor>> kept_;  // weights and buffers, by slot
};

}  // namespace sedenergy::runner
