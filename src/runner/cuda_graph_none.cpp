// A LibTorch without CUDA: no graph can be made (the plan refuses graph implementations before this).
#include "common/error.hpp"
#include "runner/cuda_graph.hpp"

namespace sedenergy::runner {

namespace {
const char* kWhy = "this build has no CUDA graphs (built against a LibTorch without CUDA)";
}

bool cuda_graphs_available() { return false; }

struct CapturedStep::State {};

CapturedStep::CapturedStep(const std::function<void()>&, int) { throw Error(kWhy); }
CapturedStep::~CapturedStep() = default;
void CapturedStep::replay() {}
int CapturedStep::kernels() const { return -1; }

int count_step_kernels(const std::function<void()>&, std::string& why) {
  why = kWhy;
  return -1;
}

}  // namespace sedenergy::runner
