// The CLI as a user runs it: real processes, real files, exit codes and messages.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <map>

#include "common/text.hpp"
#include "energy/emissions.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

using namespace sedenergy;
namespace fs = std::filesystem;

namespace {

struct Result {
  int rc = -1;
  std::string out;  // stdout and stderr
};

// Runs sedenergy with `args` through the shell, `env` before it ("env -u X Y=1 " or "").
Result run_with(const std::string& env, const std::string& args) {
  Result r;
  std::string cmd = env + std::string(SEDENERGY_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Result run(const std::string& args) { return run_with("", args); }

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// Runs SQL on a database with the sqlite3 command-line tool (as a user would to inspect or damage it).
void sqlite3_exec_helper(const std::string& db, const std::string& sql) {
  ASSERT_EQ(std::system(("sqlite3 '" + db + "' \"" + sql + "\"").c_str()), 0);
}

}  // namespace

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

TEST(Cli, MeasureRunsAProgramAndWritesCodeCarbonCsv) {
  auto dir = test::temp_dir();
  auto out = (dir / "m").string();
  auto r = run("measure --out " + out + " --country USA --period 0.05 -- sh -c 'sleep 0.3; exit 3'");
  EXPECT_EQ(r.rc, 3) << r.out;  // the program's exit code
  auto csv = test::read_text(fs::path(out) / "emissions.csv");
  auto lines = split(csv, '\n');
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(split(lines[0], ',').size(), 38u);
  EXPECT_TRUE(contains(lines[1], "United States"));
  int json_files = 0;
  for (const auto& e : fs::directory_iterator(out)) json_files += e.path().extension() == ".json";
  EXPECT_EQ(json_files, 1);
  auto missing = run("measure --out " + out + " -- /no/such/program");
  EXPECT_EQ(missing.rc, 127);
  EXPECT_TRUE(contains(missing.out, "cannot run '/no/such/program'")) << missing.out;
  EXPECT_EQ(split(test::read_text(fs::path(out) / "emissions.csv"), '\n').size(), lines.size());  // no row added
  auto period = run("measure --period 0 -- true");
  EXPECT_EQ(period.rc, 2);
  EXPECT_TRUE(contains(period.out, "--period")) << period.out;
  test::write_text(dir / "file", "x");
  auto unwritable = run("measure --out " + (dir / "file" / "x").string() + " -- true");
  EXPECT_EQ(unwritable.rc, 2);
  EXPECT_EQ(run("measure --out " + (dir / "g").string() + " --gpus 7 -- true").rc, 2);
  EXPECT_FALSE(fs::exists(dir / "g" / "emissions.csv"));  // a measurement refused before the program leaves no file
  EXPECT_EQ(run("measure --country XYZ -- true").rc, 2);
  auto pue = run("measure --pue 0.5 -- true");
  EXPECT_EQ(pue.rc, 2);
  EXPECT_TRUE(contains(pue.out, "--pue")) << pue.out;
  ASSERT_EQ(run("measure --out " + (dir / "can").string() + " --country CAN --pue 1.4 -- true").rc, 0);
  auto can = split(split(test::read_text(dir / "can" / "emissions.csv"), '\n')[1], ',');
  EXPECT_EQ(can[15], "Canada");
  EXPECT_EQ(can[36], "1.4");  // the pue column
  // A province: its own intensity (Quebec's hydro, not Canada's average) and the region column.
  ASSERT_EQ(run("measure --out " + (dir / "qc").string() + " --country CAN --region QC -- true").rc, 0);
  auto qc = split(split(test::read_text(dir / "qc" / "emissions.csv"), '\n')[1], ',');
  EXPECT_EQ(qc[17], "quebec");
  EXPECT_NEAR(std::stod(qc[5]) / std::stod(qc[13]), 0.0296, 1e-6);  // kg per kWh
  auto bad_region = run("measure --out " + (dir / "qc").string() + " --country CAN --region XX -- true");
  EXPECT_EQ(bad_region.rc, 2);
  EXPECT_TRUE(contains(bad_region.out, "unknown region 'XX' of CAN (known: AB (alberta)")) << bad_region.out;
  auto no_country = run("measure --region QC -- true");
  EXPECT_EQ(no_country.rc, 2);
  EXPECT_TRUE(contains(no_country.out, "--region needs --country")) << no_country.out;
  auto no_data = run("measure --country USA --region CA -- true");
  EXPECT_TRUE(contains(no_data.out, "no regional data for USA (regions are known for CAN, NOR, SWE)")) << no_data.out;
}

// The one JSON record measure wrote into `out`.
nlohmann::json measure_record(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() == ".json") return nlohmann::json::parse(test::read_text(e.path()));
  }
  return {};
}

std::vector<std::string> gpu_devices(const nlohmann::json& rec) {
  std::vector<std::string> out;
  for (const auto& d : rec["window"]["domains"]) {
    if (d["domain"] == "gpu") out.push_back(d["device"]);
  }
  return out;
}

// measure on a machine with two GPUs (the fake NVML driver, loaded as the real one is) and no
// CUDA_VISIBLE_DEVICES: the program's GPUs are those on which its processes hold a context; another
// process on that GPU makes the record say it was shared; Slurm's GPU variable chooses when it is set.
TEST(Cli, MeasureFindsTheProgramsGpusAndFlagsOtherProcessesOnThem) {
  auto dir = test::temp_dir();
  const std::string procs = (dir / "contexts").string();
  test::write_text(procs, "");
  const std::string env = "env -u CUDA_VISIBLE_DEVICES -u SLURM_STEP_GPUS -u SLURM_JOB_GPUS LD_LIBRARY_PATH=" +
                          std::string(FAKE_NVML_DIR) + " FAKE_NVML_PROCESSES=" + procs + " ";
  // The program takes a context on GPU 1 (its PID, 40% SM) and works a while.
  const std::string program = " --period 0.05 -- sh -c 'echo \"1 $$ 40\" >> " + procs + "; sleep 1.5'";
  auto alone = run_with(env, "measure --out " + (dir / "alone").string() + program);
  ASSERT_EQ(alone.rc, 0) << alone.out;
  auto rec = measure_record(dir / "alone");
  ASSERT_EQ(gpu_devices(rec), std::vector<std::string>{"gpu1 Fake NVML GPU"}) << rec.dump(1);
  EXPECT_TRUE(contains(rec["window"]["gpu_selection"], "held a context (NVML running processes): gpu1")) << rec.dump(1);
  EXPECT_FALSE(rec["window"].contains("gpu_sharing"));
  for (const auto& f : rec["window"]["flags"]) EXPECT_FALSE(contains(f, "shared")) << f;
  auto row = split(split(test::read_text(dir / "alone" / "emissions.csv"), '\n')[1], ',');
  EXPECT_EQ(row[25], "1");  // gpu_count: the program's GPU only

  // Someone else's process (not in measure's tree) holds a context on GPU 1 at 60% SM.
  const pid_t other = fork();
  if (other == 0) {
    execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::ofstream(procs, std::ios::app) << "1 " << other << " 60\n";
  auto shared = run_with(env, "measure --out " + (dir / "shared").string() + program);
  kill(other, SIGKILL);
  waitpid(other, nullptr, 0);
  ASSERT_EQ(shared.rc, 0) << shared.out;
  EXPECT_TRUE(contains(shared.out, "other processes used a measured GPU")) << shared.out;
  rec = measure_record(dir / "shared");
  ASSERT_EQ(gpu_devices(rec), std::vector<std::string>{"gpu1 Fake NVML GPU"});
  const auto& sharing = rec["window"]["gpu_sharing"]["gpu1"];
  EXPECT_EQ(sharing["other_processes"], 1) << rec.dump(1);
  EXPECT_EQ(sharing["other_pids"][0], other);
  EXPECT_NEAR(sharing["other_sm_util_share"].get<double>(), 0.6, 1e-9);  // 60 / (40 + 60)
  bool flagged = false;
  for (const auto& f : rec["window"]["flags"]) flagged |= contains(f, "gpu1: shared: 1 other process");
  EXPECT_TRUE(flagged) << rec["window"]["flags"].dump();

  // A program that holds no GPU context is measured without GPUs.
  ASSERT_EQ(run_with(env, "measure --out " + (dir / "cpu").string() + " --period 0.05 -- sleep 0.6").rc, 0);
  rec = measure_record(dir / "cpu");
  EXPECT_TRUE(gpu_devices(rec).empty()) << rec.dump(1);
  EXPECT_TRUE(contains(rec["window"]["gpu_selection"], ": none"));
  EXPECT_EQ(split(split(test::read_text(dir / "cpu" / "emissions.csv"), '\n')[1], ',')[25], "0");

  // Slurm's allocation decides when it is given (no process check needed).
  auto slurm = run_with(env + "SLURM_JOB_GPUS=0 ", "measure --out " + (dir / "slurm").string() + " -- sleep 0.6");
  ASSERT_EQ(slurm.rc, 0) << slurm.out;
  rec = measure_record(dir / "slurm");
  EXPECT_EQ(gpu_devices(rec), std::vector<std::string>{"gpu0 Fake NVML GPU"});
  EXPECT_TRUE(contains(rec["window"]["gpu_selection"], "SLURM_JOB_GPUS=0")) << rec.dump(1);
  auto bad = run_with(env + "SLURM_JOB_GPUS=zero ", "measure --out " + (dir / "bad").string() + " -- true");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_TRUE(contains(bad.out, "SLURM_JOB_GPUS='zero'")) << bad.out;
  EXPECT_FALSE(fs::exists(dir / "bad" / "emissions.csv"));
}

// Two measured programs recorded in one results file, plus a folder of emissions CSVs: the report of the user's
// own runs (windows with methods, timelines, the two runs side by side), and bad CSVs refused by file and line.
TEST(Cli, MeasureRecordsWindowsThatReportShowsSideBySide) {
  auto dir = test::temp_dir();
  const std::string db = (dir / "mine.db").string(), csvs = (dir / "m").string();
  ASSERT_EQ(run("measure --out " + csvs + " --db " + db + " --experiment-id a --period 0.05 -- sleep 0.4").rc, 0);
  ASSERT_EQ(run("measure --out " + csvs + " --db " + db + " --experiment-id b --period 0.05 -- sleep 0.2").rc, 0);
  // The database given twice (once by another path) is read once.
  auto r = run("report " + db + " " + csvs + " " + (dir / "." / "mine.db").string() + " -o " + (dir / "rep").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "windows: 4")) << r.out;  // two from the database, two rows of emissions.csv
  EXPECT_TRUE(contains(r.out, "given more than once: read once")) << r.out;
  const auto windows = split(test::read_text(dir / "rep" / "windows.csv"), '\n');
  ASSERT_EQ(windows.size(), 6u);  // header, four rows, the final newline
  EXPECT_TRUE(contains(windows[1], "measure")) << windows[1];
  EXPECT_TRUE(contains(windows[1], "estimated") || contains(windows[1], "rapl")) << "no CPU method: " << windows[1];
  const auto html = test::read_text(dir / "rep" / "report.html");
  EXPECT_TRUE(contains(html, "u-timeline-0") && contains(html, "Runs side by side")) << "no timeline chart";
  EXPECT_TRUE(contains(test::read_text(dir / "rep" / "tables" / "user-comparison.csv"), "/ sedenergy / a"));
  test::write_text(dir / "bad" / "missing.csv", "timestamp,run_id,duration\n2026,x,1\n");
  auto missing = run("report " + (dir / "bad" / "missing.csv").string() + " -o " + (dir / "r2").string());
  EXPECT_EQ(missing.rc, 2);
  EXPECT_TRUE(contains(missing.out, "missing.csv:1: not a CodeCarbon emissions file: no column cpu_energy, gpu_energy, "
                                    "ram_energy")) << missing.out;
  auto header = split(test::read_text(fs::path(csvs) / "emissions.csv"), '\n')[0];
  test::write_text(dir / "bad2" / "emissions_train.csv", header + "\n" + header + "\n");
  auto text = run("report " + (dir / "bad2").string() + " -o " + (dir / "r3").string());
  EXPECT_EQ(text.rc, 2);
  EXPECT_TRUE(contains(text.out, "emissions_train.csv:2: column 'duration' is not a number")) << text.out;
  EXPECT_FALSE(fs::exists(dir / "r3" / "report.html"));
}

// sedenergy as a process (argv without a shell: a subcommand and its arguments), its output read after it ends.
pid_t start_cli(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv = {const_cast<char*>(SEDENERGY_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(SEDENERGY_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

// The measured program never outlives measure: stopped, it gets a grace period and is then killed (the
// record says so); measure killed with -9 takes it along. A long sampler period no longer delays the end.
TEST(Cli, MeasureNeverLeavesItsProgramBehind) {
  auto dir = test::temp_dir();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run("measure --out " + (dir / "p").string() + " --period 9 -- true").rc, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "stop waited for the sampler's period";
  EXPECT_EQ(run("measure --period 1e9 -- true").rc, 2);

  // A program that ignores SIGTERM: killed 10 s after measure was asked to stop, with a flag in the record.
  const std::string out = (dir / "stubborn").string();
  const auto started = dir / "started";
  pid_t pid = start_cli({"measure", "--out", out, "--", "sh", "-c",
                             "trap '' TERM; touch " + started.string() + "; while :; do sleep 0.2; done"},
                            dir / "s.log");
  for (int i = 0; i < 250 && !fs::exists(started); ++i) usleep(20000);
  ASSERT_TRUE(fs::exists(started)) << test::read_text(dir / "s.log");
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  const auto log = test::read_text(dir / "s.log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGKILL) << log;
  EXPECT_TRUE(contains(log, "was killed")) << log;
  EXPECT_EQ(split(test::read_text(fs::path(out) / "emissions.csv"), '\n').size(), 3u);  // the row is kept

  // kill -9 of measure: its program (here a shell that wrote its pid) ends too.
  const auto pid_file = dir / "child.pid";
  pid = start_cli({"measure", "--out", (dir / "k").string(), "--", "sh", "-c", "echo $$ > " + pid_file.string() + "; exec sleep 60"},
                      dir / "k.log");
  for (int i = 0; i < 100 && test::read_text(pid_file).empty(); ++i) usleep(20000);
  const pid_t child = static_cast<pid_t>(std::stol(test::read_text(pid_file)));
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = kill(child, 0) != 0;
    if (!gone) usleep(20000);
  }
  EXPECT_TRUE(gone) << "the measured program survived measure";
  EXPECT_FALSE(fs::exists(dir / "k" / "emissions.csv"));  // no empty file left behind
}

// An emissions.csv that is not CodeCarbon's is left alone; the row goes to a file beside it, said so.
TEST(Cli, MeasureWritesBesideAForeignEmissionsFile) {
  auto dir = test::temp_dir();
  test::write_text(dir / "emissions.csv", "a,b\n1,2\n");
  auto r = run("measure --out " + dir.string() + " -- true");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "emissions.sedenergy-2.csv instead")) << r.out;
  EXPECT_EQ(test::read_text(dir / "emissions.csv"), "a,b\n1,2\n");
  EXPECT_EQ(split(test::read_text(dir / "emissions.sedenergy-2.csv"), '\n').size(), 3u);
}

// An emissions file as CodeCarbon (or sedenergy) writes it: the 38 columns, the given values, the rest empty.
std::string emissions_file(const std::vector<std::map<std::string, std::string>>& rows) {
  std::string text = join(energy::emissions_columns(), ",") + "\n";
  for (const auto& values : rows) {
    std::vector<std::string> cells;
    for (const auto& c : energy::emissions_columns()) cells.push_back(values.count(c) ? values.at(c) : "0");
    text += join(cells, ",") + "\n";
  }
  return text;
}

std::map<std::string, std::string> run_row(const std::string& cpu, const std::string& gpu, const std::string& ram,
                                           const std::string& gpu_model = "NVIDIA A100-SXM4-40GB") {
  return {{"timestamp", "2026-11-29T10:00:00Z"}, {"run_id", "r"}, {"duration", "3600"}, {"cpu_energy", cpu},
          {"gpu_energy", gpu}, {"ram_energy", ram}, {"gpu_model", gpu_model}, {"gpu_count", "1"}};
}

// The four runs of a DCASE participant: kWh per phase, normalised energy and EW-PSDS, and what cannot be compared.
TEST(Cli, DcaseNormalisesBySameHardwareBaselineAndRefusesTheRest) {
  auto dir = test::temp_dir();
  test::write_text(dir / "train.csv", emissions_file({run_row("0.05", "0.5", "0.025"), run_row("0.05", "0.5", "0.025")}));
  test::write_text(dir / "test.csv", emissions_file({run_row("0.01", "0.1", "0.005")}));
  test::write_text(dir / "base_train.csv", emissions_file({run_row("0.2", "1.5", "0.1")}));
  test::write_text(dir / "base_test.csv", emissions_file({run_row("0.02", "0.12", "0.01")}));
  auto args = [&](const std::string& train, const std::string& base_test) {
    return "dcase --train " + (dir / train).string() + " --test " + (dir / "test.csv").string() + " --baseline-train " +
           (dir / "base_train.csv").string() + " --baseline-test " + (dir / base_test).string();
  };
  auto r = run(args("train.csv", "base_test.csv") + " --psds 0.5,0.8 -o " + (dir / "out").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "NVIDIA A100-SXM4-40GB")) << r.out;
  // training: the two submission rows add up to 1.15 kWh, the baseline's 1.8 -> 1.565; test: 0.15 / 0.115 -> 1.304
  const auto csv = split(test::read_text(dir / "out" / "dcase.csv"), '\n');
  ASSERT_GE(csv.size(), 3u);
  EXPECT_EQ(csv[0], "phase,baseline_kwh,submission_kwh,normalised,normalised_gpu,ew_psds1,ew_psds2");
  EXPECT_EQ(csv[1], "training,1.8,1.15,1.565,1.5,0.7826,1.252") << csv[1];
  EXPECT_EQ(csv[2], "devtest inference,0.15,0.115,1.304,1.2,0.6522,1.043") << csv[2];
  for (const char* f : {"dcase.md", "dcase.json", "dcase.html"}) EXPECT_TRUE(fs::exists(dir / "out" / f)) << f;
  // Not comparable: another GPU in one file, no GPU energy, a PSDS outside [0, 1], a file that is not CodeCarbon's.
  test::write_text(dir / "other_gpu.csv", emissions_file({run_row("0.01", "0.1", "0.005", "NVIDIA H100 80GB HBM3")}));
  auto gpu = run(args("train.csv", "other_gpu.csv") + " -o " + (dir / "o2").string());
  EXPECT_EQ(gpu.rc, 2);
  EXPECT_TRUE(contains(gpu.out, "not made on the same hardware") && contains(gpu.out, "other_gpu.csv")) << gpu.out;
  test::write_text(dir / "cpu_only.csv", emissions_file({run_row("0.3", "0", "0.1", "")}));
  auto cpu = run(args("cpu_only.csv", "base_test.csv") + " -o " + (dir / "o3").string());
  EXPECT_EQ(cpu.rc, 2);
  EXPECT_TRUE(contains(cpu.out, "cpu_only.csv")) << cpu.out;
  auto psds = run(args("train.csv", "base_test.csv") + " --psds 1.2 -o " + (dir / "o4").string());
  EXPECT_EQ(psds.rc, 2);
  EXPECT_TRUE(contains(psds.out, "outside [0, 1]")) << psds.out;
  test::write_text(dir / "text.csv", emissions_file({run_row("0.05", "lots", "0.025")}));
  auto text = run(args("text.csv", "base_test.csv") + " -o " + (dir / "o5").string());
  EXPECT_EQ(text.rc, 2);
  EXPECT_TRUE(contains(text.out, "text.csv:2: column 'gpu_energy' is not a number")) << text.out;
  for (const char* o : {"o2", "o3", "o4", "o5"}) EXPECT_FALSE(fs::exists(dir / o)) << o << ": nothing written half";
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

#if SEDENERGY_HAS_TORCH
TEST(Cli, StudyEndToEndOnATinyGeneratedDataset) {
  auto dir = test::temp_dir();
  auto out = (dir / "study").string();
  const std::string args = "study --device cpu --grid mlp:1x512,cnn:1x128,rnn:1x128,crnn:1x1:64x64 --clips 16 "
                           "--min-window 0.2 --warmup-steps 1 --repetitions 1 --out " + out;
  auto r = run(args);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "[4/4] ")) << r.out;
  EXPECT_TRUE(contains(r.out, "crnn:1x1:64x64 (repetition 1)")) << r.out;
  EXPECT_TRUE(contains(r.out, "ESTIMATED"));
  EXPECT_TRUE(contains(r.out, "database: " + out + "/results.db"));
  store::Store db(out + "/results.db");
  auto rows = db.rows();
  ASSERT_EQ(rows.size(), 8u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, "ok");
    EXPECT_GT(row.phase.energy_j, 0);
    EXPECT_GT(row.phase.duration_s, 0);
    EXPECT_GE(row.phase.window_s, 0.2);
    EXPECT_TRUE(row.phase.estimated);
    EXPECT_GT(row.flops_per_epoch, 0);
    EXPECT_EQ(row.clips, 16);
    // Test-set quality recorded with the energy.
    EXPECT_GE(row.metrics.map, 0);
    EXPECT_LE(row.metrics.map, 1);
    EXPECT_GE(row.metrics.accuracy, 0);
    EXPECT_TRUE(contains(row.metrics.per_class_json, "\"ap\""));
    if (row.config == "mlp:1x512") EXPECT_EQ(row.params, 4199946);
  }
  auto sessions = db.sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_FALSE(sessions[0].git_revision.empty());
  EXPECT_FALSE(sessions[0].libtorch_version.empty());
  EXPECT_TRUE(contains(sessions[0].config_json, "crnn:1x1:64x64"));
  auto html = test::read_text(fs::path(out) / "report/report.html");
  EXPECT_TRUE(contains(html, "id=\"c-flops\" data-expected-points=\"8\""));  // 4 configurations x 2 phases
  EXPECT_TRUE(fs::exists(fs::path(out) / "report/summary.md"));

  // A second run reuses the generated dataset and appends a session to the same database.
  auto again = run(args);
  ASSERT_EQ(again.rc, 0) << again.out;
  EXPECT_TRUE(contains(again.out, "reusing synthetic")) << again.out;
  EXPECT_EQ(store::Store(out + "/results.db").run_count(), 8);
  EXPECT_TRUE(contains(again.out, "loaded from cache")) << again.out;
}

TEST(Cli, StudyRefusesAConfigurationThatCannotFit) {
  auto dir = test::temp_dir();
  auto out = (dir / "study").string();
  // 8192 x 1,000,000 weights: ~131 GB with gradients and Adam state, far beyond this machine.
  auto r = run("study --device cpu --grid mlp:1x1000000,mlp:1x16 --clips 8 --min-window 0 --warmup-steps 0 "
               "--repetitions 1 --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;  // the sweep goes on
  EXPECT_TRUE(contains(r.out, "FAILED: does not fit: needs ~131")) << r.out;
  store::Store db(out + "/results.db");
  auto rows = db.rows();
  ASSERT_EQ(rows.size(), 3u);  // the refused run (no phases) and the other one's two phases
  for (const auto& row : rows) {
    if (row.config == "mlp:1x1000000") {
      EXPECT_EQ(row.status, "failed");
      EXPECT_TRUE(contains(row.error, "does not fit"));
    } else {
      EXPECT_EQ(row.status, "ok");
    }
  }
}

TEST(Cli, StudyResumesWhereACrashLeftIt) {
  auto dir = test::temp_dir();
  auto out = (dir / "study").string();
  const std::string args =
      "study --device cpu --grid mlp:1x16,mlp:1x32,mlp:1x64 --clips 8 --min-window 0 --repetitions 2 --out " + out;
  ASSERT_EQ(run(args).rc, 0);
  std::string lost;
  {
    store::Store db(out + "/results.db");
    ASSERT_EQ(db.run_count(), 6);
    for (const auto& row : db.rows()) {
      if (row.run_id == 6) lost = row.config;
    }
  }
  // A crash before the last run was committed: it is not in the database.
  sqlite3_exec_helper(out + "/results.db", "DELETE FROM phases WHERE run_id=6; DELETE FROM runs WHERE id=6;");
  auto r = run(args + " --resume");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "resume: 5 of 6 runs already finished")) << r.out;
  EXPECT_TRUE(contains(r.out, "[6/6] " + lost + " (repetition 2)")) << r.out;
  EXPECT_FALSE(contains(r.out, "[1/6]")) << r.out;
  EXPECT_TRUE(contains(r.out, "5 already done")) << r.out;
  store::Store db(out + "/results.db");
  EXPECT_EQ(db.run_count(), 6);
  EXPECT_EQ(db.sessions().size(), 1u);
  // Other options are another session: nothing is skipped.
  auto other = run("study --device cpu --grid mlp:1x16 --clips 8 --min-window 0 --batch 4 --repetitions 2 --resume --out " + out);
  EXPECT_TRUE(contains(other.out, "no earlier session")) << other.out;
}

TEST(Cli, CtrlCFinishesTheRunInProgressAndResumeCompletes) {
  auto dir = test::temp_dir();
  auto out = (dir / "study").string();
  const std::string grid = "mlp:1x16,mlp:1x32,mlp:1x64,mlp:1x128,mlp:1x256,mlp:1x512";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    execl(SEDENERGY_BIN, SEDENERGY_BIN, "study", "--device", "cpu", "--grid", grid.c_str(), "--clips", "8",
          "--min-window", "1", "--repetitions", "1", "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  char buf[512];
  bool sent = false;
  while (ssize_t n = read(fds[0], buf, sizeof buf)) {
    if (n < 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (!sent && contains(text, "[2/6]")) {
      kill(pid, SIGINT);
      usleep(20000);
      kill(pid, SIGINT);  // as GNU timeout does (child, then its process group): still one request
      sent = true;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(sent) << text;
  ASSERT_TRUE(WIFEXITED(status)) << text;
  EXPECT_EQ(WEXITSTATUS(status), 130) << text;
  EXPECT_TRUE(contains(text, "continue with --resume")) << text;
  EXPECT_TRUE(fs::exists(out + "/report/report.html"));
  int done = store::Store(out + "/results.db").run_count();
  EXPECT_GE(done, 1);  // the runs finished before Ctrl-C; the one in progress was cut short (interrupted)
  EXPECT_LT(done, 6);
  auto r = run("study --device cpu --grid " + grid + " --clips 8 --min-window 1 --repetitions 1 --resume --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(store::Store(out + "/results.db").run_count(), 6);
}

TEST(Cli, TwoSweepsWriteOneDatabaseAtOnce) {
  auto dir = test::temp_dir();
  ASSERT_EQ(run("synth --out " + (dir / "ds").string() + " --clips 8 --seconds 2").rc, 0);
  const std::string common = std::string(SEDENERGY_BIN) + " study --device cpu --data " + (dir / "ds").string() +
                             " --min-window 0.3 --repetitions 1 --out " + (dir / "out").string();
  const std::string cmd = "(" + common + " --grid mlp:1x16,mlp:1x32,mlp:1x48 > /dev/null 2>&1 & " + common +
                          " --grid mlp:1x64,mlp:1x80,mlp:1x96 > /dev/null 2>&1 & wait)";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  store::Store db((dir / "out/results.db").string());
  EXPECT_EQ(db.run_count(), 6);
  EXPECT_EQ(db.sessions().size(), 2u);
  EXPECT_EQ(db.rows().size(), 12u);
  auto check = run("report " + (dir / "out/results.db").string() + " -o " + (dir / "rep").string());
  EXPECT_EQ(check.rc, 0) << check.out;
  // Net energy asked of CPU runs (no GPU counter): the report says why it shows the total instead.
  auto net = run("report " + (dir / "out/results.db").string() + " -o " + (dir / "net").string() + " --energy net");
  EXPECT_EQ(net.rc, 0) << net.out;
  EXPECT_TRUE(contains(test::read_text(dir / "net/summary.md"), "net energy: some runs have no GPU energy counter"));
  EXPECT_EQ(run("report " + (dir / "out/results.db").string() + " --energy idle").rc, 2);
  FILE* p = popen(("sqlite3 " + (dir / "out/results.db").string() + " 'PRAGMA integrity_check'").c_str(), "r");
  char buf[64] = {0};
  ASSERT_NE(fgets(buf, sizeof buf, p), nullptr);
  pclose(p);
  EXPECT_EQ(std::string(buf), "ok\n");
}

TEST(Cli, ShardsOfASweepMergeIntoOneDatabase) {
  auto dir = test::temp_dir();
  ASSERT_EQ(run("synth --out " + (dir / "ds").string() + " --clips 8 --seconds 2").rc, 0);
  const std::string common = "study --device cpu --data " + (dir / "ds").string() +
                             " --grid mlp:1x16,mlp:1x32,mlp:1x48 --min-window 0 --repetitions 1 --out ";
  auto a = run(common + (dir / "a").string() + " --shard 1/2");
  auto b = run(common + (dir / "b").string() + " --shard 2/2");
  ASSERT_EQ(a.rc, 0) << a.out;
  ASSERT_EQ(b.rc, 0) << b.out;
  EXPECT_TRUE(contains(a.out, "[2/2] ")) << a.out;  // configurations 1 and 3
  EXPECT_TRUE(contains(a.out, "mlp:1x48 (repetition 1)")) << a.out;
  EXPECT_TRUE(contains(b.out, "[1/1] mlp:1x32")) << b.out;
  auto m = run("merge " + (dir / "all.db").string() + " " + (dir / "a/results.db").string() + " " +
               (dir / "b/results.db").string());
  ASSERT_EQ(m.rc, 0) << m.out;
  EXPECT_TRUE(contains(m.out, "3 runs in 2 sessions")) << m.out;
  auto again = run("merge " + (dir / "all.db").string() + " " + (dir / "a/results.db").string());
  EXPECT_TRUE(contains(again.out, "0 runs added")) << again.out;
  EXPECT_EQ(run("merge " + (dir / "all.db").string() + " " + (dir / "none.db").string()).rc, 2);
  // A failed merge into a new output leaves no file; a foreign SQLite file is not written into.
  test::write_text(dir / "junk.db", "not a database at all, but long enough to look like one......................");
  EXPECT_EQ(run("merge " + (dir / "new.db").string() + " " + (dir / "junk.db").string()).rc, 2);
  EXPECT_FALSE(fs::exists(dir / "new.db"));
  sqlite3_exec_helper((dir / "foreign.db").string(), "CREATE TABLE notes(text TEXT);");
  auto foreign = run("merge " + (dir / "foreign.db").string() + " " + (dir / "a/results.db").string());
  EXPECT_EQ(foreign.rc, 2);
  EXPECT_TRUE(contains(foreign.out, "SQLite database of something else")) << foreign.out;
  EXPECT_EQ(run(common + (dir / "c").string() + " --shard 3/2").rc, 2);
  EXPECT_EQ(run(common + (dir / "c").string() + " --shard 4/4").rc, 2);  // 3 configurations, no 4th
}

TEST(Cli, StudyOnTheFlyFeaturesAndHeldOutTestSet) {
  auto dir = test::temp_dir();
  auto out = (dir / "study").string();
  auto r = run("study --device cpu --grid mlp:1x64 --clips 10 --min-window 0 --warmup-steps 0 --repetitions 1 "
               "--feature-mode on-the-fly "
               "--holdout 0.3 --frames 0 --seconds 2 --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "(on-the-fly)")) << r.out;
  store::Store db(out + "/results.db");
  auto rows = db.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].clips, 7);  // 3 of 10 clips held out for testing
  EXPECT_TRUE(contains(db.sessions()[0].dataset, "held-out 3 clips"));
  EXPECT_TRUE(contains(db.sessions()[0].config_json, "on-the-fly"));
  // Full-length input: 2 s at 44.1 kHz, hop 256 -> 345 frames; FLOPs follow the input size.
  auto flops_64 = run("flops mlp:1x64 --frames 345 --json");
  EXPECT_TRUE(contains(flops_64.out, std::to_string(128 * 345 * 64 + 64 + 64 * 10 + 10)));
  EXPECT_EQ(rows[0].params, 128LL * 345 * 64 + 64 + 64 * 10 + 10);
}

TEST(Cli, StudyRepetitionsComeInterleavedWithEveryKnobRecorded) {
  auto dir = test::temp_dir();
  auto out = (dir / "study").string();
  auto r = run("study --device cpu --grid mlp:1x16,cnn:1x4 --clips 8 --min-window 0 --warmup-steps 0 --repetitions 3 "
               "--epochs 1,2 --fraction 0.5,1 --loss bce-logits --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  store::Store db(out + "/results.db");
  EXPECT_EQ(db.run_count(), 2 * 2 * 2 * 3);
  int last_rep = 0;
  std::set<std::string> seen;
  std::int64_t last_run = 0;
  for (const auto& row : db.rows()) {
    if (row.run_id == last_run) continue;
    last_run = row.run_id;
    // Every variant of repetition r runs before any of repetition r + 1.
    EXPECT_GE(row.repetition, last_rep);
    last_rep = row.repetition;
    EXPECT_TRUE(seen.insert(row.variant + "#" + std::to_string(row.repetition)).second) << row.variant;
    EXPECT_EQ(row.clips, row.fraction == 0.5 ? 4 : 8);
    EXPECT_EQ(row.variant.find("[") != std::string::npos, row.fraction != 1 || row.epochs_per_unit != 1) << row.variant;
    if (row.phase.phase == "train") EXPECT_EQ(row.phase.epochs, row.epochs_per_unit);  // no minimum window
  }
  EXPECT_TRUE(contains(db.sessions()[0].config_json, "\"loss\":\"bce-logits\""));
  EXPECT_TRUE(seen.count("cnn:1x4 [fraction 0.5, epochs 2]#3"));
  // The DCASE baseline has no logits to give: refused by name, the sweep goes on.
  auto d = run("study --device cpu --grid dcase-baseline,mlp:1x8 --clips 4 --min-window 0 --repetitions 1 --loss bce-logits "
               "--out " + (dir / "d").string());
  EXPECT_EQ(d.rc, 0) << d.out;
  EXPECT_TRUE(contains(d.out, "FAILED: --loss bce-logits needs a model ending in a class softmax")) << d.out;
}

TEST(Cli, StudyConfigurationsFromPresetsAndFiles) {
  auto dir = test::temp_dir();
  test::write_text(dir / "mine.json", R"({"name": "mine", "grid": "mlp:1x16", "clips": 8, "repetitions": 2,
                                          "epochs": [1, 2], "min_window_s": 0, "warmup_steps": 0})");
  auto out = (dir / "a").string();
  auto r = run("study --device cpu --config " + (dir / "mine.json").string() + " --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(store::Store(out + "/results.db").run_count(), 4);
  // An option on the command line wins over the file.
  auto o = run("study --device cpu --config " + (dir / "mine.json").string() + " --repetitions 1 --out " +
               (dir / "b").string());
  ASSERT_EQ(o.rc, 0) << o.out;
  EXPECT_EQ(store::Store((dir / "b/results.db").string()).run_count(), 2);
  // The keys are the options' names; the earlier spellings are read with a note, and record the same session.
  test::write_text(dir / "named.json", R"({"grid": "mlp:1x16", "clips": 8, "repetitions": 1, "fraction": [0.5, 1],
                                           "min_window": 0, "warmup_steps": 0, "idle": 0, "preset": "paper"})");
  auto named = run("study --device cpu --config " + (dir / "named.json").string() + " --out " + (dir / "c").string());
  ASSERT_EQ(named.rc, 0) << named.out;
  EXPECT_FALSE(contains(named.out, "note: --config")) << named.out;
  EXPECT_EQ(store::Store((dir / "c/results.db").string()).run_count(), 2);  // two fractions
  test::write_text(dir / "old.json", R"({"grid": "mlp:1x16", "clips": 8, "repetitions": 1, "fractions": [0.5, 1],
                                         "min_window_s": 0, "warmup_steps": 0, "idle_s": 0, "feature_preset": "paper"})");
  auto old = run("study --device cpu --resume --config " + (dir / "old.json").string() + " --out " + (dir / "c").string());
  ASSERT_EQ(old.rc, 0) << old.out;
  EXPECT_TRUE(contains(old.out, "key 'min_window_s' is now 'min_window' (still read)")) << old.out;
  EXPECT_TRUE(contains(old.out, "key 'feature_preset' is now 'preset' (still read)")) << old.out;
  EXPECT_TRUE(contains(old.out, "resume: 2 of 2 runs already finished")) << old.out;  // the same options
  test::write_text(dir / "bad.json", R"({"grid": "mlp:1x16", "repetitons": 2})");
  auto bad = run("study --device cpu --config " + (dir / "bad.json").string() + " --out " + out);
  EXPECT_EQ(bad.rc, 2);
  EXPECT_TRUE(contains(bad.out, "unknown key 'repetitons' (known: holdout, feature_mode, grid, clips")) << bad.out;
  test::write_text(dir / "bad2.json", R"({"epochs": "many"})");
  auto bad2 = run("study --device cpu --config " + (dir / "bad2.json").string() + " --out " + out);
  EXPECT_EQ(bad2.rc, 2);
  EXPECT_TRUE(contains(bad2.out, "'epochs' must be a non-empty list of integers, not \"many\"")) << bad2.out;
  test::write_text(dir / "bad3.json", R"({"clips": 2.5})");
  auto bad3 = run("study --device cpu --config " + (dir / "bad3.json").string() + " --out " + out);
  EXPECT_EQ(bad3.rc, 2);
  EXPECT_TRUE(contains(bad3.out, "'clips' must be an integer, not 2.5")) << bad3.out;  // not truncated to 2
  test::write_text(dir / "bad4.json", R"({"min_window_s": "5 s"})");
  auto bad4 = run("study --device cpu --config " + (dir / "bad4.json").string() + " --out " + out);
  EXPECT_EQ(bad4.rc, 2);
  EXPECT_TRUE(contains(bad4.out, "'min_window_s' must be a number, not \"5 s\"")) << bad4.out;
  auto none = run("study --device cpu --config paper44 --out " + out);
  EXPECT_EQ(none.rc, 2);
  EXPECT_TRUE(contains(none.out, "paper43, quick, scaling")) << none.out;
  EXPECT_TRUE(contains(run("study --help").out, "fullinput, paper43, quick, scaling"));
  auto frac = run("study --device cpu --grid mlp:1x8 --fraction 1.5 --out " + out);
  EXPECT_EQ(frac.rc, 2);
  EXPECT_TRUE(contains(frac.out, "--fraction: 1.5 is outside (0, 1]")) << frac.out;
  EXPECT_EQ(run("study --device cpu --grid mlp:1x8 --cooldown soon --out " + out).rc, 2);
  // A number no double holds, and a key said twice: the file is named, never a raw JSON library error.
  test::write_text(dir / "huge.json", R"({"grid": "mlp:1x16", "lr": 1e400})");
  auto huge = run("study --device cpu --config " + (dir / "huge.json").string() + " --out " + out);
  EXPECT_EQ(huge.rc, 2);
  EXPECT_TRUE(contains(huge.out, (dir / "huge.json").string() + ": study configuration is not valid JSON")) << huge.out;
  EXPECT_TRUE(contains(huge.out, "1e400")) << huge.out;
  test::write_text(dir / "twice.json", R"({"grid": "mlp:1x16", "repetitions": 1, "repetitions": 3})");
  auto twice = run("study --device cpu --config " + (dir / "twice.json").string() + " --out " + out);
  EXPECT_EQ(twice.rc, 2);
  EXPECT_TRUE(contains(twice.out, (dir / "twice.json").string() + ": study configuration: key 'repetitions' is given twice"))
      << twice.out;
}

// Issue 18, item 10 and the option names: an unlabelled list (DESED's unlabeled_in_domain TSV has a file name
// column only) cannot train or score a model; a missing --test-data is reported as --test-data.
TEST(Cli, StudyRefusesUnlabelledClipsAndNamesTheTestDataOption) {
  auto dir = test::temp_dir();
  ASSERT_EQ(run("synth --out " + (dir / "ds").string() + " --clips 4 --seconds 2").rc, 0);
  std::string names = "filename\n";
  for (const auto& line : split(test::read_text(dir / "ds/metadata/train/weak.tsv"), '\n')) {
    if (!line.empty() && !starts_with(line, "filename")) names += split(line, '\t')[0] + "\n";
  }
  test::write_text(dir / "unlabeled.tsv", names);
  const std::string base = "study --device cpu --grid mlp:1x16 --min-window 0 --out " + (dir / "o").string();
  auto unlabelled = run(base + " --data " + (dir / "ds/audio/train/weak").string() + " --tsv " + (dir / "unlabeled.tsv").string());
  EXPECT_EQ(unlabelled.rc, 2) << unlabelled.out;
  EXPECT_TRUE(contains(unlabelled.out, "--data: none of the 4 clips listed in " + (dir / "unlabeled.tsv").string() +
                                            " has a label")) << unlabelled.out;
  auto test_data = run(base + " --data " + (dir / "ds").string() + " --test-data " + (dir / "nope").string());
  EXPECT_EQ(test_data.rc, 2);
  EXPECT_TRUE(contains(test_data.out, "--test-data: folder '" + (dir / "nope").string() + "' does not exist")) << test_data.out;
  // features still reads an unlabelled list: featurising needs no labels.
  EXPECT_EQ(run("features --data " + (dir / "ds/audio/train/weak").string() + " --tsv " + (dir / "unlabeled.tsv").string() +
                " --out " + (dir / "f").string()).rc, 0);
}

TEST(Cli, OneWorkerProcessPerDeviceSharesTheRunsOfOneDatabase) {
  auto dir = test::temp_dir();
  auto out = (dir / "multi").string();
  // On the CPU (--device cpu) the workers are real processes writing one database, as on GPUs.
  auto r = run("study --device cpu --devices 0,1 --grid mlp:1x16,mlp:1x32,cnn:1x4 --clips 8 --min-window 0.2 "
               "--repetitions 2 --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "6 runs ok")) << r.out;
  EXPECT_TRUE(fs::exists(out + "/logs/worker-gpu0.log"));
  EXPECT_TRUE(fs::exists(out + "/logs/worker-gpu1.log"));
  EXPECT_TRUE(fs::exists(out + "/report/report.html"));
  store::Store db(out + "/results.db");
  EXPECT_EQ(db.run_count(), 6);  // each run once, by whichever worker claimed it
  EXPECT_EQ(db.sessions().size(), 2u);
  for (const auto& row : db.rows()) {  // two workers measure one host: each window gets half its CPU/RAM energy
    EXPECT_TRUE(contains(row.phase.cpu_method, "x 0.5 (this process's share")) << row.phase.cpu_method;
  }
  std::set<std::string> items;
  for (const auto& row : db.rows()) items.insert(row.variant + "#" + std::to_string(row.repetition));
  EXPECT_EQ(items.size(), 6u);
  EXPECT_EQ(run("study --device cpu --devices 0,0 --grid mlp:1x16 --out " + out).rc, 2);
}
#endif

#if SEDENERGY_HAS_TORCH
// Ctrl-C on a multi-worker study: every worker finishes its run, nothing half-written, --resume completes.
TEST(Cli, CtrlCStopsEveryWorkerCleanlyAndResumeCompletes) {
  auto dir = test::temp_dir();
  auto out = (dir / "multi").string();
  const std::string grid = "mlp:1x16,mlp:1x32,mlp:1x64,mlp:1x128,cnn:1x4,cnn:1x8";
  const pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(SEDENERGY_BIN, SEDENERGY_BIN, "study", "--device", "cpu", "--devices", "0,1", "--grid", grid.c_str(),
          "--clips", "8", "--min-window", "1", "--repetitions", "2", "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until a first run is in the database, then interrupt.
  for (int i = 0; i < 600; ++i) {
    usleep(100000);
    if (fs::exists(out + "/results.db") && store::Store(out + "/results.db").run_count() > 0) break;
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  int done = store::Store(out + "/results.db").run_count();
  EXPECT_GE(done, 1);
  EXPECT_LT(done, 12);
  for (const auto& row : store::Store(out + "/results.db").rows()) {
    if (row.status == "interrupted") continue;  // cut short by the stop request: redone by --resume
    EXPECT_EQ(row.status, "ok");
    EXPECT_FALSE(row.phase.phase.empty());  // every finished run has its phases
  }
  auto r = run("study --device cpu --devices 0,1 --grid " + grid + " --clips 8 --min-window 1 --repetitions 2 --resume "
               "--out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  store::Store db(out + "/results.db");
  EXPECT_EQ(db.run_count(), 12);
  std::set<std::string> items;
  int ok_rows = 0;
  std::set<std::int64_t> ok_runs;
  for (const auto& row : db.rows()) {
    if (row.status != "ok" || !ok_runs.insert(row.run_id).second) continue;
    items.insert(row.variant + "#" + std::to_string(row.repetition));
    ++ok_rows;
  }
  EXPECT_EQ(items.size(), 12u);  // each run once: the interrupted ones were redone, none twice
  EXPECT_EQ(ok_rows, 12);
}
#endif

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

#if SEDENERGY_HAS_TORCH
// A stop request cuts the measurement windows short (a 10-minute --min-window does not keep the study
// running): the run in progress is recorded as interrupted, never as ok, and --resume redoes it.
TEST(Cli, StopRequestEndsTheWindowAndTheRunIsRedoneOnResume) {
  auto dir = test::temp_dir();
  const std::string out = (dir / "st").string();
  const std::vector<std::string> args = {"study", "--grid", "mlp:1x16", "--device", "cpu", "--clips", "16",
                                         "--repetitions", "1", "--warmup-steps", "0", "--cooldown", "0",
                                         "--min-window", "600", "--out", out};
  const pid_t pid = start_cli(args, dir / "st.log");
  for (int i = 0; i < 600 && !contains(test::read_text(dir / "st.log"), "[1/1]"); ++i) usleep(50000);
  ASSERT_TRUE(contains(test::read_text(dir / "st.log"), "[1/1]")) << test::read_text(dir / "st.log");
  usleep(500000);
  const double t0 = monotonic_s();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_LT(monotonic_s() - t0, 30.0);
  const auto log = test::read_text(dir / "st.log");
  EXPECT_TRUE(contains(log, "INTERRUPTED")) << log;
  {
    store::Store db(out + "/results.db", store::Store::Access::kRead);
    auto rows = db.rows();
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows[0].status, "interrupted");
    EXPECT_EQ(db.run_count(), 0);  // not a finished run
  }
  // The same study resumed: the interrupted run is not counted as finished, so it runs again.
  auto again = args;
  again.push_back("--resume");
  const pid_t second = start_cli(again, dir / "again.log");
  for (int i = 0; i < 600 && !contains(test::read_text(dir / "again.log"), "[1/1]"); ++i) usleep(50000);
  kill(second, SIGTERM);
  waitpid(second, &status, 0);
  EXPECT_TRUE(contains(test::read_text(dir / "again.log"), "resume: 0 of 1 runs already finished"))
      << test::read_text(dir / "again.log");
}

// Issue 18, item 5. A write that fails (the shell's file size limit stands in for a full disk: the same
// failed write(2), without root or a tmpfs) is an error naming the file; no truncated report is left
// under its name. A study killed with -9 leaves a results.db that holds its finished runs on its own.
TEST(Cli, AFailedWriteOrAKilledStudyLosesNothing) {
  auto dir = test::temp_dir();
  const std::string out = (dir / "st").string(), data = (dir / "ds").string();
  ASSERT_EQ(run("synth --out " + data + " --clips 8 --seconds 2").rc, 0);
  const pid_t pid = start_cli({"study", "--grid", "mlp:1x16,mlp:1x32,mlp:1x48", "--device", "cpu", "--data", data,
                               "--repetitions", "2", "--warmup-steps", "0", "--min-window", "0.3", "--out", out},
                              dir / "st.log");
  for (int i = 0; i < 1200 && !contains(test::read_text(dir / "st.log"), "[3/6]"); ++i) usleep(50000);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(contains(test::read_text(dir / "st.log"), "[3/6]")) << test::read_text(dir / "st.log");
  fs::create_directories(dir / "alone");
  fs::copy_file(out + "/results.db", dir / "alone/results.db");  // the file alone, without its -wal
  EXPECT_GE(store::Store((dir / "alone/results.db").string(), store::Store::Access::kRead).run_count(), 2);

  // 500 kB: room for the database and the feature cache, not for report.html (the charting library alone
  // is larger). SIGXFSZ ignored, as a full disk would not kill the program either.
  const std::string limited = "trap '' XFSZ; prlimit --fsize=500000 ";
  ASSERT_EQ(run("report " + out + "/results.db -o " + (dir / "rep").string()).rc, 0);
  const auto before = test::read_text(dir / "rep/report.html");
  auto full = run_with(limited, "report " + out + "/results.db -o " + (dir / "rep").string());
  EXPECT_EQ(full.rc, 2) << full.out;
  EXPECT_TRUE(contains(full.out, "cannot write " + (dir / "rep/report.html").string())) << full.out;
  EXPECT_EQ(test::read_text(dir / "rep/report.html"), before);  // the old report, whole
  for (const auto& e : fs::directory_iterator(dir / "rep")) EXPECT_FALSE(contains(e.path().string(), ".tmp.")) << e.path();
  auto fresh = run_with(limited, "report " + out + "/results.db -o " + (dir / "rep2").string());
  EXPECT_EQ(fresh.rc, 2) << fresh.out;
  EXPECT_FALSE(fs::exists(dir / "rep2/report.html"));

  // A study whose report cannot be written says so and fails; its runs are in the database.
  auto study = run_with(limited, "study --grid mlp:1x16 --device cpu --data " + data +
                                     " --repetitions 1 --min-window 0 --out " + (dir / "s2").string());
  EXPECT_NE(study.rc, 0) << study.out;
  EXPECT_TRUE(contains(study.out, "report.html")) << study.out;
  EXPECT_EQ(store::Store((dir / "s2/results.db").string(), store::Store::Access::kRead).run_count(), 1);
}

// Issue 18, item 12: a clip and an --out folder whose names are not UTF-8 go through features (and its
// cache, twice) and a whole study with its report; the names are stored escaped, never a JSON error.
TEST(Cli, NamesThatAreNotUtf8GoThroughFeaturesAndAStudy) {
  auto dir = test::temp_dir();
  const std::string data = (dir / "ds").string(), odd = "s\xff.wav";
  ASSERT_EQ(run("synth --out " + data + " --clips 4 --seconds 2").rc, 0);
  fs::rename(fs::path(data) / "audio/train/weak/synth_00000.wav", fs::path(data) / "audio/train/weak" / odd);
  for (const char* tsv : {"weak.tsv", "strong.tsv"}) {
    const auto path = fs::path(data) / "metadata/train" / tsv;
    auto text = test::read_text(path);
    for (auto at = text.find("synth_00000.wav"); at != std::string::npos; at = text.find("synth_00000.wav")) {
      text.replace(at, 15, odd);
    }
    test::write_text(path, text);
  }
  const std::string features = "features --data " + data + " --cache " + (dir / "cache").string();
  auto first = run(features);
  ASSERT_EQ(first.rc, 0) << first.out;
  auto second = run(features);
  ASSERT_EQ(second.rc, 0) << second.out;
  EXPECT_TRUE(contains(second.out, "loaded from cache")) << second.out;
  const std::string out = (dir / "o\xff").string();
  auto study = run("study --device cpu --grid mlp:1x16 --repetitions 1 --min-window 0 --data " + data + " --out '" + out + "'");
  ASSERT_EQ(study.rc, 0) << study.out;
  EXPECT_EQ(store::Store(out + "/results.db", store::Store::Access::kRead).run_count(), 1);
  EXPECT_TRUE(contains(test::read_text(fs::path(out) / "report/report.html"), "</html>"));
}

// Issue 18, item 6: two --resume of one study at once continue one session and share its unfinished
// runs (claimed in the database); each run is done once. A claim left by a killed process is taken over.
TEST(Cli, TwoResumesAtOnceRunEachUnfinishedRunOnce) {
  auto dir = test::temp_dir();
  ASSERT_EQ(run("synth --out " + (dir / "ds").string() + " --clips 8 --seconds 2").rc, 0);
  const std::string study = "study --device cpu --data " + (dir / "ds").string() +
                            " --grid mlp:1x16,mlp:1x32,mlp:1x48,mlp:1x64 --repetitions 2 --min-window 0.3 "
                            "--warmup-steps 0 --out " + (dir / "out").string();
  ASSERT_EQ(run(study).rc, 0);
  const std::string db = (dir / "out/results.db").string();
  // As if the study had been killed after two runs: the claims of its ended process stay behind.
  sqlite3_exec_helper(db, "DELETE FROM phases WHERE run_id > 2; DELETE FROM runs WHERE id > 2;");
  const std::string bin = SEDENERGY_BIN;
  const std::string both = "(" + bin + " " + study + " --resume > " + (dir / "a.log").string() + " 2>&1 & " + bin + " " +
                           study + " --resume > " + (dir / "b.log").string() + " 2>&1 & wait)";
  ASSERT_EQ(std::system(both.c_str()), 0);
  const auto a = test::read_text(dir / "a.log"), b = test::read_text(dir / "b.log");
  EXPECT_TRUE(contains(a, "resume: 2 of 8 runs already finished")) << a;
  EXPECT_TRUE(contains(b, "resume: 2 of 8 runs already finished")) << b;
  store::Store check(db, store::Store::Access::kRead);
  std::map<std::string, int> per_key;
  for (const auto& row : check.rows()) {
    if (row.phase.phase == "train") ++per_key[row.variant + "#" + std::to_string(row.repetition)];
  }
  EXPECT_EQ(per_key.size(), 8u);
  for (const auto& [key, n] : per_key) EXPECT_EQ(n, 1) << key << "\n" << a << b;
  EXPECT_EQ(check.sessions().size(), 1u);
}
#endif

// Names that are not UTF-8 (bytes from the file system or the command line) never turn into a JSON error:
// the program's exit code comes back and the record is written (issue 18, item 12).
TEST(Cli, MeasureOfACommandWithNonUtf8BytesKeepsItsRecord) {
  auto dir = test::temp_dir();
  const std::string out = (dir / "m").string();
  auto r = run("measure --out " + out + " --period 0.05 -- sh -c 'exit 4' \"$(printf 'x\\377y')\"");
  EXPECT_EQ(r.rc, 4) << r.out;
  auto rec = measure_record(out);
  ASSERT_TRUE(rec.contains("command")) << r.out;
  EXPECT_EQ(rec["command"][3], "x\xEF\xBF\xBDy");  // the byte 0xff shown as U+FFFD
  for (const auto& e : fs::directory_iterator(out)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}
