// CUDA graphs through LibTorch's at::cuda::CUDAGraph (PyTorch 2.x: keep_graph, instantiate, raw_cuda_graph),
// following PyTorch's whole-network capture recipe: warm-up on a side stream, capture on a side stream,
// replay on the current one. Kernel nodes are counted with cudaGraphGetNodes before instantiation.
#include "runner/cuda_graph.hpp"

#include <vector>

#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/cuda.h>

#include "common/error.hpp"

namespace sedenergy::runner {

namespace {

// Runs fn on a stream from the pool that first waits for the current stream; the current stream then
// waits for it. Capture cannot happen on the legacy default stream.
template <typename Fn>
void on_side_stream(Fn&& fn) {
  const auto current = c10::cuda::getCurrentCUDAStream();
  const auto side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAEvent ready;
  ready.record(current);
  ready.block(side);
  {
    c10::cuda::CUDAStreamGuard guard(side);
    fn();
  }
  at::cuda::CUDAEvent done;
  done.record(side);
  done.block(current);
}

int kernel_nodes(cudaGraph_t graph) {
  size_t n = 0;
  if (cudaGraphGetNodes(graph, nullptr, &n) != cudaSuccess) return -1;
  std::vector<cudaGraphNode_t> nodes(n);
  if (cudaGraphGetNodes(graph, nodes.data(), &n) != cudaSuccess) return -1;
  int kernels = 0;
  for (std::size_t i = 0; i < n; ++i) {
    cudaGraphNodeType type;
    if (cudaGraphNodeGetType(nodes[i], &type) == cudaSuccess && type == cudaGraphNodeTypeKernel) ++kernels;
  }
  return kernels;
}

}  // namespace

bool cuda_graphs_available() { return true; }

struct CapturedStep::State {
  at::cuda::CUDAGraph graph{/*keep_graph=*/true};  // kept until its nodes are counted
  int kernels = -1;
};

CapturedStep::CapturedStep(const std::function<void()>& step, int warmup) : state_(std::make_unique<State>()) {
  try {
    torch::cuda::synchronize();
    on_side_stream([&] {
      for (int i = 0; i < warmup; ++i) step();
    });
    torch::cuda::synchronize();
    on_side_stream([&] {
      state_->graph.capture_begin();
      try {
        step();
      } catch (...) {
        try {
          state_->graph.capture_end();  // leaves the stream out of capture mode
        } catch (...) {
        }
        throw;
      }
      state_->graph.capture_end();
    });
    state_->kernels = kernel_nodes(state_->graph.raw_cuda_graph());
    state_->graph.instantiate();
  } catch (const c10::Error& e) {
    throw Error(std::string("CUDA graph capture failed: ") + e.what_without_backtrace());
  }
}

CapturedStep::~CapturedStep() = default;

void CapturedStep::replay() { state_->graph.replay(); }

int CapturedStep::kernels() const { return state_->kernels; }

int count_step_kernels(const std::function<void()>& step, std::string& why) {
  try {
    return CapturedStep(step, 1).kernels();
  } catch (const std::exception& e) {
    why = e.what();
    return -1;
  }
}

}  // namespace sedenergy::runner
