// 8-lane float32 and 4-lane float64 builds of the mel kernel, compiled with -mavx2 -mfma; used only where
// the CPU has both.
#if defined(__AVX2__) && defined(__FMA__)
#define SEDENERGY_SIMD_NS lanes8
#define SEDENERGY_LANES 8
#include "features/mel_kernel_impl.hpp"
#undef SEDENERGY_SIMD_NS
#undef SEDENERGY_LANES

#define SEDENERGY_SIMD_NS lanes4_f64
#define SEDENERGY_LANES 4
#define SEDENERGY_FFT_DOUBLE 1
#include "features/mel_kernel_impl.hpp"

namespace sedenergy::features {

std::unique_ptr<MelKernel> make_mel_kernel_avx2(int n, bool float64) {
  if (!mel_kernel_supports(n) || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return nullptr;
  if (float64) return std::make_unique<lanes4_f64::Kernel>(n, "avx2-4-f64");
  return std::make_unique<lanes8::Kernel>(n, "avx2-8");
}

}  // namespace sedenergy::features
#else
#include "features/mel_kernel.hpp"

namespace sedenergy::features {
std::unique_ptr<MelKernel> make_mel_kernel_avx2(int, bool) { return nullptr; }
}  // namespace sedenergy::features
#endif
