// 4-lane build of the mel kernel (SSE on x86-64, NEON on Arm), and the run-time choice between builds.
#define SEDENERGY_SIMD_NS lanes4
#define SEDENERGY_LANES 4
#include "features/mel_kernel_impl.hpp"

#include <cstdlib>

namespace sedenergy::features {

bool mel_kernel_supports(int n) { return n >= 16 && (n & (n - 1)) == 0; }

std::unique_ptr<MelKernel> make_mel_kernel_sse(int n) {
  if (!mel_kernel_supports(n)) return nullptr;
  return std::make_unique<lanes4::Kernel>(n, "simd-4");
}

std::unique_ptr<MelKernel> make_mel_kernel(int n) {
  const char* force = std::getenv("SEDENERGY_SIMD");
  if (!(force && std::string(force) == "sse")) {
    if (auto k = make_mel_kernel_avx2(n)) return k;
  }
  return make_mel_kernel_sse(n);
}

}  // namespace sedenergy::features
