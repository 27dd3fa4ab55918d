#include "features/mel.hpp"

#include <kiss_fftr.h>

#include "features/mel_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy::features {
namespace {

constexpr double kPi = 3.14159265358979323846;

double hz_to_mel(double f, MelScale s) {
  if (s == MelScale::kHtk) return 2595.0 * std::log10(1.0 + f / 700.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return f < min_log_hz ? f / f_sp : min_log_mel + std::log(f / min_log_hz) / logstep;
}

double mel_to_hz(double m, MelScale s) {
  if (s == MelScale::kHtk) return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0);
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return m < min_log_mel ? f_sp * m : min_log_hz * std::exp(logstep * (m - min_log_mel));
}

std::vector<double> make_window(const FeatureParams& p) {
  const int n = p.win_length;
  const bool periodic = p.window == WindowKind::kHannPeriodic || p.window == WindowKind::kHammingPeriodic;
  const bool hann = p.window == WindowKind::kHannPeriodic || p.window == WindowKind::kHannSymmetric;
  const double denom = periodic ? n : std::max(1, n - 1);
  std::vector<double> w(p.n_fft, 0.0);
  const int offset = (p.n_fft - n) / 2;  // a shorter window is centred in the FFT frame
  for (int i = 0; i < n; ++i) {
    double c = std::cos(2.0 * kPi * i / denom);
    w[offset + i] = hann ? 0.5 - 0.5 * c : 0.54 - 0.46 * c;
  }
  return w;
}

}  // namespace

FeatureParams preset(const std::string& name) {
  FeatureParams p;
  p.preset = name;
  if (name == "paper") return p;  // defaults are the study's settings
  if (name == "dcase") {
    p.sample_rate = 16000;
    p.f_max = 8000;
    p.log = true;
    p.log_multiplier = 20.0;
    p.amin = 1e-5;
    p.clamp = true;
    p.minmax_scale = true;
    p.max_frames = 0;
    return p;
  }
  if (name == "librosa") {
    p.sample_rate = 16000;
    p.f_max = 8000;
    p.window = WindowKind::kHannPeriodic;
    p.power = 2.0;
    p.mel_scale = MelScale::kSlaney;
    p.slaney_norm = true;
    p.pad_mode = PadMode::kConstant;
    p.log = true;
    p.log_multiplier = 10.0;
    p.amin = 1e-10;
    p.top_db = 80.0;
    p.max_frames = 0;
    // Quiet bins ~80 dB below a frame's peak differ from a float64 reference by up to 2e-3 dB in float32.
    p.fft_float64 = true;
    return p;
  }
  throw InputError("unknown feature preset '" + name + "' (known: paper, dcase, librosa)");
}

namespace {
// A mel band narrower than the FFT's bin spacing holds no bin: its feature is zero for every input (torchaudio
// only warns). Refused, naming the band and what to change.
void check_no_empty_band(const FeatureParams& p) {
  const auto fb = mel_filterbank(p);
  for (int m = 0; m < p.n_mels; ++m) {
    bool any = false;
    for (const auto& bin : fb) any = any || bin[m] > 0;
    if (any) continue;
    const double bin_hz = static_cast<double>(p.sample_rate / 2) / (p.n_fft / 2);
    throw InputError("features: mel band " + std::to_string(m) + " of " + std::to_string(p.n_mels) + " between --fmin " +
                     format_number(p.f_min) + " and --fmax " + format_number(p.f_max) + " Hz holds no FFT bin (bins are " +
                     format_number(bin_hz) + " Hz apart): widen the range, use fewer --mels or a larger --n-fft");
  }
}
}  // namespace

void validate(const FeatureParams& p) {
  if (p.sample_rate <= 0) throw InputError("features: sample rate must be positive");
  if (p.n_fft < 16 || p.n_fft % 2) throw InputError("features: n_fft must be even and >= 16");
  if (p.win_length <= 0 || p.win_length > p.n_fft) throw InputError("features: win_length must be in [1, n_fft]");
  if (p.hop_length <= 0) throw InputError("features: hop length must be positive");
  if (p.n_mels <= 0) throw InputError("features: n_mels must be positive");
  if (p.f_min < 0 || p.f_max <= p.f_min || p.f_max > p.sample_rate / 2.0 + 1e-9) {
    throw InputError("features: need 0 <= f_min < f_max <= sample_rate / 2");
  }
  if (p.power != 1.0 && p.power != 2.0) throw InputError("features: power must be 1 or 2");
  if (!(p.clip_seconds > 0)) throw InputError("features: clip length must be positive");
  if (p.max_frames < 0) throw InputError("features: frames must be >= 0");
  if (p.log && !(p.amin > 0)) throw InputError("features: amin must be positive");
  check_no_empty_band(p);
  if (p.fft_float64 && !mel_kernel_supports(p.n_fft)) {
    throw InputError("features: a float64 FFT needs a power-of-two n_fft (got " + std::to_string(p.n_fft) +
                     "); use --fft-precision float32 or another --n-fft");
  }
}

std::string describe(const FeatureParams& p) {
  static const char* windows[] = {"hann-periodic", "hann-symmetric", "hamming-periodic", "hamming-symmetric"};
  std::ostringstream s;
  s << "preset=" << p.preset << " sr=" << p.sample_rate << " n_fft=" << p.n_fft << " win=" << p.win_length
    << " hop=" << p.hop_length << " fmin=" << p.f_min << " fmax=" << p.f_max << " mels=" << p.n_mels
    << " window=" << windows[static_cast<int>(p.window)] << " power=" << p.power
    << " scale=" << (p.mel_scale == MelScale::kHtk ? "htk" : "slaney") << " norm=" << (p.slaney_norm ? "slaney" : "none")
    << " center=" << p.center << " pad=" << (p.pad_mode == PadMode::kReflect ? "reflect" : "constant");
  if (p.log) {
    s << " log=" << p.log_multiplier << "log10 amin=" << p.amin << " top_db=" << p.top_db;
    if (p.clamp) s << " clamp=[" << p.clamp_min << "," << p.clamp_max << "]";
  } else {
    s << " log=none";
  }
  s << " minmax=" << p.minmax_scale << " seconds=" << p.clip_seconds << " frames=" << p.max_frames;
  if (p.fft_float64) s << " fft=float64";  // absent: float32, as every description before it existed
  return s.str();
}

int frame_count(const FeatureParams& p, std::size_t n) {
  if (p.center) return 1 + static_cast<int>(n / p.hop_length);
  if (n < static_cast<std::size_t>(p.n_fft)) return 0;
  return 1 + static_cast<int>((n - p.n_fft) / p.hop_length);
}

std::vector<std::vector<double>> mel_filterbank(const FeatureParams& p) {
  const int n_freqs = p.n_fft / 2 + 1;
  // torchaudio spaces the bins over [0, sample_rate // 2].
  const double nyquist = static_cast<double>(p.sample_rate / 2);
  std::vector<double> freqs(n_freqs);
  for (int i = 0; i < n_freqs; ++i) freqs[i] = nyquist * i / (n_freqs - 1);
  const double m_min = hz_to_mel(p.f_min, p.mel_scale), m_max = hz_to_mel(p.f_max, p.mel_scale);
  std::vector<double> f_pts(p.n_mels + 2);
  for (int i = 0; i < p.n_mels + 2; ++i) {
    f_pts[i] = mel_to_hz(m_min + (m_max - m_min) * i / (p.n_mels + 1), p.mel_scale);
  }
  std::vector<std::vector<double>> fb(n_freqs, std::vector<double>(p.n_mels, 0.0));
  for (int m = 0; m < p.n_mels; ++m) {
    const double lo = f_pts[m], mid = f_pts[m + 1], hi = f_pts[m + 2];
    const double norm = p.slaney_norm ? 2.0 / (hi - lo) : 1.0;
    for (int k = 0; k < n_freqs; ++k) {
      double down = (freqs[k] - lo) / (mid - lo);
      double up = (hi - freqs[k]) / (hi - mid);
      fb[k][m] = std::max(0.0, std::min(down, up)) * norm;
    }
  }
  return fb;
}

struct MelExtractor::Impl {
  std::vector<float> window;
  std::unique_ptr<MelKernel> kernel;  // power-of-two n_fft: several frames per FFT pass (SIMD lanes)
  // Sparse filterbank: for each mel band, the first bin and its weights.
  std::vector<int> first_bin;
  std::vector<std::vector<float>> weights;
};

namespace {
// kiss_fftr keeps a scratch buffer inside its plan, so a plan must never be shared between threads:
// each compute() call owns one (planning a 2048-point FFT costs tens of microseconds).
struct FftPlan {
  explicit FftPlan(int n) : cfg(kiss_fftr_alloc(n, 0, nullptr, nullptr)) {
    if (!cfg) throw Error("kissfft: cannot plan a real FFT of size " + std::to_string(n));
  }
  ~FftPlan() { kiss_fftr_free(cfg); }
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;
  kiss_fftr_cfg cfg;
};
}  // namespace

MelExtractor::MelExtractor(const FeatureParams& p) : p_(p), impl_(std::make_unique<Impl>()) {
  validate(p_);
  auto w = make_window(p_);
  impl_->window.assign(w.begin(), w.end());
  FftPlan check(p_.n_fft);  // fail at construction, not in a worker thread
  impl_->kernel = make_mel_kernel(p_.n_fft, p_.fft_float64);
  auto fb = mel_filterbank(p_);
  const int n_freqs = p_.n_fft / 2 + 1;
  impl_->first_bin.assign(p_.n_mels, 0);
  impl_->weights.assign(p_.n_mels, {});
  for (int m = 0; m < p_.n_mels; ++m) {
    int lo = n_freqs, hi = -1;
    for (int k = 0; k < n_freqs; ++k) {
      if (fb[k][m] != 0.0) {
        lo = std::min(lo, k);
        hi = k;
      }
    }
    if (hi < 0) continue;  // an empty band (too many mels for n_fft) stays zero, as in the references
    impl_->first_bin[m] = lo;
    for (int k = lo; k <= hi; ++k) impl_->weights[m].push_back(static_cast<float>(fb[k][m]));
  }
}

MelExtractor::~MelExtractor() = default;

std::string MelExtractor::kernel_name() const { return impl_->kernel ? impl_->kernel->name() : "kissfft"; }

int MelExtractor::output_frames(std::size_t n_samples) const {
  int total = frame_count(p_, n_samples);
  return p_.max_frames > 0 ? std::min(total, p_.max_frames) : total;
}

std::vector<float> MelExtractor::compute(const std::vector<float>& x, int* frames_out) const {
  const int n_fft = p_.n_fft, n_freqs = n_fft / 2 + 1, pad = p_.center ? n_fft / 2 : 0;
  const long long n = static_cast<long long>(x.size());
  if (p_.center && p_.pad_mode == PadMode::kReflect && n <= pad) {
    throw InputError("features: signal of " + std::to_string(n) + " samples is too short for reflect padding");
  }
  const int frames = output_frames(x.size());
  if (frames_out) *frames_out = frames;
  std::vector<float> out(static_cast<std::size_t>(p_.n_mels) * frames, 0.0f);
  const bool reflect = p_.pad_mode == PadMode::kReflect;
  // The floor inside the log also keeps denormals out of the kernels' bit-level log2.
  const float log_floor = std::max(static_cast<float>(p_.amin), std::numeric_limits<float>::min());
  if (impl_->kernel) {
    MelKernelJob job;
    job.x = x.data();
    job.n = n;
    job.frames = frames;
    job.hop = p_.hop_length;
    job.pad = pad;
    job.reflect = reflect;
    job.magnitude = p_.power == 1.0;
    job.window = impl_->window.data();
    job.first_bin = &impl_->first_bin;
    job.weights = &impl_->weights;
    job.out = out.data();
    job.log = p_.log;
    job.log_floor = log_floor;
    job.log_scale = static_cast<float>(p_.log_multiplier * std::log10(2.0));
    impl_->kernel->run(job);
  } else {
    FftPlan plan(n_fft);
    std::vector<float> buf(n_fft), mag(n_freqs);
    std::vector<kiss_fft_cpx> spec(n_freqs);
    for (int t = 0; t < frames; ++t) {
      long long start = static_cast<long long>(t) * p_.hop_length - pad;
      for (int i = 0; i < n_fft; ++i) buf[i] = padded_sample(x.data(), n, start + i, reflect) * impl_->window[i];
      kiss_fftr(plan.cfg, buf.data(), spec.data());
      for (int k = 0; k < n_freqs; ++k) {
        float pw = spec[k].r * spec[k].r + spec[k].i * spec[k].i;
        mag[k] = p_.power == 2.0 ? pw : std::sqrt(pw);
      }
      for (int m = 0; m < p_.n_mels; ++m) {
        const auto& w = impl_->weights[m];
        const float* s = mag.data() + impl_->first_bin[m];
        float acc = 0.0f;
        for (std::size_t j = 0; j < w.size(); ++j) acc += w[j] * s[j];
        out[static_cast<std::size_t>(m) * frames + t] = acc;
      }
    }
  }
  if (p_.log) {
    if (!impl_->kernel) {
      // multiplier * log10(max(v, amin)); the SIMD kernels already did this step.
      for (auto& v : out) v = static_cast<float>(p_.log_multiplier * std::log10(static_cast<double>(std::max(v, log_floor))));
    }
    float peak = -INFINITY;
    for (float v : out) peak = std::max(peak, v);
    for (auto& v : out) {
      if (p_.top_db > 0) v = std::max(v, static_cast<float>(peak - p_.top_db));
      if (p_.clamp) v = std::clamp(v, static_cast<float>(p_.clamp_min), static_cast<float>(p_.clamp_max));
    }
  }
  if (p_.minmax_scale && !out.empty()) {
    auto [lo, hi] = std::minmax_element(out.begin(), out.end());
    float a = *lo, range = *hi - *lo;
    for (auto& v : out) v = range > 0 ? (v - a) / range : 0.0f;
  }
  return out;
}

}  // namespace sedenergy::features
