// Real FFTs of 4 frames at once: the frames sit in the 4 lanes of a SIMD vector, so every butterfly of
// a radix-2 FFT works on 4 frames with the same twiddle. Power-of-two sizes only (others use kissfft).
#pragma once
#include <vector>

namespace sedenergy::features {

class BatchedRealFft {
 public:
  static constexpr int kLanes = 4;
  typedef float Vec __attribute__((vector_size(16)));  // SSE: native on every x86-64

  explicit BatchedRealFft(int n);  // n: a power of two >= 16
  int size() const { return n_; }
  static bool supports(int n) { return n >= 16 && (n & (n - 1)) == 0; }

  // in: n vectors (sample i of lane l at in[i][l]); out: n/2 + 1 vectors of |X[k]|^2.
  // `scratch` must hold n vectors; one per thread.
  void power_spectrum(const Vec* in, Vec* out, Vec* scratch) const;

 private:
  int n_, m_;                       // m = n / 2, the complex FFT size
  std::vector<int> bitrev_;         // m entries
  std::vector<float> tw_re_, tw_im_;    // exp(-2 pi i j / m), j < m / 2
  std::vector<float> post_re_, post_im_;  // exp(-2 pi i k / n), k <= m
};

}  // namespace sedenergy::features
