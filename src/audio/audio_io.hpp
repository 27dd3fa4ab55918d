// Reading and writing audio through libsndfile (WAV, FLAC, OGG/Vorbis, ...), resampling through
// libsamplerate.
#pragma once
#include <string>
#include <vector>

namespace sedenergy::audio {

enum class ChannelPolicy { kFirst, kMean };  // the study keeps the first channel

struct Audio {
  std::vector<float> samples;  // mono
  int sample_rate = 0;
  int channels_in_file = 0;
};

// Reads a file and reduces it to mono. Throws InputError naming the file when it cannot be read,
// is empty, or holds NaN/Inf samples.
Audio read_audio(const std::string& path, ChannelPolicy policy = ChannelPolicy::kFirst);

// Writes mono 16-bit PCM; the format follows the extension (.wav, .flac, .ogg).
void write_audio(const std::string& path, const std::vector<float>& samples, int sample_rate);

// Band-limited resampling (libsamplerate, SRC_SINC_MEDIUM_QUALITY: ~120 dB SNR).
std::vector<float> resample(const std::vector<float>& in, int from_rate, int to_rate);

// Zero-pads or crops (from the start) to exactly `length` samples.
void fit_length(std::vector<float>& samples, std::size_t length);

}  // namespace sedenergy::audio
