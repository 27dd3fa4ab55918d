#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "energy/cuda_device.hpp"
#include "energy/emissions.hpp"
#include "energy/meter.hpp"
#include "usage/user_runs.hpp"

namespace fs = std::filesystem;

namespace sedenergy::cli {
namespace {

volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_stop_signal = 0;  // the termination signal that reached us (and so the program); 0: none
constexpr double kStopGraceS = 10;        // then a program that has not ended is killed
constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Forwards signals sent to sedenergy (kill, a job scheduler) to the measured program. Signals from the
// terminal (si_code SI_KERNEL) already reach the whole foreground process group, child included.
void forward_signal(int sig, siginfo_t* info, void*) {
  for (int stop : kStopSignals) {
    if (sig == stop && g_stop_signal == 0) g_stop_signal = sig;
  }
  if (g_child > 0 && (!info || info->si_code != SI_KERNEL)) kill(g_child, sig);
}

// Installed before anything is measured, so a stop that comes early (a preempted job) never ends sedenergy
// by the default action, which would lose the window.
void forward_signals() {
  struct sigaction sa {};
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);
}

// Waits for the program; once asked to stop, gives it kStopGraceS to end, then kills it (`killed` says so).
int wait_child(pid_t pid, bool& killed) {
  int status = 0;
  double stop_at = -1;
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return status;
    if (g_stop_signal && stop_at < 0) stop_at = monotonic_s();
    if (stop_at >= 0 && !killed && monotonic_s() - stop_at > kStopGraceS) {
      kill(pid, SIGKILL);
      killed = true;
    }
    usleep(100000);  // 10 wake-ups a second: nothing next to the measured program
  }
}

// Runs argv without a shell; returns its exit status (128 + signal when killed); 127 if it cannot start.
// The program dies with us (a kill -9 of sedenergy must not leave it running unmeasured).
int run_child(const std::vector<std::string>& args, std::string& start_error, bool& killed) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw Error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(pipefd[0]);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);  // the parent died before prctl took effect
    // A shell starting sedenergy in the background leaves SIGINT and SIGQUIT ignored, and exec keeps that:
    // the program must be stoppable by the signals forwarded to it (SIGHUP stays as given: nohup).
    for (int sig : {SIGINT, SIGTERM, SIGQUIT}) signal(sig, SIG_DFL);
    execvp(argv[0], argv.data());
    int e = errno;
    if (write(pipefd[1], &e, sizeof e) < 0) _exit(127);
    _exit(127);
  }
  close(pipefd[1]);
  g_child = pid;
  if (g_stop_signal) kill(pid, g_stop_signal);  // the stop came while it was starting
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(pipefd[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  const int status = wait_child(pid, killed);
  g_child = 0;
  if (n == sizeof child_errno) {
    start_error = "cannot run '" + args[0] + "': " + std::strerror(child_errno);
    return 127;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct MeasureArgs {
  std::vector<std::string> command;
  std::string out = ".", project = "sedenergy", experiment, country, region, gpus, db;
  double carbon = -1, period = 0.1, idle = 0, pue = 1;
  bool no_gpu = false;
};

// The CSV's context: project, experiment, PUE and the carbon intensity (country and region, or a value).
energy::EmissionsContext emissions_context(const MeasureArgs& a) {
  if (!a.country.empty() && a.carbon >= 0) throw InputError("give --country or --carbon-intensity, not both");
  if (!a.region.empty() && a.country.empty()) throw InputError("--region needs --country (e.g. --country CAN --region QC)");
  energy::EmissionsContext ctx;
  ctx.project_name = a.project;
  ctx.experiment_id = a.experiment;
  ctx.pue = a.pue;
  if (!a.country.empty()) ctx.carbon = energy::carbon_intensity_for_country(a.country, a.region);
  if (a.carbon >= 0) ctx.carbon = energy::carbon_intensity_value(a.carbon);
  return ctx;
}

// The program's GPUs (--gpus, else CUDA_VISIBLE_DEVICES, Slurm or by process) and the sampler.
energy::MeterOptions measure_meter_options(const MeasureArgs& a) {
  energy::MeterOptions mo;
  mo.period_s = a.period;
  mo.use_gpus = !a.no_gpu;
  if (!a.gpus.empty()) {
    for (const auto& raw : split(a.gpus, ',')) {
      if (!energy::add_gpu_id(trim(raw), mo)) {
        throw InputError("--gpus '" + a.gpus + "': expected NVML indices or UUIDs, like 0,1 or GPU-8f2a");
      }
    }
    mo.gpu_selection = "--gpus " + a.gpus;
  } else if (mo.use_gpus) {
    std::cerr << "sedenergy measure: GPUs: " << energy::select_program_gpus(mo) << "\n";
  }
  // Processes outside this one's tree (the program is in it) that use a measured GPU are flagged.
  mo.owner_pid = getpid();
  return mo;
}

// The emissions CSV to append to, checked before running anything so a measurement is never lost at the
// end, and without creating anything: a run that stops here must leave no empty emissions.csv behind.
std::string checked_emissions_file(const MeasureArgs& a) {
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) throw InputError("--out '" + a.out + "': " + ec.message());
  std::string redirect;
  const std::string csv = energy::emissions_file_for((fs::path(a.out) / "emissions.csv").string(), &redirect);
  if (!redirect.empty()) std::cerr << "sedenergy measure: " << redirect << "\n";
  if (fs::exists(csv) ? ::access(csv.c_str(), W_OK) != 0 : ::access(a.out.c_str(), W_OK | X_OK) != 0) {
    throw InputError("--out: cannot write " + csv + " (" + std::strerror(errno) + ")");
  }
  return csv;
}

void print_result(const energy::WindowResult& result, const std::string& csv, const std::string& json_path) {
  std::cerr << "sedenergy: " << result.duration_s << " s, " << result.total_energy_j() << " J (";
  for (std::size_t i = 0; i < result.domains.size(); ++i) {
    const auto& d = result.domains[i];
    std::cerr << (i ? ", " : "") << d.domain << " " << d.energy_j << " J" << (d.estimated ? " estimated" : "");
  }
  std::cerr << ")\n";
  if (!csv.empty()) std::cerr << "sedenergy: wrote " << csv << " and " << json_path << "\n";
}

// The window's outputs, all or none: the JSON record is written to a temporary file first, then the CSV row
// is appended, then the record is renamed into place; a full disk at either step leaves neither (a re-run
// then adds no second row). The results database (--db), a store of its own, is written last.
void write_outputs(const MeasureArgs& a, const energy::EmissionsContext& ctx, const energy::WindowResult& result,
                   const nlohmann::json& rec, const std::string& csv) {
  const std::string json_path = (fs::path(a.out) / ("sedenergy-measure-" + ctx.run_id + ".json")).string();
  try {
    TempFile record(json_path);
    record.write(json_text(rec, 1) + "\n");
    energy::append_emissions_csv(csv, result, ctx);
    record.commit();
  } catch (const InputError& e) {
    print_result(result, "", "");
    throw InputError(std::string(e.what()) + "\nsedenergy measure: neither " + csv + " nor " + json_path +
                     " was written; the figures above are the window's");
  }
  if (!a.db.empty()) {
    nlohmann::json window = rec["window"];
    window["timeline"] = rec["timeline"];
    usage::record_window(a.db,
                         {{"run_uuid", ctx.run_id}, {"source", "measure"}, {"project_name", ctx.project_name},
                          {"experiment_id", ctx.experiment_id}, {"command", join(a.command, " ")}},
                         window);
  }
  print_result(result, csv, json_path);
}

// Flags of a window whose program was stopped or killed on the way.
void flag_stop(energy::WindowResult& result, bool killed) {
  if (g_stop_signal) {
    result.flags.push_back(std::string("interrupted: sedenergy measure received SIG") + sigabbrev_np(g_stop_signal) +
                           " and passed it on; the window holds the program's run until it ended");
    std::cerr << "sedenergy measure: " << result.flags.back() << "\n";
  }
  if (killed) {
    result.flags.push_back("the program did not end within " + format_number(kStopGraceS) +
                           " s of the stop signal and was killed");
    std::cerr << "sedenergy measure: " << result.flags.back() << "\n";
  }
}

// Measures the program as one window and writes its row, record and (with --db) results entry; returns
// the program's exit code.
int measure_program(const MeasureArgs& a) {
  forward_signals();
  energy::check_sampler_period(a.period, "--period");
  energy::EmissionsContext ctx = emissions_context(a);
  const energy::MeterOptions mo = measure_meter_options(a);
  const std::string csv = checked_emissions_file(a);
  energy::Meter meter(mo);
  try {
    meter.check_selection();
  } catch (const InputError& e) {
    throw InputError(std::string("--gpus / CUDA_VISIBLE_DEVICES: ") + e.what());
  }
  for (const auto& s : meter.sensors()) {  // said once, before the run: the CPU/RAM figures will be estimates
    if (s.name == "rapl" && s.detail.find("permission denied") != std::string::npos) {
      std::cerr << "sedenergy measure: CPU and RAM energy will be estimated: " << s.detail << "\n";
    }
  }
  ctx.host = read_host_info();
  ctx.run_id = energy::random_uuid();
  meter.start();
  nlohmann::json idle_json;
  if (a.idle > 0) idle_json = meter.measure_idle(a.idle).to_json();
  if (g_stop_signal) {  // stopped before the program started: nothing of it to measure
    std::cerr << "sedenergy measure: SIG" << sigabbrev_np(g_stop_signal) << " before the program started; nothing measured\n";
    return 128 + g_stop_signal;
  }
  const double t0 = monotonic_s();
  auto w = meter.begin(join(a.command, " "));
  std::string start_error;
  bool killed = false;
  const int rc = run_child(a.command, start_error, killed);
  std::vector<energy::Sample> samples;
  auto result = meter.end(w, &samples);
  flag_stop(result, killed);
  meter.stop();
  if (!start_error.empty()) {
    std::cerr << "sedenergy: error: " << start_error << "\n";
    return rc;
  }
  for (const auto& g : meter.gpus_in(result)) ctx.gpu_models.push_back(g.name);
  if (!result.gpu_sharing.empty()) {
    std::cerr << "sedenergy measure: other processes used a measured GPU (see the record's flags and gpu_sharing)\n";
  }
  nlohmann::json rec = {{"run_id", ctx.run_id}, {"command", a.command}, {"exit_code", rc}, {"window", result.to_json()},
                        {"carbon_intensity_g_per_kwh", ctx.carbon.g_per_kwh},
                        {"carbon_intensity_source", ctx.carbon.source}, {"sensors", meter.sensors_json()},
                        {"timeline", energy::timeline_json(samples, t0)}};
  if (!idle_json.is_null()) rec["idle"] = idle_json;
  write_outputs(a, ctx, result, rec, csv);
  return rc;
}

}  // namespace

void setup_measure(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<MeasureArgs>();
  auto* sub = app.add_subcommand(
      "measure",
      "Run a program (no shell) and measure it as one window; append a CodeCarbon-compatible emissions.csv and\n"
      "write a JSON record with the timeline. The program's exit code is returned.\n"
      "Examples:\n  sedenergy measure -- python3 train.py --epochs 10\n"
      "  sedenergy measure --out energy --country FRA --experiment-id baseline -- ./my_system test");
  sub->add_option("--out", a->out, "folder for emissions.csv and the JSON record")->capture_default_str();
  sub->add_option("--project-name", a->project, "project_name column")->capture_default_str();
  sub->add_option("--experiment-id", a->experiment, "experiment_id column");
  sub->add_option("--country", a->country, "ISO 3166 alpha-3 code for the carbon intensity (205 countries: FRA, USA, CAN, ...)");
  sub->add_option("--region", a->region, "with --country: a province or bidding zone where the data has them "
                  "(CAN: QC, ON, ...; SWE: SE1-SE4; NOR: NO1-NO5), by code or name");
  sub->add_option("--pue", a->pue, "power usage effectiveness of the data centre: energy x PUE (the CSV's pue column)")
      ->check(finite_in(1, 10))
      ->capture_default_str();
  sub->add_option("--carbon-intensity", a->carbon, "g CO2eq per kWh (default: world average 475)")
      ->check(finite_in(0, 5000));
  sub->add_option("--period", a->period, "sampler period in seconds")->capture_default_str();
  sub->add_option("--gpus", a->gpus, "GPUs to measure: NVML indices or UUIDs, e.g. 0,1 or GPU-8f2a (default: those CUDA_VISIBLE_DEVICES "
                  "gives the program, mapped by PCI bus id; else Slurm's SLURM_STEP_GPUS/SLURM_JOB_GPUS; else the GPUs on which "
                  "the program holds a context, found through NVML)");
  sub->add_flag("--no-gpu", a->no_gpu, "do not measure GPUs");
  sub->add_option("--db", a->db, "also record the window in this results database (for `sedenergy report`)");
  sub->add_option("--idle", a->idle, "seconds of idle baseline before the program (0: none)")
      ->check(finite_in(0, energy::kMaxIdleS))->capture_default_str();
  sub->add_option("command", a->command, "the program and its arguments (after --)")->required();
  sub->callback([a, &exit_code] { exit_code = measure_program(*a); });
}

}  // namespace sedenergy::cli
