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

// Labels are never dropped silently (issue 18, item 10): a strong row with times but no label, a label
// without times, NaN or infinite times, a weak header whose second column is not the labels.
TEST(Desed, IncompleteEventsAndOddHeadersAreRefusedWithTheLine) {
  auto dir = sedenergy::test::temp_dir();
  auto expect_refused = [&](const std::string& name, const std::string& text, bool strong, const std::string& why) {
    const auto path = (dir / name).string();
    sedenergy::test::write_text(path, text);
    try {
      if (strong) sedenergy::data::read_strong_tsv(path);
      else sedenergy::data::read_weak_tsv(path);
      ADD_FAILURE() << name << " accepted";
    } catch (const sedenergy::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  };
  const std::string head = "filename\tonset\toffset\tevent_label\n";
  expect_refused("no_label.tsv", head + "a.wav\t0.5\t1.0\t\n", true, ":2: an event with onset/offset but no event_label");
  expect_refused("no_times.tsv", head + "a.wav\t\t\tDog\n", true, ":2: event 'Dog' without its onset and offset");
  expect_refused("nan.tsv", head + "a.wav\tnan\t1.0\tDog\n", true, ":2: onset 'nan' is not a finite number");
  expect_refused("inf.tsv", head + "a.wav\t0\tinf\tDog\n", true, ":2: offset 'inf' is not a finite number");
  expect_refused("weak.tsv", "filename\tlabels\na.wav\tDog\n", false, ":1: second column is 'labels'");
  sedenergy::test::write_text(dir / "empty_clip.tsv", head + "a.wav\t\t\t\n");  // a clip without events is fine
  EXPECT_EQ(sedenergy::data::read_strong_tsv((dir / "empty_clip.tsv").string()).size(), 1u);
}

// Symlinked audio (clips linked from elsewhere, as DESED setups often are) is read: the TSV's names are
// what must lie inside the dataset, not the links' targets.
TEST(Desed, SymlinkedAudioFilesAreListedByTheirNames) {
  auto dir = sedenergy::test::temp_dir();
  std::filesystem::create_directories(dir / "store");
  std::filesystem::create_directories(dir / "set" / "audio");
  for (const char* name : {"a.wav", "b.wav"}) {
    sedenergy::test::write_text(dir / "store" / name, "not read here");
    std::filesystem::create_symlink(dir / "store" / name, dir / "set" / "audio" / name);
  }
  sedenergy::test::write_text(dir / "set" / "weak.tsv", "filename\tevent_labels\na.wav\tDog\nb.wav\tCat\n");
  sedenergy::data::DatasetPaths p;
  p.root = p.audio_dir = (dir / "set" / "audio").string();
  p.weak_tsv = (dir / "set" / "weak.tsv").string();
  std::vector<std::string> problems;
  const auto clips = sedenergy::data::load_clips(p, sedenergy::data::OnError::kStop, &problems);
  EXPECT_EQ(clips.size(), 2u);
  EXPECT_TRUE(problems.empty());
}
