// What the study's windows drive (study_windows.cpp): one model trained and tested on its device, by
// sedenergy's C++ steps (runner::Trainer) or by a Python process running PyTorch as a user writes the loop
// (runner::PythonLoop). Every call returns with the device's work done or, where it says so, queued.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace sedenergy::runner {

class BatchSource;

class Loop {
 public:
  virtual ~Loop() = default;
  // Epochs end early, after the step in progress, once `*flag` is set (a stop signal).
  virtual void stop_when(const std::atomic<bool>* flag) = 0;
  virtual std::string optimizer_method() const = 0;
  virtual std::int64_t parameter_count() = 0;
  // Waits for the device's queued work.
  virtual void synchronize() const = 0;
  // CPU seconds of the processes that run the loop (this one, and a Python worker's).
  virtual double cpu_seconds() const = 0;
  // The unmeasured start, then `steps` training steps.
  virtual void warm_up(const torch::Tensor& subset, int steps) = 0;
  // Trains `steps` steps (all of an epoch when steps < 0) over the clips `subset` (indices into the training
  // source) in a fresh random order; returns the steps run.
  virtual int train_epoch(const torch::Tensor& subset, int steps = -1) = 0;
  // The mean loss over `subset` in eval mode, outside any window; NaN when the model diverged.
  virtual double training_loss(const torch::Tensor& subset) = 0;
  virtual void test_epoch() = 0;
  // Class probabilities and targets over the test set, or over `source` (one the loop was given).
  virtual std::pair<std::vector<float>, std::vector<float>> predict(const BatchSource* source = nullptr) = 0;
  // The weights as they are now, kept under `slot` on the device, and put back.
  virtual void keep_weights(const std::string& slot) = 0;
  virtual void restore_weights(const std::string& slot) = 0;
};

}  // namespace sedenergy::runner
