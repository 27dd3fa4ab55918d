#include "runner/python_loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/host.hpp"

#ifndef SEDENERGY_PYTHON_DIR
#define SEDENERGY_PYTHON_DIR ""
#endif

namespace fs = std::filesystem;

extern char** environ;

namespace sedenergy::runner {

namespace {

// The source tree's python/ first on the worker's PYTHONPATH, where it is (an installed package serves
// otherwise).
std::string worker_pythonpath() {
  const std::string here = SEDENERGY_PYTHON_DIR;
  const char* old = std::getenv("PYTHONPATH");
  std::error_code ec;
  if (here.empty() || !fs::is_directory(fs::path(here) / "sedenergy", ec)) return old ? old : "";
  return old && *old ? here + ":" + old : here;
}

void write_tensor(const torch::Tensor& t, const fs::path& path) {
  const auto c = t.to(torch::kFloat32).contiguous();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(c.data_ptr<float>()), static_cast<std::streamsize>(c.numel() * sizeof(float)));
  if (!f) throw Error("cannot write " + path.string() + " for the Python loop");
}

std::vector<float> floats(const nlohmann::json& a) { return a.get<std::vector<float>>(); }

}  // namespace

PythonWorker::PythonWorker(const std::string& python) {
  // A worker that ended makes a write to its pipe fail with EPIPE (an Error naming it), not end this process.
  std::signal(SIGPIPE, SIG_IGN);
  // The sources go over as files (the paper43 input is about 50 MB): in $TMPDIR where a cluster sets it.
  const char* tmp = std::getenv("TMPDIR");
  const std::string parent = tmp && *tmp ? tmp : "/tmp";
  std::string tmpl = parent + "/sedenergy-python-loop.XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    throw InputError("cannot make a folder for the Python loop's data in " + parent + " (" + std::strerror(errno) +
                     (tmp && *tmp ? "): set TMPDIR to a writable folder" : ")"));
  }
  folder_ = tmpl;
  try {
    start(python);
    const auto hello = call({{"op", "hello"}});
    versions_ = "Python " + hello.value("python", std::string("?")) + ", PyTorch " + hello.value("torch", std::string("?"));
  } catch (...) {
    end();
    throw;
  }
}

PythonWorker::~PythonWorker() { end(); }

void PythonWorker::start(const std::string& python) {
  // Everything the child needs is made before fork: this process has threads (the meter's sampler), and
  // between fork and exec the child may only make system calls.
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "PYTHONPATH=", 11) != 0) env_text.emplace_back(*e);
  }
  const std::string path = worker_pythonpath();
  if (!path.empty()) env_text.push_back("PYTHONPATH=" + path);
  std::vector<char*> env, argv;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  std::string program = python, dash_m = "-m", module = "sedenergy.study_loop";
  argv = {program.data(), dash_m.data(), module.data(), nullptr};
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) throw Error("cannot make pipes for the Python loop");
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    throw Error("cannot make pipes for the Python loop");
  }
  to_ = in[1];
  from_ = out[0];
  pid_ = fork();
  if (pid_ == 0) {
    // A study killed outright (SIGKILL, OOM) takes its worker along: the signal comes when the forking
    // thread ends, and the study's runs are started from its main thread.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in[0], 0);
    dup2(out[1], 1);
    execvpe(argv[0], argv.data(), env.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  if (pid_ < 0) throw Error("cannot start the Python loop (" + python + ")");
}

void PythonWorker::end() {
  if (pid_ > 0) {
    const std::string quit = "{\"op\": \"quit\"}\n";
    (void)!write(to_, quit.data(), quit.size());
    close(to_);
    to_ = -1;
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) usleep(50000);
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  for (int* fd : {&to_, &from_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  if (!folder_.empty()) remove_tree(folder_);
  folder_.clear();
}

Error PythonWorker::ended() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return Error("the Python loop ended (" +
               (code == 127 ? std::string("exit 127: the interpreter was not found")
                : code >= 0 ? "exit " + std::to_string(code) + ": its message is above, e.g. no PyTorch"
                            : "signal " + std::to_string(WTERMSIG(status))) +
               ")");
}

std::string PythonWorker::read_line() {
  for (;;) {
    const auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (stop_ && *stop_ && !stop_sent_) {
      kill(pid_, SIGUSR1);  // ends its epoch after the step in progress
      stop_sent_ = true;
    }
    pollfd p{from_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;  // a timeout, or a signal: look at the stop request again
    char buf[65536];
    const ssize_t n = read(from_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ended();
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

nlohmann::json PythonWorker::call(const nlohmann::json& request) {
  if (pid_ <= 0) throw Error("the Python loop has ended");
  const std::string line = request.dump() + "\n";
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = write(to_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ended();  // EPIPE: it has ended, or is ending
    done += static_cast<std::size_t>(n);
  }
  const auto reply = nlohmann::json::parse(read_line(), nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) throw Error("the Python loop answered something that is not JSON");
  if (reply.contains("error")) throw Error("Python loop: " + reply["error"].get<std::string>());
  return reply;
}

std::string PythonWorker::source_name(const BatchSource& source) {
  const auto it = sources_.find(&source);
  if (it != sources_.end()) return it->second;
  if (!source.host_x().defined()) throw InputError("the Python loop reads cached features (not --feature-mode on-the-fly)");
  const std::string name = "source" + std::to_string(sources_.size());
  const fs::path x = fs::path(folder_) / (name + ".x.f32"), y = fs::path(folder_) / (name + ".y.f32");
  write_tensor(source.host_x(), x);
  write_tensor(source.host_y(), y);
  call({{"op", "source"}, {"name", name}, {"x", x.string()}, {"y", y.string()},
        {"x_shape", source.host_x().sizes().vec()}, {"y_shape", source.host_y().sizes().vec()}});
  sources_[&source] = name;
  return name;
}

PythonLoop::PythonLoop(PythonWorker& worker, const BatchSource& train, const BatchSource& test,
                       const BatchSource* validation, const DeviceChoice& dev, const StudyOptions& opt,
                       const models::Implementation& impl, const models::ModelSpec& spec,
                       const models::InputShape& shape, std::uint64_t seed)
    : worker_(worker), train_(worker.source_name(train)), test_(worker.source_name(test)) {
  predictable_[&test] = test_;
  if (validation) predictable_[validation] = worker.source_name(*validation);
  const auto r = impl.resolved();
  const auto reply = worker_.call(
      {{"op", "model"}, {"spec", spec.name()}, {"mels", shape.mels}, {"frames", shape.frames}, {"seed", seed},
       {"optimizer", r.optimizer}, {"precision", models::precision_name(r.precision)}, {"lr", opt.lr},
       {"batch", opt.batch}, {"loss", opt.loss}, {"train", train_}, {"test", test_},
       {"device", dev.cuda ? "cuda:" + std::to_string(dev.index) : std::string("cpu")}});
  parameters_ = reply.at("parameters").get<std::int64_t>();
  method_ = reply.at("optimizer").get<std::string>();
}

double PythonLoop::cpu_seconds() const { return process_cpu_seconds() + process_cpu_seconds(worker_.pid()); }

void PythonLoop::use_subset(const torch::Tensor& subset) {
  const auto c = subset.to(torch::kLong).contiguous();
  std::vector<std::int64_t> ids(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
  if (ids == subset_) return;
  worker_.call({{"op", "subset"}, {"indices", ids}});
  subset_ = std::move(ids);
}

void PythonLoop::warm_up(const torch::Tensor& subset, int steps) { train_epoch(subset, steps); }

int PythonLoop::train_epoch(const torch::Tensor& subset, int steps) {
  use_subset(subset);
  return worker_.call({{"op", "train_epoch"}, {"steps", steps}}).at("steps").get<int>();
}

double PythonLoop::training_loss(const torch::Tensor& subset) {
  use_subset(subset);
  const auto loss = worker_.call({{"op", "loss"}}).at("loss");
  return loss.is_number() ? loss.get<double>() : NAN;  // null: not finite
}

void PythonLoop::test_epoch() { worker_.call({{"op", "test_epoch"}}); }

std::pair<std::vector<float>, std::vector<float>> PythonLoop::predict(const BatchSource* source) {
  const auto it = source ? predictable_.find(source) : predictable_.end();
  if (source && it == predictable_.end()) throw Error("internal: the Python loop was not given this source");
  const auto reply = worker_.call({{"op", "predict"}, {"source", source ? it->second : test_}});
  return {floats(reply.at("scores")), floats(reply.at("targets"))};
}

void PythonLoop::keep_weights(const std::string& slot) { worker_.call({{"op", "keep"}, {"slot", slot}}); }
void PythonLoop::restore_weights(const std::string& slot) { worker_.call({{"op", "restore"}, {"slot", slot}}); }

std::unique_ptr<PythonWorker> start_python_loop(const StudyPlan& plan, std::ostream& log) {
  if (std::none_of(plan.impls.begin(), plan.impls.end(), [](const auto& i) { return i.python; })) return nullptr;
  try {
    auto python = std::make_unique<PythonWorker>(plan.opt.python);
    log << "Python loop: pid " << python->pid() << " (" << plan.opt.python << ", " << python->versions() << ")\n"
        << std::flush;
    return python;
  } catch (const InputError&) {
    throw;  // names what to change already
  } catch (const Error& e) {
    throw InputError("--python " + plan.opt.python + ": " + e.what() +
                     " (the Python loop needs an interpreter with PyTorch; --impl libtorch-default runs the same "
                     "choices in sedenergy's C++ loop)");
  }
}

}  // namespace sedenergy::runner
