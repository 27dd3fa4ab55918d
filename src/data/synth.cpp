#include "data/synth.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "audio/audio_io.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace fs = std::filesystem;

namespace sedenergy::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
using Rng = std::mt19937_64;

double uniform(Rng& r, double a, double b) { return std::uniform_real_distribution<double>(a, b)(r); }
double gauss(Rng& r) { return std::normal_distribution<double>(0.0, 1.0)(r); }

// RBJ audio-EQ-cookbook biquad (direct form I).
class Biquad {
 public:
  static Biquad bandpass(double f, double q, int sr) { return make(f, q, sr, 0); }
  static Biquad lowpass(double f, double q, int sr) { return make(f, q, sr, 1); }
  static Biquad highpass(double f, double q, int sr) { return make(f, q, sr, 2); }
  double operator()(double x) {
    double y = b0_ * x + b1_ * x1_ + b2_ * x2_ - a1_ * y1_ - a2_ * y2_;
    x2_ = x1_;
    x1_ = x;
    y2_ = y1_;
    y1_ = y;
    return y;
  }

 private:
  static Biquad make(double f, double q, int sr, int kind) {
    f = std::min(f, 0.45 * sr);
    double w = 2 * kPi * f / sr, c = std::cos(w), alpha = std::sin(w) / (2 * q);
    double b0, b1, b2;
    if (kind == 0) {
      b0 = alpha, b1 = 0, b2 = -alpha;
    } else if (kind == 1) {
      b0 = (1 - c) / 2, b1 = 1 - c, b2 = (1 - c) / 2;
    } else {
      b0 = (1 + c) / 2, b1 = -(1 + c), b2 = (1 + c) / 2;
    }
    double a0 = 1 + alpha;
    Biquad bq;
    bq.b0_ = b0 / a0, bq.b1_ = b1 / a0, bq.b2_ = b2 / a0, bq.a1_ = -2 * c / a0, bq.a2_ = (1 - alpha) / a0;
    return bq;
  }
  double b0_ = 1, b1_ = 0, b2_ = 0, a1_ = 0, a2_ = 0, x1_ = 0, x2_ = 0, y1_ = 0, y2_ = 0;
};

// Raised-cosine fade in/out so events do not click.
void apply_fades(std::vector<double>& x, int sr, double fade_s = 0.01) {
  std::size_t n = std::min<std::size_t>(x.size() / 2, static_cast<std::size_t>(fade_s * sr));
  for (std::size_t i = 0; i < n; ++i) {
    double g = 0.5 - 0.5 * std::cos(kPi * i / n);
    x[i] *= g;
    x[x.size() - 1 - i] *= g;
  }
}

// Sum of harmonics 1..k of a phase, amplitude 1/k^tilt (odd_only for square-like tones).
double harmonics(double phase, int k, double tilt, bool odd_only = false) {
  double s = 0;
  for (int h = 1; h <= k; ++h) {
    if (odd_only && h % 2 == 0) continue;
    s += std::sin(h * phase) / std::pow(h, tilt);
  }
  return s;
}

// Smooth random modulation in [0, 1]: low-passed noise.
std::vector<double> slow_envelope(std::size_t n, int sr, double rate_hz, Rng& r) {
  std::vector<double> env(n);
  Biquad lp = Biquad::lowpass(rate_hz, 0.7, sr);
  double lo = 1e9, hi = -1e9;
  for (std::size_t i = 0; i < n; ++i) {
    env[i] = lp(gauss(r));
    lo = std::min(lo, env[i]);
    hi = std::max(hi, env[i]);
  }
  for (auto& v : env) v = hi > lo ? (v - lo) / (hi - lo) : 1.0;
  return env;
}

std::vector<double> bell(std::size_t n, int sr, Rng& r) {
  double f0 = uniform(r, 600, 1400), period = uniform(r, 0.05, 0.12);
  const double ratios[] = {1.0, 2.76, 5.40, 8.93}, amps[] = {1.0, 0.6, 0.4, 0.25};
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    double t = static_cast<double>(i) / sr, since = std::fmod(t, period);
    double env = std::exp(-since * 12.0) + 0.3;
    for (int p = 0; p < 4; ++p) x[i] += amps[p] * std::sin(2 * kPi * f0 * ratios[p] * t);
    x[i] *= env;
  }
  return x;
}

std::vector<double> motor(std::size_t n, int sr, Rng& r, double f_lo, double f_hi, bool square, double noise_f) {
  double f0 = uniform(r, f_lo, f_hi), phase = 0;
  Biquad bp = Biquad::bandpass(noise_f, 1.0, sr);
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    double t = static_cast<double>(i) / sr;
    double f = f0 * (1 + 0.02 * std::sin(2 * kPi * 0.7 * t));
    phase += 2 * kPi * f / sr;
    x[i] = 0.6 * harmonics(phase, square ? 15 : 20, 1.0, square) + 0.5 * bp(gauss(r));
  }
  return x;
}

std::vector<double> cat(std::size_t n, int sr, Rng& r) {
  double f0 = uniform(r, 450, 700), phase = 0, dur = static_cast<double>(n) / sr;
  Biquad formant = Biquad::bandpass(uniform(r, 1200, 2000), 2.0, sr);
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    double u = static_cast<double>(i) / n;
    double f = f0 * (1 + 0.5 * std::sin(kPi * u));
    phase += 2 * kPi * f / sr;
    double v = harmonics(phase, 8, 1.2);
    x[i] = (0.6 * v + 2.0 * formant(v)) * std::sin(kPi * u);
  }
  (void)dur;
  return x;
}

std::vector<double> clinks(std::size_t n, int sr, Rng& r, int count, double f_lo, double f_hi) {
  std::vector<double> x(n);
  for (int k = 0; k < count; ++k) {
    std::size_t start = static_cast<std::size_t>(uniform(r, 0, 0.85) * n);
    double f = uniform(r, f_lo, f_hi), decay = uniform(r, 25, 60), a = uniform(r, 0.5, 1.0);
    for (std::size_t i = start; i < n; ++i) {
      double t = static_cast<double>(i - start) / sr;
      double e = std::exp(-t * decay);
      if (e < 1e-4) break;
      x[i] += a * e * (std::sin(2 * kPi * f * t) + 0.5 * std::sin(2 * kPi * 2.3 * f * t));
    }
  }
  return x;
}

std::vector<double> dog(std::size_t n, int sr, Rng& r) {
  std::vector<double> x(n);
  double burst = uniform(r, 0.12, 0.22), gap = uniform(r, 0.15, 0.35);
  double f0 = uniform(r, 250, 500), fc = uniform(r, 500, 1100);
  Biquad bp = Biquad::bandpass(fc, 3.0, sr);
  double phase = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double t = static_cast<double>(i) / sr, within = std::fmod(t, burst + gap);
    if (within > burst) {
      bp(0.0);
      continue;
    }
    double u = within / burst, f = f0 * (1.3 - 0.6 * u);
    phase += 2 * kPi * f / sr;
    double env = std::sin(kPi * u) * std::exp(-2 * u);
    x[i] = env * (bp(gauss(r)) * 3.0 + 0.7 * harmonics(phase, 6, 1.0));
  }
  return x;
}

std::vector<double> frying(std::size_t n, int sr, Rng& r) {
  std::vector<double> x(n);
  Biquad hp = Biquad::highpass(3000, 0.7, sr), hp2 = Biquad::highpass(1500, 0.7, sr);
  double rate = uniform(r, 150, 400) / sr;
  for (std::size_t i = 0; i < n; ++i) {
    double crackle = uniform(r, 0, 1) < rate ? uniform(r, -1, 1) * 8.0 : 0.0;
    x[i] = hp(crackle) + 0.25 * hp2(gauss(r));
  }
  return x;
}

std::vector<double> water(std::size_t n, int sr, Rng& r) {
  std::vector<double> x(n);
  Biquad bp = Biquad::bandpass(uniform(r, 800, 2500), 0.7, sr);
  auto env = slow_envelope(n, sr, 6.0, r);
  for (std::size_t i = 0; i < n; ++i) x[i] = bp(gauss(r)) * (0.4 + 0.6 * env[i]);
  return x;
}

std::vector<double> speech(std::size_t n, int sr, Rng& r) {
  static const double vowels[][2] = {{730, 1090}, {270, 2290}, {300, 870}, {530, 1840}, {640, 1190}};
  std::vector<double> x(n);
  double f0 = uniform(r, 100, 220), phase = 0;
  std::size_t i = 0;
  while (i < n) {
    std::size_t syl = static_cast<std::size_t>(uniform(r, 0.12, 0.28) * sr);
    std::size_t pause = static_cast<std::size_t>(uniform(r, 0.02, 0.12) * sr);
    const double* v = vowels[std::uniform_int_distribution<int>(0, 4)(r)];
    Biquad f1 = Biquad::bandpass(v[0], 5.0, sr), f2 = Biquad::bandpass(v[1], 8.0, sr);
    for (std::size_t k = 0; k < syl && i < n; ++k, ++i) {
      double u = static_cast<double>(k) / syl;
      double f = f0 * (1 + 0.1 * std::sin(kPi * u)) * (1 + 0.01 * gauss(r));
      phase += 2 * kPi * f / sr;
      // Glottal pulse train: a sharp periodic wave rich in harmonics.
      double pulse = std::pow(0.5 + 0.5 * std::cos(phase), 8.0);
      x[i] = (f1(pulse) * 2.0 + f2(pulse)) * std::sin(kPi * u);
    }
    i += pause;
  }
  return x;
}

std::vector<double> vacuum(std::size_t n, int sr, Rng& r) {
  std::vector<double> x(n);
  Biquad lp = Biquad::lowpass(uniform(r, 3000, 6000), 0.7, sr);
  double hum = uniform(r, 150, 300), whine = uniform(r, 2000, 5000), ph = 0, pw = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ph += 2 * kPi * hum / sr;
    pw += 2 * kPi * whine / sr;
    x[i] = lp(gauss(r)) + 0.3 * harmonics(ph, 5, 1.0) + 0.15 * std::sin(pw);
  }
  return x;
}

// Typical event durations (s) per class, as [min, max].
constexpr double kDurations[data::kNumClasses][2] = {
    {1.0, 4.0}, {2.0, 6.0}, {0.5, 1.5}, {0.3, 2.0}, {0.4, 1.5},
    {2.0, 6.0}, {3.0, 9.0}, {2.0, 8.0}, {1.0, 4.0}, {3.0, 9.0}};

double rms(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return x.empty() ? 0 : std::sqrt(s / x.size());
}

std::vector<double> background(std::size_t n, Rng& r) {
  int colour = std::uniform_int_distribution<int>(0, 2)(r);  // white, pink, brown
  std::vector<double> x(n);
  double b0 = 0, b1 = 0, b2 = 0, brown = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double w = gauss(r);
    if (colour == 0) {
      x[i] = w;
    } else if (colour == 1) {
      // Paul Kellet's economy pink-noise filter.
      b0 = 0.99765 * b0 + w * 0.0990460;
      b1 = 0.96300 * b1 + w * 0.2965164;
      b2 = 0.57000 * b2 + w * 1.0526913;
      x[i] = b0 + b1 + b2 + w * 0.1848;
    } else {
      brown = 0.998 * brown + w * 0.05;
      x[i] = brown;
    }
  }
  double level = std::pow(10.0, uniform(r, -50, -30) / 20.0);
  double g = level / std::max(rms(x), 1e-12);
  for (auto& v : x) v *= g;
  return x;
}

std::uint64_t clip_seed(std::uint64_t seed, int index) {
  // SplitMix64 of (seed, index): independent streams per clip.
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(index) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

nlohmann::json options_json(const SynthOptions& o) {
  return {{"generator", "sedenergy-synth-1"}, {"clips", o.clips},     {"sample_rate", o.sample_rate},
          {"seconds", o.seconds},             {"min_events", o.min_events}, {"max_events", o.max_events},
          {"snr_min_db", o.snr_min_db},       {"snr_max_db", o.snr_max_db}, {"allow_overlap", o.allow_overlap},
          {"seed", o.seed},                   {"extension", o.extension}};
}

void validate(const SynthOptions& o) {
  if (o.clips <= 0) throw InputError("synth: --clips must be positive");
  if (o.sample_rate < 8000 || o.sample_rate > 192000) throw InputError("synth: --rate must be in [8000, 192000]");
  if (!(o.seconds > 0.5) || o.seconds > 600) throw InputError("synth: --seconds must be in (0.5, 600]");
  if (o.min_events < 0 || o.max_events < o.min_events) throw InputError("synth: need 0 <= min events <= max events");
  if (o.snr_max_db < o.snr_min_db) throw InputError("synth: --snr-max must be >= --snr-min");
  if (o.extension != ".wav" && o.extension != ".flac" && o.extension != ".ogg") {
    throw InputError("synth: --format must be wav, flac or ogg");
  }
}

}  // namespace

std::vector<float> render_event(int label, double seconds, int sr, std::uint64_t seed) {
  Rng r(seed);
  std::size_t n = std::max<std::size_t>(1, static_cast<std::size_t>(seconds * sr));
  std::vector<double> x;
  switch (label) {
    case 0: x = bell(n, sr, r); break;
    case 1: x = motor(n, sr, r, 80, 160, false, 2000); break;
    case 2: x = cat(n, sr, r); break;
    case 3: x = clinks(n, sr, r, std::max(2, static_cast<int>(seconds * 4)), 2000, 6000); break;
    case 4: x = dog(n, sr, r); break;
    case 5: x = motor(n, sr, r, 100, 250, true, 4000); break;
    case 6: x = frying(n, sr, r); break;
    case 7: x = water(n, sr, r); break;
    case 8: x = speech(n, sr, r); break;
    case 9: x = vacuum(n, sr, r); break;
    default: throw InputError("render_event: unknown class index " + std::to_string(label));
  }
  apply_fades(x, sr);
  double g = 1.0 / std::max(rms(x), 1e-12);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i] * g);
  return out;
}

std::vector<float> render_clip(const SynthOptions& opt, int index, data::Clip& clip) {
  Rng r(clip_seed(opt.seed, index));
  const int sr = opt.sample_rate;
  const std::size_t n = static_cast<std::size_t>(opt.seconds * sr);
  std::vector<double> mix = background(n, r);
  const double bg_rms = rms(mix);
  int count = std::uniform_int_distribution<int>(opt.min_events, opt.max_events)(r);
  clip.events.clear();
  clip.labels.clear();
  for (int k = 0; k < count; ++k) {
    int label = std::uniform_int_distribution<int>(0, data::kNumClasses - 1)(r);
    double dur = std::min(opt.seconds, uniform(r, kDurations[label][0], kDurations[label][1]));
    double onset = 0;
    bool placed = false;
    for (int attempt = 0; attempt < 20 && !placed; ++attempt) {
      onset = uniform(r, 0, opt.seconds - dur);
      placed = opt.allow_overlap;
      if (!placed) {
        placed = std::none_of(clip.events.begin(), clip.events.end(), [&](const data::StrongEvent& e) {
          return onset < e.offset_s && onset + dur > e.onset_s;
        });
      }
    }
    if (!placed) continue;
    double snr = uniform(r, opt.snr_min_db, opt.snr_max_db);
    auto ev = render_event(label, dur, sr, r());
    double g = bg_rms * std::pow(10.0, snr / 20.0);  // events are rendered at unit RMS
    std::size_t start = static_cast<std::size_t>(onset * sr);
    for (std::size_t i = 0; i < ev.size() && start + i < n; ++i) mix[start + i] += g * ev[i];
    clip.events.push_back({onset, onset + dur, label});
  }
  std::sort(clip.events.begin(), clip.events.end(),
            [](const auto& a, const auto& b) { return a.onset_s < b.onset_s; });
  for (const auto& e : clip.events) clip.labels.push_back(e.label);
  std::sort(clip.labels.begin(), clip.labels.end());
  clip.labels.erase(std::unique(clip.labels.begin(), clip.labels.end()), clip.labels.end());
  double peak = 0;
  for (double v : mix) peak = std::max(peak, std::abs(v));
  double g = peak > 0.95 ? 0.95 / peak : 1.0;
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(mix[i] * g);
  return out;
}

SynthResult synthesize_dataset(const std::string& root, const SynthOptions& opt,
                               const std::function<void(int, int)>& progress) {
  validate(opt);
  std::error_code ec;
  fs::create_directories(fs::path(root) / "audio/train/weak", ec);
  if (!ec) fs::create_directories(fs::path(root) / "metadata/train", ec);
  if (ec) throw InputError("synth: cannot create '" + root + "': " + ec.message());
  fs::remove(fs::path(root) / "synth.json", ec);  // an interrupted run must never look complete

  SynthResult res;
  res.root = root;
  res.paths.root = root;
  res.paths.audio_dir = (fs::path(root) / "audio/train/weak").string();
  res.paths.weak_tsv = (fs::path(root) / "metadata/train/weak.tsv").string();
  res.paths.strong_tsv = (fs::path(root) / "metadata/train/strong.tsv").string();
  res.clips.resize(opt.clips);

  std::atomic<int> next{0}, done{0};
  std::exception_ptr failure;
  std::mutex mu;
  auto worker = [&] {
    for (int i = next++; i < opt.clips; i = next++) {
      try {
        data::Clip& c = res.clips[i];
        char name[64];
        std::snprintf(name, sizeof name, "synth_%05d%s", i, opt.extension.c_str());
        c.filename = name;
        auto samples = render_clip(opt, i, c);
        audio::write_audio((fs::path(res.paths.audio_dir) / c.filename).string(), samples, opt.sample_rate);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
        return;
      }
      int d = ++done;
      if (progress) {
        std::lock_guard lock(mu);
        progress(d, opt.clips);
      }
    }
  };
  int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);

  data::write_weak_tsv(res.paths.weak_tsv, res.clips);
  data::write_strong_tsv(res.paths.strong_tsv, res.clips);
  std::vector<std::pair<std::string, double>> durations;
  for (const auto& c : res.clips) durations.emplace_back(c.filename, opt.seconds);
  data::write_durations_tsv((fs::path(root) / "metadata/train/durations.tsv").string(), durations);
  write_file((fs::path(root) / "synth.json").string(), options_json(opt).dump(2) + "\n");
  return res;
}

namespace {

// synth.json of `root`, or null where there is none or it does not parse.
nlohmann::json synth_record(const std::string& root) {
  std::ifstream in(fs::path(root) / "synth.json");
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

bool synthetic_dataset_matches(const std::string& root, const SynthOptions& opt) {
  const auto j = synth_record(root);
  return !j.is_null() && j == options_json(opt);
}

bool made_by_synth(const std::string& root) {
  const auto j = synth_record(root);
  return j.is_object() && j.value("generator", "").rfind("sedenergy-synth", 0) == 0;
}

}  // namespace sedenergy::data
