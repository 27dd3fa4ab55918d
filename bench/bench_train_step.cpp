// Training-step time of sedenergy's C++ loop for each configuration of a grid, on one device: the same
// step as the study (forward, BCE on softmax, backward, Adam), batch 8, inputs already on the device so
// that only the step is timed. Prints one JSON line per configuration (median of 5 timed blocks).
// Usage: bench_train_step [--grid paper43] [--optimizer auto|fused|foreach|libtorch] [--device cuda]
//                         [--block-seconds 0.3] [--cudnn-tf32 default|on|off] [--cudnn-benchmark 0|1]
// bench/train_step_vs_pytorch.sh runs it next to bench/pytorch_train_step.py on the same GPU.
#include <algorithm>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/host.hpp"
#include "models/fast_adam.hpp"
#include "models/grids.hpp"
#include "models/torch_models.hpp"

using namespace sedenergy;

namespace {

int run(int argc, char** argv) {
  std::string grid = "paper43", optimizer = "auto", device = torch::cuda::is_available() ? "cuda" : "cpu";
  double block_s = 0.3;
  auto usage = [](const std::string& why) {
    return std::invalid_argument(why + " (see the usage at the top of bench/bench_train_step.cpp)");
  };
  if (argc % 2 == 0) throw usage(std::string("option ") + argv[argc - 1] + " has no value");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--grid") grid = v;
    else if (k == "--optimizer") optimizer = v;
    else if (k == "--device") device = v;
    else if (k == "--block-seconds") block_s = std::stod(v);
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
  const torch::Device dev(device);
  const models::InputShape shape{8, 128, 64};
  auto opts = torch::TensorOptions().device(dev);
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  for (const auto& spec : models::resolve_grid(grid)) {
    torch::manual_seed(1);
    models::SedNet model(spec, shape);
    model->to(dev);
    std::unique_ptr<models::FastAdam> fast;
    std::unique_ptr<torch::optim::Adam> ref;
    if (optimizer == "libtorch") ref = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
    else fast = std::make_unique<models::FastAdam>(model->parameters(), 1e-3, optimizer);
    auto x = torch::rand({8, 1, 128, 64}, opts);
    auto y = torch::zeros({8, 10}, opts);
    y.index_put_({torch::indexing::Slice(), 2}, 1.0);
    auto step = [&] {
      if (fast) fast->zero_grad(); else ref->zero_grad();
      models::bce_on_probabilities(model->forward(x), y).backward();
      if (fast) fast->step(); else ref->step();
    };
    for (int i = 0; i < 5; ++i) step();
    sync();
    std::vector<double> per_step;
    for (int b = 0; b < 5; ++b) {
      const double t0 = monotonic_s();
      int n = 0;
      do {
        step();
        ++n;
        if (n % 4 == 0) sync();
      } while (monotonic_s() - t0 < block_s || n < 4);  // >= 4 steps: the 180 ms CRNN steps too
      sync();
      per_step.push_back((monotonic_s() - t0) / n);
    }
    std::sort(per_step.begin(), per_step.end());
    nlohmann::json row = {{"config", spec.name()},
                          {"family", models::family_name(spec.family)},
                          {"impl", "sedenergy C++ (adam-" + (fast ? fast->method() : std::string("libtorch")) + ")"},
                          {"step_ms", 1e3 * per_step[2]},
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
