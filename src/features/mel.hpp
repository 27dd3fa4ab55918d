// STFT -> mel filterbank -> optional log, with the presets users compare against.
// References (docs/FACTS.md §1.1, §1.3, §3): torchaudio.transforms.MelSpectrogram (HTK scale, no norm,
// reflect padding) for the study's `paper` preset; librosa.feature.melspectrogram + power_to_db for
// `librosa`; the DCASE task 4 baseline for `dcase`.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace sedenergy::features {

enum class WindowKind { kHannPeriodic, kHannSymmetric, kHammingPeriodic, kHammingSymmetric };
enum class MelScale { kHtk, kSlaney };
enum class PadMode { kReflect, kConstant };

struct FeatureParams {
  std::string preset = "paper";
  int sample_rate = 44100;
  int n_fft = 2048;
  int win_length = 2048;
  int hop_length = 256;
  double f_min = 0.0;
  double f_max = 22050.0;
  int n_mels = 128;
  WindowKind window = WindowKind::kHammingSymmetric;
  double power = 1.0;  // 1: magnitude, 2: power
  MelScale mel_scale = MelScale::kHtk;
  bool slaney_norm = false;
  bool center = true;
  PadMode pad_mode = PadMode::kReflect;
  // Log scaling: off, or multiplier * log10(max(x, amin)) (10 for power, 20 for magnitude).
  bool log = false;
  double log_multiplier = 10.0;
  double amin = 1e-10;
  double top_db = 0.0;                 // 0: no floor relative to the maximum
  bool clamp = false;                  // clamp to [clamp_min, clamp_max] dB
  double clamp_min = -50.0, clamp_max = 80.0;
  bool minmax_scale = false;           // per-instance scaling to [0, 1] (DCASE baseline)
  // FFT, filterbank sums and log in float64 (librosa: numpy's FFT works in double) or float32 (torchaudio's
  // float32 path, the study's). float64 needs a power-of-two n_fft and takes about twice the time.
  bool fft_float64 = false;
  // Input handling.
  double clip_seconds = 10.0;          // zero-pad or crop to this length
  int max_frames = 64;                 // keep the first N frames; 0 keeps all
};

// Presets: "paper", "dcase", "librosa". Throws InputError for an unknown name.
FeatureParams preset(const std::string& name);
// Validates the parameters; throws InputError naming the bad one.
void validate(const FeatureParams& p);
// Human-readable summary used as cache key and in reports.
std::string describe(const FeatureParams& p);

// Number of frames for a signal of n samples.
int frame_count(const FeatureParams& p, std::size_t n_samples);

// Triangular mel filterbank, dense, shape [n_freqs][n_mels] as in torchaudio (exposed for tests).
std::vector<std::vector<double>> mel_filterbank(const FeatureParams& p);

// Precomputes the window, FFT plan and sparse filterbank once; compute() is thread-safe.
class MelExtractor {
 public:
  explicit MelExtractor(const FeatureParams& p);
  ~MelExtractor();
  MelExtractor(const MelExtractor&) = delete;
  MelExtractor& operator=(const MelExtractor&) = delete;

  const FeatureParams& params() const { return p_; }
  // Output shape [n_mels][frames] (row-major), frames = min(max_frames, frame_count) or all.
  std::vector<float> compute(const std::vector<float>& samples, int* frames_out = nullptr) const;
  int output_frames(std::size_t n_samples) const;
  // The code path in use: "avx2-8", "simd-4" or "kissfft" (sizes that are not powers of two).
  std::string kernel_name() const;

 private:
  struct Impl;
  FeatureParams p_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sedenergy::features
