// How a model is run, apart from what it is: the software choices that change one model's energy by up to
// 2.5x on one GPU (issue 16). An implementation is four choices, and the loop that runs them:
//   optimizer  foreach     PyTorch's default Adam (multi-tensor _foreach_ ops; bias corrections on the host)
//              fused       one fused Adam kernel for all tensors (CUDA; step counters on the device)
//              per-tensor  LibTorch's torch::optim::Adam (a loop over tensors, several kernels each)
//   graphs     eager       every kernel launched by the host, step by step
//              graph       the whole training step (forward, loss, backward, Adam) captured once into a CUDA
//                          graph and replayed; the test step likewise
//   precision  fp32        PyTorch's defaults: cuDNN's convolutions and RNNs on TF32 tensor cores, cuBLAS's
//                          matrix products in IEEE float32 (docs/FACTS.md §6.4)
//              tf32        TF32 tensor cores for cuBLAS's matrix products as well
//              ieee        IEEE float32 throughout (no TF32, in cuDNN either)
//              bf16        bf16 autocast (weights, gradients and Adam stay fp32)
//   data       host        each batch gathered on the host and copied, as a DataLoader does
//              device      the dataset resident on the GPU, batches indexed there
//   loop       (libtorch)  sedenergy's own steps in C++ (runner::Trainer): no Python between kernels
//              python      a Python process running PyTorch as a user writes the loop (runner::PythonLoop,
//                          python/sedenergy/study_loop.py): torch.optim.Adam, a DataLoader with pinned memory;
//                          eager steps and host batches only (issue 33: the study's reference)
// Written "fused/graph/fp32/device" (the C++ loop) or "foreach/eager/fp32/host/python", or by a preset's name. Torch-free: the CLI, the plan and the
// analysis read it.
#pragma once
#include <string>
#include <vector>

namespace sedenergy::models {

inline constexpr const char* kDefaultImplementation = "default";
// What a PyTorch user's plain loop runs, in Python: the study's reference, what the model findings read and the
// software choices are measured against where a study ran it. Before 2026-12-07 the name meant the same choices
// run by the C++ loop, which is now libtorch-default (a run's spec_json says which: its impl ends in /python).
inline constexpr const char* kPytorchDefaultImplementation = "pytorch-default";

enum class Precision { fp32, tf32, ieee, bf16 };
struct PrecisionChoice {
  Precision precision;
  const char* name;  // as spelled
};
const std::vector<PrecisionChoice>& precision_choices();  // in the order help and errors list them
const char* precision_name(Precision p);
// tf32 and ieee set CUDA's float32 math (cuBLAS's and cuDNN's TF32 flags); fp32 and bf16 leave its defaults.
inline bool sets_float32_math(Precision p) { return p == Precision::tf32 || p == Precision::ieee; }

// Default-constructed: the default preset (what a study runs unless told).
struct Implementation {
  std::string optimizer = "auto";  // foreach, fused, per-tensor; auto: PyTorch's default (foreach)
  bool graph = false;
  Precision precision = Precision::fp32;
  bool device_data = false;
  bool python = false;  // the loop: a Python process (true) or sedenergy's C++ steps
  std::string preset = kDefaultImplementation;  // the preset it was named by ("" when written out)

  // "fused/graph/fp32/device", "foreach/eager/fp32/host/python"
  std::string spelled() const;
  // The preset's name, else spelled(): what runs, variants and reports call it.
  std::string name() const { return preset.empty() ? spelled() : preset; }
  // auto resolved: foreach on every device, as torch.optim.Adam() chooses for CUDA and CPU tensors alike
  // (PyTorch 2.x; fused only when asked). So the study's default is what a PyTorch user's plain loop runs.
  Implementation resolved() const;
};

struct ImplementationPreset {
  const char* name;
  const char* spelled;  // "auto" as the optimizer: the study's --optimizer
  const char* what;
};
// The named implementations: default (what a study runs unless told), pytorch-default (what a PyTorch
// user's plain loop runs), and the faster ones.
const std::vector<ImplementationPreset>& implementation_presets();

// A preset's name or a spelled implementation; `optimizer` is the study's --optimizer (the default's).
// Throws InputError naming `option` and the text.
Implementation parse_implementation(const std::string& text, const std::string& optimizer, const std::string& option);
// A comma-separated list of them, each once.
std::vector<Implementation> parse_implementations(const std::string& list, const std::string& optimizer,
                                                  const std::string& option);

// Why the implementation cannot run here, "" when it can: graphs need CUDA (and a build with CUDA graphs)
// and the fused optimizer; bf16, tf32 and ieee need CUDA; device-resident data needs cached features; the
// Python loop runs eager steps on host batches of cached features.
struct RunContext {
  bool cuda = false;
  bool cuda_graphs_built = false;
  bool cached_features = true;
};
std::string implementation_refusal(const Implementation& impl, const RunContext& ctx);

// A run's variant: "mlp:1x512 [fraction 0.5, epochs 2, impl fastest]", the configuration with every knob
// that is not the default (the implementation last, by name). Runs' keys and reports' labels.
std::string variant_name(const std::string& config, double fraction, int epochs,
                         const std::string& impl = kDefaultImplementation);

// parse_implementations, each checked against `ctx` (InputError naming `option`, the implementation and why
// it cannot run) and resolved for its device.
std::vector<Implementation> runnable_implementations(const std::string& list, const std::string& optimizer,
                                                     const RunContext& ctx, const std::string& option);

}  // namespace sedenergy::models
