#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "audio/audio_io.hpp"
#include "data/synth.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "data/dataset.hpp"
#include "data/feature_cache.hpp"
#include "test_util.hpp"

using namespace sedenergy;
namespace fs = std::filesystem;

namespace {

data::DatasetPaths small_dataset(const fs::path& dir, int clips = 4, double seconds = 2.0) {
  data::SynthOptions o;
  o.clips = clips;
  o.seconds = seconds;
  o.sample_rate = 16000;
  o.threads = 2;
  data::synthesize_dataset(dir.string(), o);
  return data::locate_train_set(dir.string());
}

features::FeatureParams small_params() {
  auto p = features::preset("paper");
  p.sample_rate = 16000;
  p.f_max = 8000;
  p.clip_seconds = 2.0;
  p.max_frames = 0;
  return p;
}

// A 16-bit stereo WAV written byte by byte: left = a, right = b.
void write_stereo(const fs::path& path, const std::vector<float>& a, const std::vector<float>& b, int rate) {
  auto le32 = [](std::string& s, uint32_t v) { for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xFF); };
  auto le16 = [](std::string& s, uint16_t v) { s += char(v & 0xFF); s += char(v >> 8); };
  const uint32_t bytes = static_cast<uint32_t>(a.size() * 4);
  std::string w = "RIFF";
  le32(w, 36 + bytes);
  w += "WAVEfmt ";
  le32(w, 16);
  le16(w, 1);
  le16(w, 2);
  le32(w, rate);
  le32(w, rate * 4);
  le16(w, 4);
  le16(w, 16);
  w += "data";
  le32(w, bytes);
  for (std::size_t i = 0; i < a.size(); ++i) {
    le16(w, static_cast<uint16_t>(static_cast<int16_t>(a[i] * 32767)));
    le16(w, static_cast<uint16_t>(static_cast<int16_t>(b[i] * 32767)));
  }
  test::write_text(path, w);
}

}  // namespace

TEST(Dataset, ChannelPolicyFirstOrMean) {
  auto dir = test::temp_dir();
  write_stereo(dir / "s.wav", std::vector<float>(100, 0.5f), std::vector<float>(100, -0.25f), 16000);
  auto first = audio::read_audio((dir / "s.wav").string(), audio::ChannelPolicy::kFirst);
  auto mean = audio::read_audio((dir / "s.wav").string(), audio::ChannelPolicy::kMean);
  EXPECT_EQ(first.channels_in_file, 2);
  EXPECT_NEAR(first.samples[10], 0.5, 1e-3);
  EXPECT_NEAR(mean.samples[10], 0.125, 1e-3);
}

TEST(Dataset, PadShortClipsAndCropLongOnesAtStartOrRandomly) {
  auto dir = test::temp_dir();
  std::vector<float> ramp(32000);
  for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = float(i) / 40000.0f;
  audio::write_audio((dir / "long.flac").string(), ramp, 16000);
  auto p = small_params();
  p.clip_seconds = 1.0;
  data::ExtractOptions opt;
  auto start = data::load_clip_audio((dir / "long.flac").string(), p, opt, 0);
  ASSERT_EQ(start.size(), 16000u);
  EXPECT_NEAR(start[0], 0.0, 1e-4);
  opt.crop = data::Crop::kRandom;
  opt.seed = 5;
  auto r1 = data::load_clip_audio((dir / "long.flac").string(), p, opt, 3);
  auto r2 = data::load_clip_audio((dir / "long.flac").string(), p, opt, 3);
  auto r3 = data::load_clip_audio((dir / "long.flac").string(), p, opt, 4);
  EXPECT_EQ(r1, r2);  // deterministic for a seed and clip
  EXPECT_NE(r1, r3);  // another clip, another offset
  EXPECT_GT(r1[0], 0.0f);
  p.clip_seconds = 3.0;  // longer than the file: zero-padded
  auto padded = data::load_clip_audio((dir / "long.flac").string(), p, data::ExtractOptions{}, 0);
  ASSERT_EQ(padded.size(), 48000u);
  EXPECT_EQ(padded[47999], 0.0f);
}

TEST(Dataset, ResamplesAnyRateToThePresetRate) {
  auto dir = test::temp_dir();
  std::vector<float> tone(44100);
  for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * std::sin(2 * M_PI * 1000.0 * i / 44100.0);
  audio::write_audio((dir / "t.wav").string(), tone, 44100);
  auto p = small_params();
  p.clip_seconds = 1.0;
  auto x = data::load_clip_audio((dir / "t.wav").string(), p, {}, 0);
  ASSERT_EQ(x.size(), 16000u);
  // 1 kHz at 16 kHz: 16 samples per period.
  for (int i = 1000; i < 1100; ++i) EXPECT_NEAR(x[i], 0.5f * std::sin(2 * M_PI * 1000.0 * i / 16000.0), 0.02);
}

TEST(Dataset, UnlistedAndMissingAudioStopOrAreSkipped) {
  auto dir = test::temp_dir();
  auto paths = small_dataset(dir);
  audio::write_audio((dir / "audio/train/weak/extra.wav").string(), std::vector<float>(1600, 0.1f), 16000);
  try {
    data::load_clips(paths);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("does not list audio file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("extra.wav"), std::string::npos);
  }
  fs::remove(dir / "audio/train/weak/synth_00001.wav");
  std::vector<std::string> problems;
  auto clips = data::load_clips(paths, data::OnError::kSkip, &problems);
  EXPECT_EQ(clips.size(), 3u);
  ASSERT_EQ(problems.size(), 2u);
  std::set<std::string> text(problems.begin(), problems.end());
  bool missing = false, unlisted = false;
  for (const auto& t : text) {
    missing |= t.find("synth_00001.wav") != std::string::npos && t.find("missing") != std::string::npos;
    unlisted |= t.find("extra.wav") != std::string::npos;
  }
  EXPECT_TRUE(missing);
  EXPECT_TRUE(unlisted);
}

// Issue 18: --on-error skip leaves out clips whose TSV rows cannot be read (unknown class, a clip listed
// twice, bad times), counted and named; stop mode names the file and line.
TEST(Dataset, UnreadableTsvRowsStopOrTheirClipsAreSkipped) {
  auto dir = test::temp_dir();
  auto paths = small_dataset(dir, 6);
  const auto weak = test::read_text(paths.weak_tsv);
  auto lines = split(weak, '\n');  // header, synth_00000 ... synth_00005, ""
  const auto name = [&](int i) { return split(lines[i + 1], '\t')[0]; };
  test::write_text(paths.weak_tsv, lines[0] + "\n" + lines[1] + "\n" + name(1) + "\tUnicorn\n" + lines[3] + "\n" +
                                       lines[3] + "\n" + lines[4] + "\n" + lines[5] + "\n" + lines[6] + "\n");
  test::write_text(paths.strong_tsv, "filename\tonset\toffset\tevent_label\n" + name(3) + "\t1\tnan\tDog\n" + name(4) +
                                         "\t0.5\t1.5\tCat\n");
  try {
    data::load_clips(paths);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("weak.tsv:3: unknown class 'Unicorn'"), std::string::npos) << e.what();
  }
  std::vector<std::string> problems;
  auto clips = data::load_clips(paths, data::OnError::kSkip, &problems);
  std::vector<std::string> kept;
  for (const auto& c : clips) kept.push_back(c.filename);
  // 1: unknown class; 2: listed twice (both rows say something of it); 3: an event ending at nan.
  EXPECT_EQ(kept, (std::vector<std::string>{name(0), name(4), name(5)}));
  ASSERT_EQ(problems.size(), 3u) << join(problems, "\n");  // their audio is listed, not "unlisted"
  EXPECT_NE(problems[0].find("weak.tsv:3: unknown class 'Unicorn'"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("weak.tsv:5: clip '" + name(2) + "' listed twice"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("strong.tsv:2: offset 'nan' is not a finite number"), std::string::npos) << problems[2];
  EXPECT_EQ(clips[1].events.size(), 1u);  // strong events still reach the clips that are kept
}

TEST(Dataset, SeededHoldoutSplit) {
  std::vector<data::Clip> clips;
  for (int i = 0; i < 50; ++i) clips.push_back({"c" + std::to_string(i) + ".wav", {}, {}});
  auto [train, test] = data::split_holdout(clips, 0.2, 9);
  EXPECT_EQ(test.size(), 10u);
  EXPECT_EQ(train.size(), 40u);
  std::set<std::string> names;
  for (const auto& c : train) names.insert(c.filename);
  for (const auto& c : test) EXPECT_FALSE(names.count(c.filename));
  auto again = data::split_holdout(clips, 0.2, 9);
  EXPECT_EQ(again.second.front().filename, test.front().filename);
  EXPECT_THROW(data::split_holdout(clips, 1.5, 9), InputError);
}

TEST(FeatureCache, RoundTripThenRebuildOnEveryChange) {
  auto dir = test::temp_dir();
  auto paths = small_dataset(dir / "ds");
  auto clips = data::load_clips(paths);
  auto p = small_params();
  const std::string cache = (dir / "cache").string();
  std::string note;
  auto first = data::cached_features(cache, paths, clips, p, {}, note);
  EXPECT_NE(note.find("computed (no cache yet)"), std::string::npos) << note;
  auto second = data::cached_features(cache, paths, clips, p, {}, note);
  EXPECT_NE(note.find("loaded from cache"), std::string::npos) << note;
  ASSERT_NE(second.mapped, nullptr);  // memory-mapped, not copied
  ASSERT_EQ(second.size(), first.size());
  EXPECT_TRUE(std::equal(first.data(), first.data() + first.size(), second.data()));
  EXPECT_EQ(second.targets, first.targets);
  EXPECT_EQ(second.filenames, first.filenames);

  auto key = data::cache_key(paths, clips, p, {});
  auto file = data::cache_file(cache, paths, clips, key);
  std::string why;
  // Another parameter: another key, the file does not match it.
  auto p2 = p;
  p2.hop_length = 128;
  EXPECT_FALSE(data::load_feature_cache(file, data::cache_key(paths, clips, p2, {}), why));
  EXPECT_EQ(why, "feature parameters changed");
  // A changed audio file (size or time): the inputs checksum changes.
  audio::write_audio((fs::path(paths.audio_dir) / clips[0].filename).string(), std::vector<float>(16000, 0.2f), 16000);
  EXPECT_FALSE(data::load_feature_cache(file, data::cache_key(paths, clips, p, {}), why));
  EXPECT_NE(why.find("dataset changed"), std::string::npos);
  auto rebuilt = data::cached_features(cache, paths, clips, p, {}, note);
  EXPECT_NE(note.find("computed (the dataset changed"), std::string::npos) << note;
  key = data::cache_key(paths, clips, p, {});
  ASSERT_TRUE(data::load_feature_cache(file, key, why)) << why;

  // One flipped byte in the data is caught by the checksum.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-100, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    f.seekp(-100, std::ios::end);
    c ^= 0x5A;
    f.write(&c, 1);
  }
  EXPECT_FALSE(data::load_feature_cache(file, key, why));
  EXPECT_NE(why.find("corrupted"), std::string::npos) << why;
  // A truncated file is caught by its size.
  data::save_feature_cache(file, key, rebuilt);
  fs::resize_file(file, fs::file_size(file) - 4);
  EXPECT_FALSE(data::load_feature_cache(file, key, why));
  EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  fs::resize_file(file, 10);
  EXPECT_FALSE(data::load_feature_cache(file, key, why));
  // And the next run rebuilds it rather than using it.
  data::cached_features(cache, paths, clips, p, {}, note);
  EXPECT_NE(note.find("computed"), std::string::npos);
  EXPECT_TRUE(data::load_feature_cache(file, key, why)) << why;
}

TEST(FeatureCache, ChecksumSeesEveryByte) {
  std::vector<unsigned char> a(1001, 7);
  auto h = data::checksum64(a.data(), a.size());
  for (std::size_t i : {0u, 500u, 999u, 1000u}) {
    auto b = a;
    b[i] ^= 1;
    EXPECT_NE(data::checksum64(b.data(), b.size()), h) << i;
  }
}
