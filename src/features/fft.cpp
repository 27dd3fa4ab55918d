#include "features/fft.hpp"

#include <cmath>

#include "common/error.hpp"

namespace sedenergy::features {

BatchedRealFft::BatchedRealFft(int n) : n_(n), m_(n / 2) {
  if (!supports(n)) throw Error("BatchedRealFft: size must be a power of two >= 16");
  const double pi = 3.14159265358979323846;
  int bits = 0;
  while ((1 << bits) < m_) ++bits;
  bitrev_.resize(m_);
  for (int i = 0; i < m_; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitrev_[i] = r;
  }
  for (int j = 0; j < m_ / 2; ++j) {
    tw_re_.push_back(static_cast<float>(std::cos(-2 * pi * j / m_)));
    tw_im_.push_back(static_cast<float>(std::sin(-2 * pi * j / m_)));
  }
  for (int k = 0; k <= m_; ++k) {
    post_re_.push_back(static_cast<float>(std::cos(-2 * pi * k / n_)));
    post_im_.push_back(static_cast<float>(std::sin(-2 * pi * k / n_)));
  }
}

void BatchedRealFft::power_spectrum(const Vec* in, Vec* out, Vec* scratch) const {
  Vec* re = scratch;
  Vec* im = scratch + m_;
  // Pack pairs of real samples as complex numbers, in bit-reversed order.
  for (int i = 0; i < m_; ++i) {
    re[bitrev_[i]] = in[2 * i];
    im[bitrev_[i]] = in[2 * i + 1];
  }
  // Iterative radix-2 decimation in time.
  for (int len = 2; len <= m_; len <<= 1) {
    const int half = len / 2, stride = m_ / len;
    for (int s = 0; s < m_; s += len) {
      for (int j = 0; j < half; ++j) {
        const float wr = tw_re_[j * stride], wi = tw_im_[j * stride];
        const int a = s + j, b = a + half;
        const Vec tr = re[b] * wr - im[b] * wi;
        const Vec ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
  // Split the half-size complex spectrum into the real signal's spectrum:
  // X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[m-k]) / 2, O = -i (Z[k] - conj Z[m-k]) / 2.
  out[0] = (re[0] + im[0]) * (re[0] + im[0]);
  out[m_] = (re[0] - im[0]) * (re[0] - im[0]);
  for (int k = 1; k < m_; ++k) {
    const Vec ar = re[k], ai = im[k], br = re[m_ - k], bi = -im[m_ - k];
    const Vec er = (ar + br) * 0.5f, ei = (ai + bi) * 0.5f;
    const Vec dr = (ar - br) * 0.5f, di = (ai - bi) * 0.5f;
    const Vec orr = di, oi = -dr;  // O = -i * d
    const float wr = post_re_[k], wi = post_im_[k];
    const Vec xr = er + orr * wr - oi * wi;
    const Vec xi = ei + orr * wi + oi * wr;
    out[k] = xr * xr + xi * xi;
  }
}

}  // namespace sedenergy::features
