#include "audio/audio_io.hpp"

#include <samplerate.h>
#include <sndfile.h>

#include <cmath>
#include <cstdint>
#include <array>
#include <cstring>
#include <iterator>
#include <fstream>
#include <filesystem>

#include "common/error.hpp"

namespace sedenergy::audio {
namespace {

std::uint32_t little_endian32(const unsigned char* b) {
  return b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
}

// A WAV whose data chunk declares more bytes than the file holds was cut short (a copy that stopped, a full
// disk): libsndfile would quietly read what is there. Returns "" for a whole file (or one that is not WAV).
std::string wav_truncation(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char head[12];
  if (!f.read(reinterpret_cast<char*>(head), 12) || std::memcmp(head, "RIFF", 4) != 0 || std::memcmp(head + 8, "WAVE", 4) != 0) {
    return "";
  }
  const auto size = std::filesystem::file_size(path);
  std::uint64_t pos = 12;
  unsigned block_align = 0;
  unsigned char chunk[8];
  while (f.read(reinterpret_cast<char*>(chunk), 8)) {
    const std::uint32_t n = little_endian32(chunk + 4);
    pos += 8;
    if (std::memcmp(chunk, "fmt ", 4) == 0 && n >= 14) {
      unsigned char fmt[14];
      if (!f.read(reinterpret_cast<char*>(fmt), 14)) return "";
      block_align = fmt[12] | (fmt[13] << 8);
      f.seekg(static_cast<std::streamoff>(n - 14 + (n & 1)), std::ios::cur);
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (n == 0xFFFFFFFFu || n == 0 || pos + n <= size) return "";  // whole, or a stream of unknown length
      const std::uint64_t present = size - pos;
      if (block_align == 0) return "truncated: its header declares " + std::to_string(n) + " data bytes, the file holds " + std::to_string(present);
      return "truncated: its header declares " + std::to_string(n / block_align) + " frames, the file holds " +
             std::to_string(present / block_align);
    } else {
      f.seekg(static_cast<std::streamoff>(n + (n & 1)), std::ios::cur);
    }
    pos += n + (n & 1);
  }
  return "";
}

// CRC-32 of an Ogg page (RFC 3533: polynomial 0x04c11db7, most significant bit first, initial 0, no final xor).
std::uint32_t ogg_crc(const unsigned char* p, std::size_t n) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t r = i << 24;
      for (int k = 0; k < 8; ++k) r = (r & 0x80000000u) ? (r << 1) ^ 0x04c11db7u : r << 1;
      t[i] = r;
    }
    return t;
  }();
  std::uint32_t crc = 0;
  for (std::size_t i = 0; i < n; ++i) crc = (crc << 8) ^ table[((crc >> 24) ^ p[i]) & 0xff];
  return crc;
}

// An Ogg file is a chain of pages, each whole and with a checksum over it, the last flagged end-of-stream
// (RFC 3533). libogg drops a page that fails its checksum and libsndfile then decodes around the hole, so a
// damaged or cut file would be read as if whole: each page is checked here. "" for a whole file (or not Ogg).
std::string ogg_damage(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4];
  if (!f.read(magic, 4) || std::memcmp(magic, "OggS", 4) != 0) return "";  // other formats: not read whole here
  f.seekg(0);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto* b = reinterpret_cast<unsigned char*>(bytes.data());
  std::size_t pos = 0;
  unsigned last_flags = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 27 || bytes.compare(pos, 4, "OggS") != 0) {
      return bytes.size() - pos < 27 ? "truncated: its last Ogg page is cut short"
                                     : "corrupt: no Ogg page where one should start (byte " + std::to_string(pos) + ")";
    }
    const std::size_t segments = b[pos + 26];
    std::size_t end = pos + 27 + segments;
    if (end > bytes.size()) return "truncated: its last Ogg page is cut short";
    for (std::size_t i = 0; i < segments; ++i) end += b[pos + 27 + i];
    if (end > bytes.size()) return "truncated: its last Ogg page is cut short";
    const std::uint32_t stored = little_endian32(b + pos + 22);
    std::memset(b + pos + 22, 0, 4);
    if (ogg_crc(b + pos, end - pos) != stored) {
      return "corrupt: the Ogg page at byte " + std::to_string(pos) + " fails its checksum";
    }
    last_flags = b[pos + 5];
    pos = end;
  }
  return (last_flags & 0x04) ? "" : "truncated: it ends without an end-of-stream page";
}

// Only regular files (or links to them) are opened: a FIFO or a device named .wav would block for ever.
void check_regular_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw file_error(path, 0, "audio file not found");
  if (!std::filesystem::is_regular_file(status)) {
    throw file_error(path, 0, "not a regular file (a FIFO, device or folder named like audio); not opened");
  }
}

// Decodes every frame libsndfile can, in blocks, without trusting the header's count for the allocation: a
// cut OGG can declare an absurd length. Any format whose header declares its length (WAV, FLAC's STREAMINFO,
// OGG's last granule) must decode to exactly that many frames: fewer means the file is cut short or corrupt.
std::vector<float> decode_all(SNDFILE* f, const SF_INFO& info, const std::string& path) {
  constexpr sf_count_t kBlockFrames = 65536;
  const bool declared = info.frames > 0 && info.frames != SF_COUNT_MAX;
  std::vector<float> interleaved;
  if (declared && info.frames <= (sf_count_t{1} << 26)) interleaved.reserve(static_cast<std::size_t>(info.frames) * info.channels);
  std::vector<float> block(static_cast<std::size_t>(kBlockFrames) * info.channels);
  sf_count_t got = 0;
  while (true) {
    const sf_count_t n = sf_readf_float(f, block.data(), kBlockFrames);
    if (n <= 0) break;
    interleaved.insert(interleaved.end(), block.begin(), block.begin() + n * info.channels);
    got += n;
  }
  const int err = sf_error(f);
  if (err != SF_ERR_NO_ERROR) {
    throw file_error(path, 0, "audio file is corrupt after frame " + std::to_string(got) + ": " + sf_error_number(err));
  }
  if (got <= 0) throw file_error(path, 0, "audio file is truncated (no frames could be decoded)");
  if (declared && got != info.frames) {
    throw file_error(path, 0, "audio file is truncated or corrupt: its header declares " + std::to_string(info.frames) +
                                  " frames, " + std::to_string(got) + " could be decoded");
  }
  return interleaved;
}

}  // namespace

Audio read_audio(const std::string& path, ChannelPolicy policy) {
  check_regular_file(path);
  for (const std::string& cut : {wav_truncation(path), ogg_damage(path)}) {
    if (!cut.empty()) throw file_error(path, 0, "audio file is " + cut);
  }
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) throw file_error(path, 0, std::string("cannot read audio: ") + sf_strerror(nullptr));
  if (info.frames <= 0 || info.channels <= 0) {
    sf_close(f);
    throw file_error(path, 0, "audio file holds no samples");
  }
  std::vector<float> interleaved;
  try {
    interleaved = decode_all(f, info, path);
  } catch (...) {
    sf_close(f);
    throw;
  }
  sf_close(f);
  const std::size_t got = interleaved.size() / static_cast<std::size_t>(info.channels);
  Audio a;
  a.sample_rate = info.samplerate;
  a.channels_in_file = info.channels;
  a.samples.resize(got);
  for (std::size_t i = 0; i < got; ++i) {
    const float* frame = &interleaved[i * info.channels];
    float v = frame[0];
    if (policy == ChannelPolicy::kMean) {
      double s = 0;
      for (int c = 0; c < info.channels; ++c) s += frame[c];
      v = static_cast<float>(s / info.channels);
    }
    if (!std::isfinite(v)) {
      throw file_error(path, 0, "audio holds a NaN or infinite sample at frame " + std::to_string(i));
    }
    a.samples[i] = v;
  }
  return a;
}

void write_audio(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  std::string ext = std::filesystem::path(path).extension().string();
  int major = SF_FORMAT_WAV;
  int sub = SF_FORMAT_PCM_16;
  if (ext == ".flac") {
    major = SF_FORMAT_FLAC;
  } else if (ext == ".ogg") {
    major = SF_FORMAT_OGG;
    sub = SF_FORMAT_VORBIS;
  } else if (ext != ".wav") {
    throw file_error(path, 0, "unsupported audio extension '" + ext + "' (use .wav, .flac or .ogg)");
  }
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = major | sub;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw file_error(path, 0, std::string("cannot write audio: ") + sf_strerror(nullptr));
  // Clip rather than wrap: 16-bit PCM cannot hold |x| > 1.
  int clip = SF_TRUE;
  sf_command(f, SFC_SET_CLIPPING, &clip, sizeof clip);
  sf_count_t n = static_cast<sf_count_t>(samples.size());
  sf_count_t wrote = sf_writef_float(f, samples.data(), n);
  sf_close(f);
  if (wrote != n) throw file_error(path, 0, "short write (disk full?)");
}

std::vector<float> resample(const std::vector<float>& in, int from_rate, int to_rate) {
  if (from_rate == to_rate || in.empty()) return in;
  if (from_rate <= 0 || to_rate <= 0) throw InputError("resample: sample rates must be positive");
  double ratio = static_cast<double>(to_rate) / from_rate;
  std::vector<float> out(static_cast<std::size_t>(std::ceil(in.size() * ratio)) + 16);
  SRC_DATA d{};
  d.data_in = in.data();
  d.input_frames = static_cast<long>(in.size());
  d.data_out = out.data();
  d.output_frames = static_cast<long>(out.size());
  d.src_ratio = ratio;
  d.end_of_input = 1;
  // Medium-quality sinc: ~120 dB SNR, several times faster than the best-quality converter.
  int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
  if (err) throw Error(std::string("resampling failed: ") + src_strerror(err));
  out.resize(static_cast<std::size_t>(d.output_frames_gen));
  return out;
}

void fit_length(std::vector<float>& samples, std::size_t length) { samples.resize(length, 0.0f); }

}  // namespace sedenergy::audio
