// The hot loop of mel extraction for power-of-two FFT sizes: frames are processed in groups whose members
// sit in the lanes of SIMD vectors, so each butterfly of the FFT and each filterbank product works on
// several frames at once. Two builds of the same code: 4 lanes (SSE, any x86-64 or NEON) and 8 lanes
// (AVX2 + FMA, chosen at run time when the CPU has them).
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace sedenergy::features {

struct MelKernelJob {
  const float* x = nullptr;  // signal
  long long n = 0;           // its length
  int frames = 0;
  int hop = 0;
  int pad = 0;               // samples of padding before the first frame (n_fft / 2 when centred)
  bool reflect = true;       // reflect or zero padding
  bool magnitude = true;     // |X| (power 1) or |X|^2 (power 2)
  const float* window = nullptr;                      // n_fft values
  const std::vector<int>* first_bin = nullptr;        // per mel band
  const std::vector<std::vector<float>>* weights = nullptr;
  float* out = nullptr;      // [n_mels][frames]
  // Optional log in the kernel: out = log_scale * log2(max(v, log_floor)), log_floor a normal float.
  bool log = false;
  float log_scale = 0, log_floor = 1e-10f;
};

class MelKernel {
 public:
  virtual ~MelKernel() = default;
  virtual void run(const MelKernelJob& job) const = 0;
  virtual int lanes() const = 0;
  virtual const char* name() const = 0;
};

// Sample i of a signal of n samples extended at both ends: reflected without repeating the edge sample
// (torchaudio's and librosa's "reflect"), or zeros.
inline float padded_sample(const float* x, long long n, long long i, bool reflect) {
  if (i >= 0 && i < n) return x[i];
  if (!reflect) return 0.0f;
  return i < 0 ? x[-i] : x[2 * (n - 1) - i];
}

bool mel_kernel_supports(int n_fft);  // powers of two >= 16
// `float64`: the FFT, filterbank sums and log in double (half the lanes), for references computed so.
std::unique_ptr<MelKernel> make_mel_kernel_sse(int n_fft, bool float64 = false);
// nullptr where not built or not supported
std::unique_ptr<MelKernel> make_mel_kernel_avx2(int n_fft, bool float64 = false);
// The fastest kernel this CPU runs (SEDENERGY_SIMD=sse forces the SSE build).
std::unique_ptr<MelKernel> make_mel_kernel(int n_fft, bool float64 = false);

}  // namespace sedenergy::features
