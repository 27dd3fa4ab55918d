// Included by mel_kernel_sse.cpp and mel_kernel_avx2.cpp with SEDENERGY_SIMD_NS and SEDENERGY_LANES
// defined (and SEDENERGY_FFT_DOUBLE for the float64 builds): each build gets its own namespace, so code
// compiled for different instruction sets or precisions never merges at link time. No include guard:
// a file includes it once per build.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "features/mel_kernel.hpp"

namespace sedenergy::features::SEDENERGY_SIMD_NS {

constexpr int L = SEDENERGY_LANES;
#if SEDENERGY_FFT_DOUBLE
typedef double Scalar;
#else
typedef float Scalar;
#endif
typedef Scalar Vec __attribute__((vector_size(sizeof(Scalar) * SEDENERGY_LANES)));

#if !SEDENERGY_FFT_DOUBLE
typedef int VecI __attribute__((vector_size(4 * SEDENERGY_LANES)));

// log2 of positive normal floats to ~1e-7, lane by lane without branches: exponent + atanh series of the
// mantissa brought into [sqrt(1/2), sqrt(2)).
inline Vec log2_vec(Vec x) {
  VecI bits = (VecI)x;
  VecI e = ((bits >> 23) & 0xFF) - 127;
  Vec m = (Vec)((bits & 0x007FFFFF) | 0x3F800000);
  const VecI big = m > 1.41421356f;  // -1 where true
  m = (Vec)(((VecI)m & ~big) | ((VecI)(m * 0.5f) & big));
  e -= big;
  const Vec t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const Vec series = 2.8853900817779268f +
                     t2 * (0.9617966939259756f + t2 * (0.5770780163555854f + t2 * (0.4121985831111324f +
                                                                                t2 * 0.3205988979753252f)));
  return __builtin_convertvector(e, Vec) + t * series;
}
#endif

// job.log_scale * log2(max(v, job.log_floor)) of each lane.
inline Vec log_lanes(Vec v, const MelKernelJob& job) {
#if SEDENERGY_FFT_DOUBLE
  for (int l = 0; l < L; ++l) v[l] = job.log_scale * std::log2(std::max(v[l], static_cast<Scalar>(job.log_floor)));
  return v;
#else
  const Vec floor_v = v * 0.0f + job.log_floor;
  return job.log_scale * log2_vec(v > floor_v ? v : floor_v);
#endif
}

class Kernel final : public MelKernel {
 public:
  explicit Kernel(int n, const char* name) : n_(n), m_(n / 2), name_(name) {
    const double pi = 3.14159265358979323846;
    int bits = 0;
    while ((1 << bits) < m_) ++bits;
    stages_ = bits;
    bitrev_.resize(m_);
    for (int i = 0; i < m_; ++i) {
      int r = 0;
      for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
      bitrev_[i] = r;
    }
    for (int j = 0; j < m_ / 2; ++j) {
      tw_re_.push_back(static_cast<Scalar>(std::cos(-2 * pi * j / m_)));
      tw_im_.push_back(static_cast<Scalar>(std::sin(-2 * pi * j / m_)));
    }
    for (int k = 0; k <= m_; ++k) {
      post_re_.push_back(static_cast<Scalar>(std::cos(-2 * pi * k / n_)));
      post_im_.push_back(static_cast<Scalar>(std::sin(-2 * pi * k / n_)));
    }
  }
  int lanes() const override { return L; }
  const char* name() const override { return name_; }

  void run(const MelKernelJob& job) const override {
    const int n_freqs = m_ + 1;
    std::vector<Vec> in(n_), spec(n_freqs), scratch(n_);
    Scalar* in_f = reinterpret_cast<Scalar*>(in.data());  // lane inserts through Vec subscripts are slow
    Scalar* spec_f = reinterpret_cast<Scalar*>(spec.data());
    const auto& first_bin = *job.first_bin;
    const auto& weights = *job.weights;
    const int n_mels = static_cast<int>(weights.size());
    for (int t0 = 0; t0 < job.frames; t0 += L) {
      const int lanes = std::min(L, job.frames - t0);
      const long long first = static_cast<long long>(t0) * job.hop - job.pad;
      const long long last = static_cast<long long>(t0 + lanes - 1) * job.hop - job.pad;
      if (lanes == L && first >= 0 && last + n_ <= job.n) {
        const float* src[L];
        for (int l = 0; l < L; ++l) src[l] = job.x + first + static_cast<long long>(l) * job.hop;
        for (int i = 0; i < n_; ++i) {
          const Scalar w = job.window[i];
          for (int l = 0; l < L; ++l) in_f[i * L + l] = static_cast<Scalar>(src[l][i]) * w;
        }
      } else {
        for (int l = 0; l < L; ++l) {
          const int t = t0 + std::min(l, lanes - 1);  // spare lanes repeat the last frame
          const long long start = static_cast<long long>(t) * job.hop - job.pad;
          for (int i = 0; i < n_; ++i) {
            in_f[i * L + l] = static_cast<Scalar>(padded_sample(job.x, job.n, start + i, job.reflect)) * job.window[i];
          }
        }
      }
      power_spectrum(in.data(), spec.data(), scratch.data());
      if (job.magnitude) {
        for (int i = 0; i < n_freqs * L; ++i) spec_f[i] = std::sqrt(spec_f[i]);
      }
      for (int m = 0; m < n_mels; ++m) {
        const auto& w = weights[m];
        const Vec* s = spec.data() + first_bin[m];
        Vec acc = {};
        for (std::size_t j = 0; j < w.size(); ++j) acc += w[j] * s[j];
        if (job.log) acc = log_lanes(acc, job);
        Scalar lane_out[L];
        std::memcpy(lane_out, &acc, sizeof lane_out);
        float* dst = job.out + static_cast<std::size_t>(m) * job.frames + t0;
        for (int l = 0; l < lanes; ++l) dst[l] = static_cast<float>(lane_out[l]);
      }
    }
  }

 private:
  // |X[k]|^2 of L real frames of n samples (in: n vectors), through one complex FFT of n / 2 points.
  void power_spectrum(const Vec* in, Vec* out, Vec* scratch) const {
    Vec* re = scratch;
    Vec* im = scratch + m_;
    for (int i = 0; i < m_; ++i) {
      re[bitrev_[i]] = in[2 * i];
      im[bitrev_[i]] = in[2 * i + 1];
    }
    // Radix-2 decimation in time, two stages per sweep where possible: stages of half-sizes h and 2h
    // run over blocks of 4h points at once (the same arithmetic, half the trips through memory).
    int h = 1;
    if (stages_ % 2) {
      for (int a = 0; a < m_; a += 2) {
        const Vec tr = re[a + 1], ti = im[a + 1];
        re[a + 1] = re[a] - tr;
        im[a + 1] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
      h = 2;
    }
    for (; h < m_; h *= 4) {
      const int s1 = m_ / (2 * h), s2 = m_ / (4 * h);
      for (int base = 0; base < m_; base += 4 * h) {
        for (int j = 0; j < h; ++j) {
          const Scalar w1r = tw_re_[j * s1], w1i = tw_im_[j * s1];
          const Scalar w2r = tw_re_[j * s2], w2i = tw_im_[j * s2];
          const int a0 = base + j, a1 = a0 + h, a2 = a0 + 2 * h, a3 = a0 + 3 * h;
          const Vec t1r = re[a1] * w1r - im[a1] * w1i, t1i = re[a1] * w1i + im[a1] * w1r;
          const Vec t3r = re[a3] * w1r - im[a3] * w1i, t3i = re[a3] * w1i + im[a3] * w1r;
          const Vec y0r = re[a0] + t1r, y0i = im[a0] + t1i, y1r = re[a0] - t1r, y1i = im[a0] - t1i;
          const Vec y2r = re[a2] + t3r, y2i = im[a2] + t3i, y3r = re[a2] - t3r, y3i = im[a2] - t3i;
          const Vec u2r = y2r * w2r - y2i * w2i, u2i = y2r * w2i + y2i * w2r;
          const Vec u3r = y3r * w2r - y3i * w2i, u3i = y3r * w2i + y3i * w2r;
          re[a0] = y0r + u2r;
          im[a0] = y0i + u2i;
          re[a2] = y0r - u2r;
          im[a2] = y0i - u2i;
          re[a1] = y1r + u3i;  // y1 - i u3
          im[a1] = y1i - u3r;
          re[a3] = y1r - u3i;  // y1 + i u3
          im[a3] = y1i + u3r;
        }
      }
    }
    // The real signal's spectrum from the half-size complex one:
    // X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[m-k]) / 2, O = -i (Z[k] - conj Z[m-k]) / 2.
    out[0] = (re[0] + im[0]) * (re[0] + im[0]);
    out[m_] = (re[0] - im[0]) * (re[0] - im[0]);
    for (int k = 1; k < m_; ++k) {
      const Vec ar = re[k], ai = im[k], br = re[m_ - k], bi = -im[m_ - k];
      const Scalar half = 0.5;
      const Vec er = (ar + br) * half, ei = (ai + bi) * half;
      const Vec dr = (ar - br) * half, di = (ai - bi) * half;
      const Scalar wr = post_re_[k], wi = post_im_[k];
      const Vec xr = er + di * wr + dr * wi;  // O = -i d = (di, -dr)
      const Vec xi = ei + di * wi - dr * wr;
      out[k] = xr * xr + xi * xi;
    }
  }

  int n_, m_, stages_ = 0;
  const char* name_;
  std::vector<int> bitrev_;
  std::vector<Scalar> tw_re_, tw_im_, post_re_, post_im_;
};

}  // namespace sedenergy::features::SEDENERGY_SIMD_NS
