// measure and dcase as a user runs them: a real program measured, CodeCarbon rows, records, reports.
#include <gtest/gtest.h>

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
  for (int i = 0; i < 1500 && !fs::exists(started); ++i) usleep(20000);  // up to 30 s, as below
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
  // Up to 30 s: measure opens NVML and the GPU first, slow on a loaded GPU machine.
  for (int i = 0; i < 1500 && test::read_text(pid_file).empty(); ++i) usleep(20000);
  ASSERT_FALSE(test::read_text(pid_file).empty()) << test::read_text(dir / "k.log");
  const pid_t child = static_cast<pid_t>(std::stol(test::read_text(pid_file)));
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  // Ended, or a zombie: killed with measure, it waits for the host's init to reap it (slow on a loaded CI).
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = !running(child);
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

// Preemption (Slurm, Kubernetes: SIGTERM to the job) keeps the measurement: the window so far is written,
// flagged as interrupted, and the signal reaches the program (issue 35, item 1).
TEST(Cli, MeasureStoppedBySigtermWritesTheWindowSoFar) {
  auto dir = test::temp_dir();
  const std::string out = (dir / "m").string();
  const auto started = dir / "started";
  const pid_t pid = start_cli({"measure", "--out", out, "--no-gpu", "--period", "0.05", "--", "sh", "-c",
                               "touch " + started.string() + "; exec sleep 60"},
                              dir / "log");
  for (int i = 0; i < 1500 && !fs::exists(started); ++i) usleep(20000);
  ASSERT_TRUE(fs::exists(started)) << test::read_text(dir / "log");
  usleep(300000);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  const auto log = test::read_text(dir / "log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << log;  // the program's own end: killed by the signal passed on
  EXPECT_EQ(split(test::read_text(fs::path(out) / "emissions.csv"), '\n').size(), 3u) << log;  // header, row, ""
  const auto rec = measure_record(out);
  ASSERT_TRUE(rec.contains("window")) << log;
  EXPECT_GE(rec["window"]["duration_s"].get<double>(), 0.3);
  EXPECT_EQ(rec["exit_code"], 128 + SIGTERM);
  bool flagged = false;
  for (const auto& f : rec["window"]["flags"]) flagged |= contains(f, "interrupted: sedenergy measure received SIGTERM");
  EXPECT_TRUE(flagged) << rec["window"]["flags"].dump();
}

// A shell starts background jobs with SIGINT ignored, and exec keeps that: measure's program must still be
// stopped by the SIGINT sent to measure, not run to its end (issue 35, item 1).
TEST(Cli, MeasureStartedInTheBackgroundPassesSigintOn) {
  auto dir = test::temp_dir();
  const std::string out = (dir / "m").string(), started = (dir / "started").string();
  test::write_text(dir / "job.sh", std::string(SEDENERGY_BIN) + " measure --out " + out +
                                       " --no-gpu -- sh -c 'touch " + started + "; exec sleep 60' &\n" +
                                       "for i in $(seq 300); do [ -e " + started + " ] && break; sleep 0.1; done\n" +
                                       "sleep 0.3; kill -INT $!; wait $!; echo rc=$?\n");
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(("sh " + (dir / "job.sh").string() + " 2>&1").c_str(), "r");
  ASSERT_TRUE(p);
  std::string text;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  pclose(p);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(40)) << "the program ran to its end";
  EXPECT_TRUE(contains(text, "rc=130")) << text;  // sleep ended by SIGINT
  EXPECT_EQ(split(test::read_text(fs::path(out) / "emissions.csv"), '\n').size(), 3u) << text;
  EXPECT_TRUE(contains(measure_record(out)["window"]["flags"].dump(), "received SIGINT")) << text;
}

// A write that fails (a full disk; here the file-size limit, which fails writes the same way) leaves neither the
// CSV row nor the JSON record, so a re-run adds no second row (issue 35, item 6).
TEST(Cli, MeasureWritesItsRowAndRecordBothOrNeither) {
  auto dir = test::temp_dir();
  const std::string out = (dir / "m").string();
  ASSERT_EQ(run("measure --out " + out + " --no-gpu -- true").rc, 0);
  const std::string csv_before = test::read_text(fs::path(out) / "emissions.csv");
  auto count_json = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(out)) n += e.path().extension() == ".json";
    return n;
  };
  ASSERT_EQ(count_json(), 1);
  // Writes past 4 KiB fail: the record (with its timeline) is larger, the CSV row would fit.
  const std::string limited = "sh -c 'trap \"\" XFSZ; ulimit -f 8; exec " + std::string(SEDENERGY_BIN) +
                              " measure --out " + out + " --no-gpu --period 0.01 -- sleep 0.5' 2>&1";
  FILE* p = popen(limited.c_str(), "r");
  ASSERT_TRUE(p);
  std::string text;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 2) << text;
  EXPECT_TRUE(contains(text, "neither")) << text;
  EXPECT_EQ(test::read_text(fs::path(out) / "emissions.csv"), csv_before) << "a row without its record";
  EXPECT_EQ(count_json(), 1);
  for (const auto& e : fs::directory_iterator(out)) EXPECT_FALSE(contains(e.path().string(), ".tmp")) << e.path();
}

// A copy of a results file given beside it is the same measurements: the report reads them once, as merge
// does (issue 35, item 5).
TEST(Cli, ReportReadsACopiedDatabaseOnce) {
  auto dir = test::temp_dir();
  const std::string db = (dir / "mine.db").string(), copy = (dir / "copy.db").string();
  ASSERT_EQ(run("measure --out " + (dir / "m").string() + " --db " + db + " --no-gpu -- true").rc, 0);
  ASSERT_EQ(run("measure --out " + (dir / "m").string() + " --db " + db + " --no-gpu -- true").rc, 0);
  fs::copy_file(db, copy);
  auto r = run("report " + db + " " + copy + " -o " + (dir / "r").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "windows: 2")) << r.out;
  EXPECT_TRUE(contains(r.out, "copy.db: 2 windows already read from an earlier input")) << r.out;
  // A folder of emissions CSVs copied likewise (its rows' run, file name and time are the same).
  fs::copy(dir / "m", dir / "copy");
  r = run("report " + (dir / "m").string() + " " + (dir / "copy").string() + " -o " + (dir / "r2").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "windows: 2")) << r.out;
}

// dcase: a folder named as a file, an energy_consumed column that is text, NaN or disagrees with its domains,
// and an implausible energy (issue 35, item 7).
TEST(Cli, DcaseNamesFoldersAndDoubtfulEnergyColumns) {
  auto dir = test::temp_dir();
  const std::string good = (dir / "good.csv").string();
  auto row = run_row("0.01", "0.1", "0.005");
  row["energy_consumed"] = "0.115";
  test::write_text(good, emissions_file({row}));
  auto args = [&](const std::string& train) {
    return "dcase --train " + train + " --test " + good + " --baseline-train " + good + " --baseline-test " + good +
           " -o " + (dir / "o").string();
  };
  auto folder = run(args(dir.string()));
  EXPECT_EQ(folder.rc, 2);
  EXPECT_TRUE(contains(folder.out, "--train '" + dir.string() + "' is a folder")) << folder.out;
  for (const std::string bad : {"nan", "lots"}) {
    auto r2 = row;
    r2["energy_consumed"] = bad;
    test::write_text(dir / "bad.csv", emissions_file({r2}));
    auto r = run(args((dir / "bad.csv").string()));
    EXPECT_EQ(r.rc, 2) << bad;
    EXPECT_TRUE(contains(r.out, "bad.csv:2: column 'energy_consumed' is not a number")) << r.out;
  }
  auto huge = row;
  huge["energy_consumed"] = "1e300";
  test::write_text(dir / "huge.csv", emissions_file({huge}));
  auto r = run(args((dir / "huge.csv").string()));
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(contains(r.out, "huge.csv:2: column 'energy_consumed' is 1e300 kWh: not a plausible energy")) << r.out;
  auto other = row;
  other["energy_consumed"] = "0.5";
  test::write_text(dir / "other.csv", emissions_file({other}));
  r = run(args((dir / "other.csv").string()));
  EXPECT_EQ(r.rc, 0) << r.out;  // read by its domains, with a warning
  EXPECT_TRUE(contains(r.out, "warning: " + (dir / "other.csv").string() + ":2: energy_consumed 0.5 kWh is not "
                              "cpu_energy + gpu_energy + ram_energy (0.115 kWh)")) << r.out;
  EXPECT_FALSE(contains(run(args(good)).out, "warning")) << "a row that adds up is not doubted";
}

// The submission's figures in one file: kWh per phase, normalised energy, EW-PSDS and, from the Python
// package's complexity JSON, parameters and MACs; a complexity file that is not one is refused by name.
TEST(Cli, DcaseWritesTheSubmissionFiguresWithTheModelsComplexity) {
  auto dir = test::temp_dir();
  test::write_text(dir / "train.csv", emissions_file({run_row("0.05", "0.5", "0.025")}));
  test::write_text(dir / "test.csv", emissions_file({run_row("0.01", "0.1", "0.005")}));
  test::write_text(dir / "bt.csv", emissions_file({run_row("0.2", "1.5", "0.1")}));
  test::write_text(dir / "be.csv", emissions_file({run_row("0.02", "0.12", "0.01")}));
  test::write_text(dir / "c.json", R"({"params": 1112420, "trainable_params": 1112420, "macs": 931000000,
      "conventions": {"thop": {"macs": 930902000, "flops": 1861804000}}, "inputs": [[1, 1, 128, 626]], "uncounted": {}})");
  const std::string args = "dcase --train " + (dir / "train.csv").string() + " --test " + (dir / "test.csv").string() +
                           " --baseline-train " + (dir / "bt.csv").string() + " --baseline-test " +
                           (dir / "be.csv").string() + " --psds 0.5 -o " + (dir / "o").string();
  auto r = run(args + " --complexity " + (dir / "c.json").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto yaml = test::read_text(dir / "o" / "dcase-submission.yaml");
  for (const char* line : {"training_kwh: 0.575", "baseline_training_kwh: 1.8", "devtest_inference_kwh: 0.115",
                           "  total_parameters: 1112420", "  macs_thop: 930902000", "  macs_exact: 931000000",
                           "gpu_model: \"NVIDIA A100-SXM4-40GB\""}) {
    EXPECT_TRUE(contains(yaml, line)) << line << "\n" << yaml;
  }
  const auto rec = nlohmann::json::parse(test::read_text(dir / "o" / "dcase.json"));
  EXPECT_NEAR(rec["submission"]["ew_psds1_training"].get<double>(), 0.5 * 1.8 / 0.575, 1e-9);
  EXPECT_TRUE(contains(r.out, "1112420 parameters")) << r.out;
  test::write_text(dir / "bad.json", R"({"params": "many"})");
  auto bad = run(args + " --complexity " + (dir / "bad.json").string());
  EXPECT_EQ(bad.rc, 2);
  EXPECT_TRUE(contains(bad.out, "bad.json: 'params' must be a number")) << bad.out;
  auto missing = run(args + " --complexity " + (dir / "none.json").string());
  EXPECT_EQ(missing.rc, 2);
  EXPECT_TRUE(contains(missing.out, "--complexity")) << missing.out;
}
