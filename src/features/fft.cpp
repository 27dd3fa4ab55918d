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
  // Iterative radix-2 decimation in time, two stages per pass where possible: the pair of stages with
  // half-sizes h and 2h runs over blocks of 4h points in one sweep (the same arithmetic as two radix-2
  // passes, half the trips through memory).
  int h = 1;
  int stages = 0;
  for (int v = m_; v > 1; v >>= 1) ++stages;
  if (stages % 2) {
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
    const int s1 = m_ / (2 * h), s2 = m_ / (4 * h);  // twiddle strides of the two stages
    for (int base = 0; base < m_; base += 4 * h) {
      for (int j = 0; j < h; ++j) {
        const float w1r = tw_re_[j * s1], w1i = tw_im_[j * s1];
        const float w2r = tw_re_[j * s2], w2i = tw_im_[j * s2];
        const int a0 = base + j, a1 = a0 + h, a2 = a0 + 2 * h, a3 = a0 + 3 * h;
        // First stage: (x0, x1) and (x2, x3) with w1.
        const Vec t1r = re[a1] * w1r - im[a1] * w1i, t1i = re[a1] * w1i + im[a1] * w1r;
        const Vec t3r = re[a3] * w1r - im[a3] * w1i, t3i = re[a3] * w1i + im[a3] * w1r;
        const Vec y0r = re[a0] + t1r, y0i = im[a0] + t1i, y1r = re[a0] - t1r, y1i = im[a0] - t1i;
        const Vec y2r = re[a2] + t3r, y2i = im[a2] + t3i, y3r = re[a2] - t3r, y3i = im[a2] - t3i;
        // Second stage: (y0, y2) with w2 and (y1, y3) with -i w2.
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
