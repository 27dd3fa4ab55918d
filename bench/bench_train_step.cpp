// Training- and test-step time of sedenergy's runner (the study's own loop: runner::Trainer, or
// runner::PythonLoop for the implementations spelled .../python, pytorch-default among them) for each
// configuration of a grid under one implementation (models/implementation.hpp), on one device: BCE on
// softmax, batch 8, whole epochs over a random 1578-clip set as the study runs them (the last partial batch
// included). Prints one JSON line per configuration: the median of --blocks (5) timed blocks of whole epochs, per step,
// and on a GPU with NVML each block's energy per epoch (the GPU's total-energy counter around the block).
// Usage: bench_train_step [--grid paper43] [--impl default|pytorch-default|fastest|...|foreach/eager/fp32/host]
//                         [--optimizer auto|fused|foreach|libtorch] [--device cuda] [--block-seconds 0.3]
//                         [--clips 1578] [--cudnn-tf32 default|on|off] [--cudnn-benchmark 0|1] [--python python3]
//                         [--blocks 5]
// bench/train_step_vs_pytorch.sh runs it next to bench/pytorch_train_step.py on the same GPU.
#include <algorithm>
#include <cmath>
#include <memory>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/host.hpp"
#include "energy/cuda_device.hpp"
#include "energy/nvml.hpp"
#include "models/grids.hpp"
#include "models/torch_models.hpp"
#include "runner/python_loop.hpp"
#include "runner/trainer.hpp"

using namespace sedenergy;

namespace {

struct BenchOptions {
  std::string grid = "paper43", impl = "default", optimizer = "auto", python = "python3";
  std::string device = torch::cuda::is_available() ? "cuda" : "cpu";
  double block_s = 0.3;
  int clips = 1578;
  int blocks = 5;  // more blocks: a tighter interval on the energy per epoch (issue 33 item 1)
};

BenchOptions parse(int argc, char** argv) {
  BenchOptions o;
  auto usage = [](const std::string& why) {
    return std::invalid_argument(why + " (see the usage at the top of bench/bench_train_step.cpp)");
  };
  // A number option's value (all of it; `whole`: an integer), at least `least`, or an error naming the option.
  auto number = [&](const std::string& k, const std::string& v, int least, bool whole) {
    std::size_t used = 0;
    double x = NAN;
    try {
      x = std::stod(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || !(x >= least) || (whole && x != std::floor(x))) {
      throw usage(k + " " + v + ": expected " + (whole ? "a whole number" : "a number") + " of at least " +
                  std::to_string(least));
    }
    return x;
  };
  if (argc % 2 == 0) throw usage(std::string("option ") + argv[argc - 1] + " has no value");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--grid") o.grid = v;
    else if (k == "--impl") o.impl = v;
    else if (k == "--optimizer") o.optimizer = v;
    else if (k == "--python") o.python = v;
    else if (k == "--device") o.device = v;
    else if (k == "--block-seconds") o.block_s = number(k, v, 0, false);
    else if (k == "--clips") o.clips = static_cast<int>(number(k, v, 1, true));
    else if (k == "--blocks") o.blocks = static_cast<int>(number(k, v, 1, true));
    else if (k == "--cudnn-tf32") {
      if (v != "default" && v != "on" && v != "off") throw usage("--cudnn-tf32 " + v + ": expected default, on or off");
      if (v != "default") at::globalContext().setAllowTF32CuDNN(v == "on");
    } else if (k == "--cudnn-benchmark") {
      if (v != "0" && v != "1") throw usage("--cudnn-benchmark " + v + ": expected 0 or 1");
      at::globalContext().setBenchmarkCuDNN(v == "1");
    } else {
      throw usage("unknown option " + k);
    }
  }
  return o;
}

// The used GPU's NVML total-energy counter (matched to CUDA device 0 by PCI bus id); read() is NaN without it.
class EnergyCounter {
 public:
  explicit EnergyCounter(bool cuda) {
    if (!cuda) return;
    std::string why;
    auto api = energy::load_nvml(why);
    if (!api) return;
    nvml_ = std::make_unique<energy::Nvml>(api);
    const std::string bus = energy::cuda_pci_bus_id(0);
    for (const auto& g : nvml_->gpus()) {
      if (g.has_energy_counter && energy::normalize_pci_bus_id(g.pci_bus_id) == bus) gpu_ = &g;
    }
  }
  double read() const {
    double j = NAN;
    std::string error;
    if (gpu_ && !nvml_->energy_j(*gpu_, j, error)) j = NAN;
    return j;
  }

 private:
  std::unique_ptr<energy::Nvml> nvml_;
  const energy::GpuInfo* gpu_ = nullptr;
};

// `count` timed blocks, each of whole epochs (at least one) lasting block_s: the median seconds per step, and each
// block's joules per epoch (NaN without an energy counter).
struct Blocks {
  double s_per_step = 0;
  std::vector<double> j_per_epoch;
};
Blocks time_blocks(const std::function<void()>& epoch, int steps_per_epoch, double block_s, int count, bool cuda,
                   const EnergyCounter& counter) {
  auto sync = [&] {
    if (cuda) torch::cuda::synchronize();
  };
  std::vector<double> seconds;
  Blocks out;
  for (int b = 0; b < count; ++b) {
    sync();
    const double t0 = monotonic_s(), j0 = counter.read();
    int n = 0;
    do {
      epoch();
      ++n;
    } while (monotonic_s() - t0 < block_s);
    sync();
    seconds.push_back((monotonic_s() - t0) / (n * steps_per_epoch));
    out.j_per_epoch.push_back((counter.read() - j0) / n);
  }
  std::sort(seconds.begin(), seconds.end());
  out.s_per_step = seconds[seconds.size() / 2];  // the median (the upper one of an even count)
  return out;
}

nlohmann::json finite_or_null(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr));
  return a;
}

// One configuration's loop, its weights from manual_seed(1): the C++ steps, or the Python worker's.
std::unique_ptr<runner::Loop> make_loop(const models::ModelSpec& spec, const models::InputShape& shape,
                                        const runner::BatchSource& data, const runner::DeviceChoice& dev,
                                        const runner::StudyOptions& so, const models::Implementation& impl,
                                        runner::PythonWorker* python) {
  if (python) return std::make_unique<runner::PythonLoop>(*python, data, data, nullptr, dev, so, impl, spec, shape, 1);
  torch::manual_seed(1);
  models::SedNet model(spec, shape);
  model->to(dev.device);
  return std::make_unique<runner::Trainer>(data, data, dev, so, impl, model);
}

int run(int argc, char** argv) {
  const BenchOptions o = parse(argc, argv);
  runner::DeviceChoice dev;
  dev.device = torch::Device(o.device);
  dev.cuda = dev.device.is_cuda();
  runner::StudyOptions so;
  so.batch = 8;
  so.optimizer = o.optimizer;
  const auto impls = models::runnable_implementations(o.impl, o.optimizer, {dev.cuda, runner::cuda_graphs_available(), true}, "--impl");
  if (impls.size() != 1) throw std::invalid_argument("--impl " + o.impl + ": one implementation per run");
  const models::Implementation& impl = impls.front();
  const models::InputShape shape{8, 128, 64};
  torch::manual_seed(1);
  auto y = torch::zeros({o.clips, 10});
  y.index_put_({torch::indexing::Slice(), 2}, 1.0);
  runner::BatchSource data(torch::rand({o.clips, 1, 128, 64}), y);
  if (impl.device_data) data.keep_on(dev.device);
  const auto all = torch::arange(o.clips, torch::TensorOptions().dtype(torch::kLong));
  const int steps = runner::Trainer::steps_per_epoch(o.clips, so.batch);
  const EnergyCounter counter(dev.cuda);
  so.python = o.python;
  std::unique_ptr<runner::PythonWorker> python;
  if (impl.python) python = std::make_unique<runner::PythonWorker>(o.python);
  for (const auto& spec : models::resolve_grid(o.grid)) {
    const auto loop = make_loop(spec, shape, data, dev, so, impl, python.get());
    loop->warm_up(all, 5);
    const Blocks train = time_blocks([&] { loop->train_epoch(all); }, steps, o.block_s, o.blocks, dev.cuda, counter);
    const Blocks test = time_blocks([&] { loop->test_epoch(); }, steps, o.block_s, o.blocks, dev.cuda, counter);
    std::string why = "the Python loop: kernels are counted on the C++ loop's captured graphs";
    auto* trainer = dynamic_cast<runner::Trainer*>(loop.get());
    // After the timing: counting runs a step.
    const auto [train_kernels, test_kernels] = trainer ? trainer->count_kernels(why) : std::pair<int, int>{-1, -1};
    nlohmann::json row = {{"config", spec.name()},
                          {"family", models::family_name(spec.family)},
                          {"params", loop->parameter_count()},
                          {"impl", impl.name()},
                          {"spelled", impl.spelled()},
                          {"side", std::string(impl.python ? "sedenergy's Python loop (" : "sedenergy C++ (") +
                                       loop->optimizer_method() + ")"},
                          {"step_ms", 1e3 * train.s_per_step},
                          {"test_step_ms", 1e3 * test.s_per_step},
                          {"train_j_per_epoch_blocks", finite_or_null(train.j_per_epoch)},
                          {"test_j_per_epoch_blocks", finite_or_null(test.j_per_epoch)},
                          {"train_kernels_per_step", train_kernels},
                          {"test_kernels_per_step", test_kernels},
                          {"cudnn_tf32", at::globalContext().allowTF32CuDNN()},
                          {"cublas_tf32", at::globalContext().allowTF32CuBLAS()},
                          {"cudnn_benchmark", at::globalContext().benchmarkCuDNN()}};
    std::cout << row.dump() << "\n" << std::flush;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_train_step: " << e.what() << "\n";
    return 2;
  }
}
