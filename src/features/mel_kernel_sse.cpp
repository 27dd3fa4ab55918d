// 4-lane float32 and 2-lane float64 builds of the mel kernel (SSE2 on x86-64, NEON on Arm), and the
// run-time choice between builds.
#define SEDENERGY_SIMD_NS lanes4
#define SEDENERGY_LANES 4
#include "features/mel_kernel_impl.hpp"
#undef SEDENERGY_SIMD_NS
#undef SEDENERGY_LANES

#define SEDENERGY_SIMD_NS lanes2_f64
#define SEDENERGY_LANES 2
#define SEDENERGY_FFT_DOUBLE 1
#include "features/mel_kernel_impl.hpp"

#include <cstdlib>

namespace sedenergy::features {

bool mel_kernel_supports(int n) { return n >= 16 && (n & (n - 1)) == 0; }

std::unique_ptr<MelKernel> make_mel_kernel_sse(int n, bool float64) {
  if (!mel_kernel_supports(n)) return nullptr;
  if (float64) return std::make_unique<lanes2_f64::Kernel>(n, "simd-2-f64");
  return std::make_unique<lanes4::Kernel>(n, "simd-4");
}

std::unique_ptr<MelKernel> make_mel_kernel(int n, bool float64) {
  const char* force = std::getenv("SEDENERGY_SIMD");
  if (!(force && std::string(force) == "sse")) {
    if (auto k = make_mel_kernel_avx2(n, float64)) return k;
  }
  return make_mel_kernel_sse(n, float64);
}

}  // namespace sedenergy::features
