#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "audio/audio_io.hpp"
#include "data/synth.hpp"
#include "common/error.hpp"
#include "data/desed.hpp"
#include "test_util.hpp"

using namespace sedenergy;
namespace fs = std::filesystem;

namespace {
data::SynthOptions small() {
  data::SynthOptions o;
  o.clips = 6;
  o.sample_rate = 16000;
  o.seconds = 3.0;
  o.max_events = 3;
  o.seed = 42;
  o.threads = 2;
  return o;
}
double rms(const std::vector<float>& x, std::size_t a, std::size_t b) {
  double s = 0;
  for (std::size_t i = a; i < b; ++i) s += double(x[i]) * x[i];
  return std::sqrt(s / (b - a));
}
}  // namespace

TEST(Synth, WritesADesedFolderThatReadsBack) {
  auto dir = test::temp_dir();
  auto res = data::synthesize_dataset(dir.string(), small());
  ASSERT_EQ(res.clips.size(), 6u);
  auto paths = data::locate_train_set(dir.string());
  auto clips = data::load_clips(paths);  // checks every listed file exists
  ASSERT_EQ(clips.size(), 6u);
  auto durations = data::read_durations_tsv((dir / "metadata/train/durations.tsv").string());
  EXPECT_EQ(durations.size(), 6u);
  auto strong = data::read_strong_tsv(paths.strong_tsv);
  for (std::size_t i = 0; i < clips.size(); ++i) {
    EXPECT_EQ(clips[i].labels, res.clips[i].labels);
    auto a = audio::read_audio((fs::path(paths.audio_dir) / clips[i].filename).string());
    EXPECT_EQ(a.sample_rate, 16000);
    EXPECT_EQ(a.samples.size(), 48000u);
    float peak = 0;
    for (float v : a.samples) peak = std::max(peak, std::abs(v));
    EXPECT_GT(peak, 0.0f);
    EXPECT_LE(peak, 1.0f);
    for (const auto& e : res.clips[i].events) {
      EXPECT_GE(e.onset_s, 0.0);
      EXPECT_LE(e.offset_s, 3.0 + 1e-9);
      EXPECT_LT(e.onset_s, e.offset_s);
    }
  }
  EXPECT_TRUE(data::synthetic_dataset_matches(dir.string(), small()));
  auto other = small();
  other.seed = 43;
  EXPECT_FALSE(data::synthetic_dataset_matches(dir.string(), other));
}

TEST(Synth, DeterministicForASeedAndIndependentOfThreads) {
  auto o = small();
  data::Clip a, b;
  auto x = data::render_clip(o, 3, a);
  o.threads = 1;
  auto y = data::render_clip(o, 3, b);
  EXPECT_EQ(x, y);
  EXPECT_EQ(a.labels, b.labels);
  o.seed = 7;
  data::Clip c;
  EXPECT_NE(data::render_clip(o, 3, c), x);
}

TEST(Synth, EventsRaiseTheLevelWhereTheyAre) {
  auto o = small();
  o.min_events = 1;
  o.max_events = 1;
  o.snr_min_db = o.snr_max_db = 20.0;
  o.seconds = 10.0;
  for (int i = 0; i < 5; ++i) {
    data::Clip c;
    auto x = data::render_clip(o, i, c);
    ASSERT_EQ(c.events.size(), 1u);
    const auto& e = c.events[0];
    std::size_t a = std::size_t(e.onset_s * o.sample_rate), b = std::size_t(e.offset_s * o.sample_rate);
    double inside = rms(x, a, b);
    double outside = a > 8000 ? rms(x, 0, a) : rms(x, b, x.size());
    EXPECT_GT(inside, 3.0 * outside) << "event " << data::kClasses[e.label];
  }
}

TEST(Synth, EveryClassRendersFiniteDistinctSound) {
  std::vector<std::vector<float>> events;
  for (int label = 0; label < data::kNumClasses; ++label) {
    auto e = data::render_event(label, 1.0, 16000, 5);
    ASSERT_EQ(e.size(), 16000u);
    for (float v : e) ASSERT_TRUE(std::isfinite(v));
    EXPECT_NEAR(rms(e, 0, e.size()), 1.0, 1e-3);
    for (const auto& other : events) EXPECT_NE(other, e);
    events.push_back(e);
  }
}

TEST(Synth, NoOverlapOptionKeepsEventsApart) {
  auto o = small();
  o.allow_overlap = false;
  o.min_events = 3;
  o.max_events = 3;
  o.seconds = 20.0;
  for (int i = 0; i < 10; ++i) {
    data::Clip c;
    data::render_clip(o, i, c);
    for (std::size_t k = 1; k < c.events.size(); ++k) EXPECT_LE(c.events[k - 1].offset_s, c.events[k].onset_s);
  }
}

TEST(Synth, RejectsBadOptions) {
  auto dir = test::temp_dir();
  auto o = small();
  o.clips = 0;
  EXPECT_THROW(data::synthesize_dataset(dir.string(), o), InputError);
  o = small();
  o.extension = ".mp4";
  EXPECT_THROW(data::synthesize_dataset(dir.string(), o), InputError);
}

TEST(AudioIo, FlacAndOggRoundTripAndResample) {
  auto dir = test::temp_dir();
  std::vector<float> x(22050);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * std::sin(2 * M_PI * 440.0 * i / 22050.0);
  for (const char* ext : {".wav", ".flac", ".ogg"}) {
    auto p = (dir / (std::string("tone") + ext)).string();
    audio::write_audio(p, x, 22050);
    auto a = audio::read_audio(p);
    EXPECT_EQ(a.sample_rate, 22050);
    ASSERT_NEAR(double(a.samples.size()), 22050.0, 2048.0) << ext;
    double err = 0;
    for (std::size_t i = 1000; i < 20000; ++i) err = std::max(err, double(std::abs(a.samples[i] - x[i])));
    EXPECT_LT(err, std::string(ext) == ".ogg" ? 0.2 : 1e-3) << ext;
  }
  auto r = audio::resample(x, 22050, 16000);
  EXPECT_NEAR(double(r.size()), 16000.0, 2.0);
  double peak = 0;
  for (std::size_t i = 2000; i < 14000; ++i) peak = std::max(peak, double(std::abs(r[i])));
  EXPECT_NEAR(peak, 0.5, 0.01);
}

TEST(AudioIo, BadFilesGiveClearErrors) {
  auto dir = test::temp_dir();
  auto junk = dir / "junk.wav";
  test::write_text(junk, "RIFF....not really a wave file");
  EXPECT_THROW(audio::read_audio(junk.string()), InputError);
  auto empty = dir / "empty.wav";
  test::write_text(empty, "");
  EXPECT_THROW(audio::read_audio(empty.string()), InputError);
  EXPECT_THROW(audio::read_audio((dir / "missing.wav").string()), InputError);
  // A valid 32-bit float WAV holding a NaN sample, written byte by byte.
  {
    std::vector<float> x(100, 0.1f);
    x[50] = std::nanf("");
    auto le32 = [](std::string& s, uint32_t v) { for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xFF); };
    auto le16 = [](std::string& s, uint16_t v) { s += char(v & 0xFF); s += char(v >> 8); };
    std::string w = "RIFF";
    le32(w, 36 + 400);
    w += "WAVEfmt ";
    le32(w, 16);
    le16(w, 3);  // IEEE float
    le16(w, 1);
    le32(w, 16000);
    le32(w, 64000);
    le16(w, 4);
    le16(w, 32);
    w += "data";
    le32(w, 400);
    w.append(reinterpret_cast<const char*>(x.data()), 400);
    test::write_text(dir / "nan.wav", w);
    try {
      audio::read_audio((dir / "nan.wav").string());
      FAIL() << "NaN accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("nan.wav"), std::string::npos);
    }
  }
  // Truncate a real file: the reader reports it rather than crashing.
  auto wav = (dir / "cut.wav").string();
  audio::write_audio(wav, std::vector<float>(16000, 0.2f), 16000);
  std::filesystem::resize_file(wav, 30);
  EXPECT_THROW(audio::read_audio(wav), InputError);
  // Cut to 1000 bytes, or to half: the header's frame count says so (libsndfile alone reads what is left,
  // and the clip would be zero-padded into a silent half).
  for (const std::uintmax_t bytes : {std::uintmax_t{1000}, std::uintmax_t{16044}}) {
    audio::write_audio(wav, std::vector<float>(16000, 0.2f), 16000);
    const auto whole = std::filesystem::file_size(wav);
    std::filesystem::resize_file(wav, std::min(bytes, whole - 2));
    try {
      audio::read_audio(wav);
      FAIL() << "a WAV cut to " << bytes << " bytes was read";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("cut.wav"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated: its header declares 16000 frames, the file holds"),
                std::string::npos) << e.what();
    }
  }
  audio::write_audio(wav, std::vector<float>(16000, 0.2f), 16000);
  EXPECT_EQ(audio::read_audio(wav).samples.size(), 16000u);  // a whole file is read as before
}
