#include <gtest/gtest.h>

#include "common/error.hpp"
#include "data/desed.hpp"
#include "test_util.hpp"

using namespace sedenergy;
using sedenergy::test::temp_dir;
using sedenergy::test::write_text;

namespace {
// Expects an InputError whose message contains every fragment.
template <typename Fn>
void expect_input_error(Fn fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    FAIL() << "no error thrown";
  } catch (const InputError& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Desed, ClassesAreTheTenDesedClasses) {
  EXPECT_EQ(data::kNumClasses, 10);
  EXPECT_EQ(data::class_index("Alarm_bell_ringing"), 0);
  EXPECT_EQ(data::class_index("Vacuum_cleaner"), 9);
  EXPECT_EQ(data::class_index("vacuum_cleaner"), -1);
}

TEST(Desed, ReadsWeakTsvWithMultipleAndEmptyLabels) {
  auto dir = temp_dir();
  write_text(dir / "weak.tsv",
             "filename\tevent_labels\nY-BJNMHMZDcU_50.000_60.000.wav\tAlarm_bell_ringing,Dog\nb.wav\t\nc.wav\tSpeech\r\n");
  auto clips = data::read_weak_tsv((dir / "weak.tsv").string());
  ASSERT_EQ(clips.size(), 3u);
  EXPECT_EQ(clips[0].filename, "Y-BJNMHMZDcU_50.000_60.000.wav");
  EXPECT_EQ(clips[0].labels, (std::vector<int>{0, 4}));
  EXPECT_TRUE(clips[1].labels.empty());
  EXPECT_EQ(clips[2].labels, (std::vector<int>{8}));
}

TEST(Desed, WeakTsvErrorsNameFileAndLine) {
  auto dir = temp_dir();
  auto p = (dir / "weak.tsv").string();
  write_text(p, "filename\tevent_labels\na.wav\tDog\nb.wav\tUnicorn\n");
  expect_input_error([&] { data::read_weak_tsv(p); }, {"weak.tsv:3", "unknown class 'Unicorn'"});
  write_text(p, "filename\tevent_labels\n../escape.wav\tDog\n");
  expect_input_error([&] { data::read_weak_tsv(p); }, {"weak.tsv:2", "escapes the dataset folder"});
  write_text(p, "filename\tevent_labels\n/abs.wav\tDog\n");
  expect_input_error([&] { data::read_weak_tsv(p); }, {"absolute"});
  write_text(p, "filename\tevent_labels\na.wav\tDog\na.wav\tCat\n");
  expect_input_error([&] { data::read_weak_tsv(p); }, {"weak.tsv:3", "twice"});
  write_text(p, "");
  expect_input_error([&] { data::read_weak_tsv(p); }, {"empty metadata"});
  expect_input_error([&] { data::read_weak_tsv((dir / "missing.tsv").string()); }, {"missing.tsv", "cannot open"});
}

TEST(Desed, StrongTsvDerivesWeakLabelsAndChecksTimes) {
  auto dir = temp_dir();
  auto p = (dir / "strong.tsv").string();
  write_text(p,
             "filename\tonset\toffset\tevent_label\na.wav\t0.5\t2.0\tDog\na.wav\t1.0\t3.5\tCat\nb.wav\t\t\t\n"
             "a.wav\t4\t5\tDog\n");
  auto clips = data::read_strong_tsv(p);
  ASSERT_EQ(clips.size(), 2u);
  EXPECT_EQ(clips[0].events.size(), 3u);
  EXPECT_EQ(clips[0].labels, (std::vector<int>{2, 4}));
  EXPECT_DOUBLE_EQ(clips[0].events[1].offset_s, 3.5);
  EXPECT_TRUE(clips[1].events.empty());

  write_text(p, "filename\tonset\toffset\tevent_label\na.wav\t3\t2\tDog\n");
  expect_input_error([&] { data::read_strong_tsv(p); }, {"strong.tsv:2", "onset is after offset"});
  write_text(p, "filename\tonset\toffset\tevent_label\na.wav\t-1\t2\tDog\n");
  expect_input_error([&] { data::read_strong_tsv(p); }, {"strong.tsv:2", "negative"});
  write_text(p, "filename\tonset\toffset\tevent_label\na.wav\tx\t2\tDog\n");
  expect_input_error([&] { data::read_strong_tsv(p); }, {"not a number"});
  auto d = (dir / "durations.tsv").string();
  write_text(d, "filename\tduration\na.wav\n");
  expect_input_error([&] { data::read_durations_tsv(d); }, {"durations.tsv:2", "expected 2"});
}

TEST(Desed, WriteThenReadRoundTrip) {
  auto dir = temp_dir();
  std::vector<data::Clip> clips = {{"x.wav", {1, 3}, {{0.25, 1.5, 1}, {2.0, 4.125, 3}}}, {"y.wav", {}, {}}};
  data::write_weak_tsv((dir / "weak.tsv").string(), clips);
  data::write_strong_tsv((dir / "strong.tsv").string(), clips);
  auto weak = data::read_weak_tsv((dir / "weak.tsv").string());
  auto strong = data::read_strong_tsv((dir / "strong.tsv").string());
  ASSERT_EQ(weak.size(), 2u);
  EXPECT_EQ(weak[0].labels, clips[0].labels);
  EXPECT_TRUE(weak[1].labels.empty());
  ASSERT_EQ(strong.size(), 2u);
  ASSERT_EQ(strong[0].events.size(), 2u);
  EXPECT_DOUBLE_EQ(strong[0].events[1].offset_s, 4.125);
  EXPECT_EQ(strong[0].labels, clips[0].labels);
}

TEST(Desed, LocateAndLoadReportMissingPieces) {
  auto dir = temp_dir();
  expect_input_error([&] { data::locate_train_set((dir / "nope").string()); }, {"does not exist"});
  expect_input_error([&] { data::locate_train_set(dir.string()); }, {"audio/train/weak"});
  std::filesystem::create_directories(dir / "audio/train/weak");
  expect_input_error([&] { data::locate_train_set(dir.string()); }, {"weak.tsv"});
  write_text(dir / "metadata/train/weak.tsv", "filename\tevent_labels\nlisted.wav\tDog\n");
  auto paths = data::locate_train_set(dir.string());
  expect_input_error([&] { data::load_clips(paths); }, {"listed.wav", "missing"});
}
