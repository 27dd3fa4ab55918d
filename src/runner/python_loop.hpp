// The study's reference loop (issue 33): a Python process running PyTorch as a user writes the loop
// (python/sedenergy/study_loop.py: torch.optim.Adam, a DataLoader with pinned memory, eager steps), driven
// over a pipe by the same windows as the C++ loop, so that the meter, the protocol and the records are the
// study's own and only the steps are Python's. One worker process serves a study's runs one after the other.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "models/implementation.hpp"
#include "models/spec.hpp"
#include "runner/loop.hpp"
#include "runner/plan.hpp"
#include "runner/trainer.hpp"

namespace sedenergy::runner {

// The Python process: requests and replies are JSON lines on its stdin and stdout; a reply {"error": ...}
// becomes an Error, a worker that ended an Error naming its exit. Batch sources travel once, as raw float32
// files in a folder of its own (removed with it). A stop request reaches it as SIGUSR1 (it ends the epoch
// after the step in progress); SIGINT and SIGTERM it leaves to this process.
class PythonWorker {
 public:
  // `python`: the interpreter; the package's folder of this source tree goes first on its PYTHONPATH.
  explicit PythonWorker(const std::string& python);
  ~PythonWorker();
  PythonWorker(const PythonWorker&) = delete;
  PythonWorker& operator=(const PythonWorker&) = delete;

  nlohmann::json call(const nlohmann::json& request);
  // The worker's name for a source, sent to it the first time.
  std::string source_name(const BatchSource& source);
  void stop_when(const std::atomic<bool>* flag) { stop_ = flag; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // "Python 3.12.3, PyTorch 2.11.0"
  const std::string& versions() const { return versions_; }

 private:
  void start(const std::string& python);  // the process and its pipes
  void end();                              // asked to quit (killed after 5 s), its pipes and folder gone
  std::string read_line();
  Error ended();  // the worker waited for, and why it ended
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string folder_, pending_, versions_;
  std::map<const BatchSource*, std::string> sources_;
  const std::atomic<bool>* stop_ = nullptr;
  bool stop_sent_ = false;
};

class PythonLoop : public Loop {
 public:
  // A fresh model of `spec` (the global generator seeded with `seed`) and its optimizer in the worker.
  PythonLoop(PythonWorker& worker, const BatchSource& train, const BatchSource& test, const BatchSource* validation,
             const DeviceChoice& dev, const StudyOptions& opt, const models::Implementation& impl,
             const models::ModelSpec& spec, const models::InputShape& shape, std::uint64_t seed);

  void stop_when(const std::atomic<bool>* flag) override { worker_.stop_when(flag); }
  std::string optimizer_method() const override { return method_; }
  std::int64_t parameter_count() override { return parameters_; }
  void synchronize() const override {}  // each reply comes after the worker's device synchronisation
  double cpu_seconds() const override;
  void warm_up(const torch::Tensor& subset, int steps) override;
  int train_epoch(const torch::Tensor& subset, int steps = -1) override;
  double training_loss(const torch::Tensor& subset) override;
  void test_epoch() override;
  std::pair<std::vector<float>, std::vector<float>> predict(const BatchSource* source = nullptr) override;
  void keep_weights(const std::string& slot) override;
  void restore_weights(const std::string& slot) override;

 private:
  // The training subset, sent when it is not the one the worker has.
  void use_subset(const torch::Tensor& subset);
  PythonWorker& worker_;
  std::string train_, test_;
  std::map<const BatchSource*, std::string> predictable_;
  std::string method_;
  std::int64_t parameters_ = 0;
  std::vector<std::int64_t> subset_;
};

// The Python loop's process, when an implementation of the plan runs in it (else null): started before any
// run, so that an interpreter without PyTorch is an InputError naming --python at once.
std::unique_ptr<PythonWorker> start_python_loop(const StudyPlan& plan, std::ostream& log);

}  // namespace sedenergy::runner
