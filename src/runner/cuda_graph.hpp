// CUDA graphs for the runner: a step captured once and replayed, and the kernel count of a step. Built from
// cuda_graph.cpp where LibTorch has CUDA (the GPU node's PyTorch), from cuda_graph_none.cpp elsewhere,
// where there is no graph to make (the plan refuses --impl ...graph... there first).
#pragma once
#include <functional>
#include <memory>
#include <string>

namespace sedenergy::runner {

// Whether this build can capture CUDA graphs.
bool cuda_graphs_available();

class CapturedStep {
 public:
  // Runs `step` `warmup` times on a side stream (real work: allocations and lazy state settle), then
  // captures one call of it into a CUDA graph. The step must read and write only tensors that outlive the
  // graph (static inputs and outputs). Throws Error with CUDA's message when capture fails.
  CapturedStep(const std::function<void()>& step, int warmup);
  ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;
  // Launches the whole graph on the current stream.
  void replay();
  // Kernel nodes of the graph: the kernels one step launches.
  int kernels() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Kernels one call of `step` launches, counted on a graph captured after one warm-up call (both run on a
// side stream; the capture itself runs nothing); -1, with the reason in `why`, when it cannot be captured.
int count_step_kernels(const std::function<void()>& step, std::string& why);

}  // namespace sedenergy::runner
