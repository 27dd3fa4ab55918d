// The CLI as a user runs it: help, flops, synth, features, sensors, report, and bad numbers refused by name.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cli_util.hpp"
#include "common/host.hpp"
#include "common/text.hpp"
#include "energy/emissions.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

using namespace sedenergy;
using namespace sedenergy::cli_test;
namespace fs = std::filesystem;

TEST(Cli, HelpListsSubcommandsWithExamples) {
  auto r = run("--help");
  EXPECT_EQ(r.rc, 0);
  for (const char* sub : {"study", "synth", "features", "flops", "sensors", "measure", "report"}) {
    EXPECT_TRUE(contains(r.out, sub)) << sub;
  }
  EXPECT_TRUE(contains(r.out, "Examples"));
  EXPECT_EQ(run("").rc, 2);
  EXPECT_EQ(run("frobnicate").rc, 2);
}

TEST(Cli, FlopsPrintsTheStudysParameterCounts) {
  auto r = run("flops mlp:1x512 cnn:2x128 crnn:1x1:64x64 mlp:32x4096");
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* n : {"4199946", "804234", "26250", "553820170"}) EXPECT_TRUE(contains(r.out, n)) << n;
  auto j = run("flops paper43 --json");
  ASSERT_EQ(j.rc, 0);
  EXPECT_TRUE(contains(j.out, "\"crnn:2x2:1024x256\""));
  auto bad = run("flops cnn:7x8");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_TRUE(contains(bad.out, "pooling")) << bad.out;
  EXPECT_EQ(run("flops mlp:abc").rc, 2);
  // Per epoch: 1578 clips at batch 8 are 197 full steps and one of 2 clips (as the study's runs record).
  auto epoch = run("flops mlp:1x512 --batch 8 --clips 1578 --json");
  EXPECT_TRUE(contains(epoch.out, "\"steps\": 198")) << epoch.out;
  EXPECT_TRUE(contains(epoch.out, "\"train_flops\": 37336941996.0")) << epoch.out;
  auto ds = run("flops mlp:1x512 --convention deepspeed");
  EXPECT_TRUE(contains(ds.out, "deepspeed convention")) << ds.out;
  // Each layer with the kind of work the predictor prices it as.
  auto layers = run("flops crnn:2x1:64x64 --layers");
  for (const char* line : {"bwd FLOPs  kind of work", "conv3x3 1->64", "one-channel conv", "conv3x3 64->64", "gru 64->64 x1 over 512", "recurrent steps",
                           "linear 64->10", "matrix", "element-wise"}) {
    EXPECT_TRUE(contains(layers.out, line)) << line << "\n" << layers.out;
  }
  auto kinds = nlohmann::json::parse(run("flops rnn:1x128 --layers --json").out);
  EXPECT_EQ(kinds[0]["layers"][0]["name"], "gru 8192->128 x1 over 1");
  EXPECT_EQ(kinds[0]["layers"][0]["kind"], "matrix");  // one step: a matrix product
}

#if SEDENERGY_HAS_TORCH
TEST(Cli, StudyRejectsBadInputWithClearMessages) {
  auto dir = test::temp_dir();
  auto missing = run("study --data " + (dir / "nope").string() + " --out " + (dir / "o").string());
  EXPECT_EQ(missing.rc, 2);
  EXPECT_TRUE(contains(missing.out, "does not exist")) << missing.out;
  auto grid = run("study --grid paper44 --out " + (dir / "o").string());
  EXPECT_EQ(grid.rc, 2);
  EXPECT_TRUE(contains(grid.out, "unknown grid 'paper44'")) << grid.out;
  test::write_text(dir / "file", "x");
  auto out = run("study --grid quick --device cpu --out " + (dir / "file" / "sub").string());
  EXPECT_EQ(out.rc, 2);
  EXPECT_TRUE(contains(out.out, "--out")) << out.out;
  auto bad_spec = run("study --grid mlp:0x5 --out " + (dir / "o").string());
  EXPECT_EQ(bad_spec.rc, 2);
  EXPECT_EQ(run("study --batch 0 --out " + (dir / "o").string()).rc, 2);
#if SEDENERGY_HAS_TORCH
  // No GPU on the test machines: asking for one must fail cleanly (skipped where CUDA exists).
  if (!fs::exists("/dev/nvidia0")) {
    auto cuda = run("study --device cuda --out " + (dir / "o").string());
    EXPECT_EQ(cuda.rc, 2);
    EXPECT_TRUE(contains(cuda.out, "no CUDA device")) << cuda.out;
  }
#endif
}
#else
TEST(Cli, StudyInATorchFreeBuildSaysWhyItIsAbsent) {
  auto r = run("study --config quick");
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(contains(r.out, "built without LibTorch")) << r.out;
}
#endif

TEST(Cli, SynthThenFeaturesWithNpyExport) {
  auto dir = test::temp_dir();
  auto s = run("synth --out " + (dir / "ds").string() + " --clips 4 --seconds 2 --rate 16000 --seed 3");
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_TRUE(fs::exists(dir / "ds/metadata/train/weak.tsv"));
  auto f = run("features --data " + (dir / "ds").string() + " --preset librosa --export npy --out " +
               (dir / "npy").string());
  ASSERT_EQ(f.rc, 0) << f.out;
  EXPECT_TRUE(contains(f.out, "4 clips -> 128 mels x 626 frames")) << f.out;  // 10 s at 16 kHz after padding
  EXPECT_TRUE(fs::exists(dir / "npy/synth_00000.npy"));
  auto bad = run("features --data " + (dir / "ds").string() + " --preset nope");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_TRUE(contains(bad.out, "unknown feature preset")) << bad.out;
  auto zero = run("synth --out " + (dir / "z").string() + " --clips 0");
  EXPECT_EQ(zero.rc, 2);

  // A corrupt clip: stops by default naming the file; --on-error skip lists it in skipped.txt.
  test::write_text(dir / "ds/audio/train/weak/synth_00002.wav", "not audio");
  auto stop = run("features --data " + (dir / "ds").string());
  EXPECT_EQ(stop.rc, 2);
  EXPECT_TRUE(contains(stop.out, "synth_00002.wav")) << stop.out;
  auto skip = run("features --data " + (dir / "ds").string() + " --on-error skip --out " + (dir / "rep").string() +
                  " --hop 512 --mels 64 --window hann --log power-db --frames 10");
  ASSERT_EQ(skip.rc, 0) << skip.out;
  EXPECT_TRUE(contains(skip.out, "3 clips -> 64 mels x 10 frames")) << skip.out;
  EXPECT_TRUE(contains(test::read_text(dir / "rep/skipped.txt"), "synth_00002.wav"));
  auto bad_hop = run("features --data " + (dir / "ds").string() + " --hop -3");
  EXPECT_EQ(bad_hop.rc, 2);
}

// Compressed audio is checked like WAV (issue 35, item 2): a FLAC or OGG cut short or corrupted inside is
// refused with its name, never decoded partway and zero-padded; a FIFO named like audio is never opened (it
// would block for ever).
TEST(Cli, FeaturesRefuseCutOrCorruptCompressedAudioAndFifos) {
  auto dir = test::temp_dir();
  auto damage = [](const fs::path& f, const std::string& how) {
    std::string bytes = test::read_text(f);
    if (how == "cut") bytes.resize(bytes.size() / 2);
    if (how == "corrupt") {
      for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    }
    if (how == "cut-at-page") bytes.resize(bytes.rfind("OggS", bytes.size() / 2));  // a whole page ends the file
    test::write_text(f, bytes);
  };
  for (const std::string format : {"flac", "ogg"}) {
    const auto ds = dir / format;
    ASSERT_EQ(run("synth --out " + ds.string() + " --clips 4 --seconds 2 --rate 16000 --format " + format).rc, 0);
    const auto clip = [&](int i) { return ds / "audio/train/weak" / ("synth_0000" + std::to_string(i) + "." + format); };
    damage(clip(0), "cut");
    damage(clip(1), "corrupt");
    if (format == "ogg") damage(clip(2), "cut-at-page");
    auto stop = run("features --data " + ds.string());
    EXPECT_EQ(stop.rc, 2) << stop.out;
    EXPECT_TRUE(contains(stop.out, clip(0).filename().string())) << stop.out;
    auto skip = run("features --data " + ds.string() + " --on-error skip --out " + (dir / ("o" + format)).string());
    ASSERT_EQ(skip.rc, 0) << skip.out;
    const auto skipped = test::read_text(dir / ("o" + format) / "skipped.txt");
    EXPECT_TRUE(contains(skipped, clip(0).string() + ": audio file is truncated")) << skipped;
    EXPECT_TRUE(contains(skipped, clip(1).string() + ": audio file is ")) << skipped;
    if (format == "ogg") {
      EXPECT_TRUE(contains(skipped, clip(2).string() + ": audio file is truncated: it ends without an end-of-stream page"))
          << skipped;
    }
    EXPECT_TRUE(contains(skip.out, (format == "ogg" ? "1 clips" : "2 clips"))) << skip.out;  // the whole ones only
  }
  ASSERT_EQ(run("synth --out " + (dir / "w").string() + " --clips 2 --seconds 1 --rate 16000").rc, 0);
  const auto fifo = dir / "w/audio/train/weak/synth_00000.wav";
  fs::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  auto r = run("features --data " + (dir / "w").string());  // blocked for ever before (the test would time out)
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "synth_00000.wav: not a regular file")) << r.out;
}

TEST(Cli, FeaturesOfAnAudioFolderWithItsTsv) {
  auto dir = test::temp_dir();
  ASSERT_EQ(run("synth --out " + (dir / "ds").string() + " --clips 3 --seconds 2 --rate 16000").rc, 0);
  // DESED's validation layout: audio/validation/validation + metadata/validation/validation.tsv (strong).
  fs::create_directories(dir / "val/audio/validation");
  fs::rename(dir / "ds/audio/train/weak", dir / "val/audio/validation/validation");
  auto r = run("features --data " + (dir / "val/audio/validation/validation").string() + " --tsv " +
               (dir / "ds/metadata/train/strong.tsv").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "3 clips")) << r.out;
  auto bad = run("features --data " + (dir / "nope").string() + " --tsv " + (dir / "ds/metadata/train/weak.tsv").string());
  EXPECT_EQ(bad.rc, 2);
}

TEST(Cli, FeaturesCacheIsReusedAcrossRuns) {
  auto dir = test::temp_dir();
  ASSERT_EQ(run("synth --out " + (dir / "ds").string() + " --clips 3 --seconds 2 --rate 16000").rc, 0);
  const std::string args = "features --data " + (dir / "ds").string() + " --cache " + (dir / "cache").string();
  auto first = run(args);
  ASSERT_EQ(first.rc, 0) << first.out;
  EXPECT_TRUE(contains(first.out, "computed (no cache yet)")) << first.out;
  auto second = run(args);
  EXPECT_TRUE(contains(second.out, "loaded from cache")) << second.out;
}

TEST(Cli, SensorsListsEverySensorWithItsState) {
  auto r = run("sensors --probe 0.2");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "nvml"));
  EXPECT_TRUE(contains(r.out, "rapl"));
  EXPECT_TRUE(contains(r.out, "cpu model"));
  auto dir = test::temp_dir();
  test::write_text(dir / "file", "x");
  auto file = run("sensors --probe 0 --rapl-root " + (dir / "file").string());
  EXPECT_EQ(file.rc, 2);
  EXPECT_TRUE(contains(file.out, "--rapl-root: '" + (dir / "file").string() + "' is not a folder")) << file.out;
}

TEST(Cli, ReportOnMissingDatabase) {
  auto dir = test::temp_dir();
  auto r = run("report " + (dir / "none.db").string() + " -o " + (dir / "r").string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(contains(r.out, "does not exist")) << r.out;
  EXPECT_FALSE(fs::exists(dir / "none.db"));  // no empty database created by mistake
}

TEST(Cli, ReportRefusesANewerSchemaAndAForeignFileByName) {
  auto dir = test::temp_dir();
  const auto db = (dir / "new.db").string();
  { store::Store s(db); }
  sqlite3_exec_helper(db, "UPDATE meta SET value='99' WHERE key='schema_version'");
  auto r = run("report " + db + " -o " + (dir / "r").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "new.db")) << r.out;
  EXPECT_TRUE(contains(r.out, "newer sedenergy (schema 99")) << r.out;
  test::write_text(dir / "notes.db", "this is not a database at all, just text that is long enough");
  auto f = run("report " + (dir / "notes.db").string() + " -o " + (dir / "r").string());
  EXPECT_NE(f.rc, 0);
  EXPECT_TRUE(contains(f.out, "notes.db")) << f.out;
  // An empty database gives a report that says so.
  { store::Store s((dir / "empty.db").string()); }
  auto e = run("report " + (dir / "empty.db").string() + " -o " + (dir / "e").string());
  EXPECT_EQ(e.rc, 0) << e.out;
  EXPECT_TRUE(contains(test::read_text(dir / "e/summary.md"), "no runs in the database"));
}

// Every numeric option takes a finite number in its range, or is refused by its name before any work
// (issue 18: each of these was once accepted, wrapped, ran for ever or ran out of memory).
TEST(Cli, NonsenseNumbersAreRefusedByName) {
  auto dir = test::temp_dir();
  const std::string data = " --data " + dir.string();
  std::vector<std::pair<std::string, std::string>> cases = {
      {"features --n-fft 100000000" + data, "--n-fft: 100000000 is outside [16, 65536]"},
      {"features --n-fft 0" + data, "--n-fft: 0 is outside"},
      {"features --hop 0" + data, "--hop: 0 is outside"},
      {"features --mels 0" + data, "--mels: 0 is outside"},
      {"features --rate 2000000000" + data, "--rate: 2000000000 is outside [1000, 384000]"},
      {"features --rate 0" + data, "--rate: 0 is outside"},
      {"features --seconds 1e9" + data, "--seconds: 1000000000 is outside (0, 3600]"},
      {"features --seconds -1" + data, "--seconds: -1 is outside"},
      {"features --frames -4" + data, "--frames: -4 is outside"},
      {"features --power nan" + data, "--power: 'nan' is not a finite number"},
      {"features --power -1" + data, "--power: -1 is outside"},
      {"features --amin -1" + data, "--amin: -1 is outside"},
      {"features --fmax nan" + data, "--fmax: 'nan' is not a finite number"},
      {"features --fmax 1.5" + data, "mel band 0 of 128 between --fmin 0 and --fmax 1.5 Hz holds no FFT bin"},
      {"synth --bogus-flag", "sedenergy synth: unknown option or argument: --bogus-flag"},  // not "--out is required"
      {"features --top-db nan" + data, "--top-db: 'nan' is not a finite number"},
      {"features --threads -2" + data, "--threads: -2 is outside"},
      {"flops mlp:1x512 --mels 2000000000 --frames 2000000000", "--mels: 2000000000 is outside [1, 4096]"},
      {"flops mlp:1x512 --batch 0", "--batch: 0 is outside"},
      {"measure --carbon-intensity nan -- true", "--carbon-intensity: 'nan' is not a finite number"},
      {"measure --carbon-intensity -1 -- true", "--carbon-intensity: -1 is outside [0, 5000]"},
      {"measure --pue -1 -- true", "--pue: -1 is outside [1, 10]"},
      {"measure --idle inf -- true", "--idle: 'inf' is not a finite number"},
      {"synth --snr-min nan --out " + (dir / "s").string(), "--snr-min: 'nan' is not a finite number"},
      {"synth --clips 2.5 --out " + (dir / "s").string(), "--clips: '2.5' is not a whole number"},
      {"synth --clips -1 --out " + (dir / "s").string(), "--clips: -1 is outside"},
      {"synth --seed -1 --out " + (dir / "s").string(), "--seed: -1 is outside"},
      {"sensors --probe -3", "--probe: -3 is outside [0, 60]"},
  };
#if SEDENERGY_HAS_TORCH
  const std::string out = " --out " + (dir / "o").string();
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"study --min-window 1e12" + out, "--min-window: 1000000000000 is outside [0, 3600]"},
           {"study --min-window nan" + out, "--min-window: 'nan' is not a finite number"},
           {"study --cpu-tdp -50" + out, "--cpu-tdp: -50 is outside [0, 2000]"},
           {"study --clips -1" + out, "--clips: -1 is outside"},
           {"study --warmup-steps -5" + out, "--warmup-steps: -5 is outside"},
           {"study --seed -1" + out, "--seed: -1 is outside"},
           {"study --idle -5" + out, "--idle: -5 is outside [0, 600]"},
           {"study --lr 1e400" + out, "--lr"},
           {"study --frames -4" + out, "--frames: -4 is outside"},
           {"study --sample-period 1e9" + out, "--sample-period"}}) {
    cases.push_back({args, message});
  }
#endif
  for (const auto& [args, message] : cases) {
    auto r = run(args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, message)) << args << "\n" << r.out;
  }
  EXPECT_FALSE(fs::exists(dir / "o"));  // refused before any work
  EXPECT_FALSE(fs::exists(dir / "s"));
}

// synth writes a dataset into a fresh folder: old clips would otherwise stay beside the new ones.
TEST(Cli, SynthRefusesAFolderWithADatasetUnlessForced) {
  auto dir = test::temp_dir();
  const std::string out = (dir / "ds").string();
  ASSERT_EQ(run("synth --out " + out + " --clips 4 --seconds 1 --rate 16000").rc, 0);
  auto again = run("synth --out " + out + " --clips 2 --seconds 1 --rate 16000");
  EXPECT_EQ(again.rc, 2);
  EXPECT_TRUE(contains(again.out, "is not empty")) << again.out;
  ASSERT_EQ(run("synth --out " + out + " --clips 2 --seconds 1 --rate 16000 --force").rc, 0);
  int clips = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "ds" / "audio")) clips += e.path().extension() == ".wav";
  EXPECT_EQ(clips, 2);
  EXPECT_EQ(run("synth --out " + (dir / "x").string() + " --min-events 3 --max-events 1").rc, 2);
}
