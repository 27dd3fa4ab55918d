#include "models/implementation.hpp"

#include <algorithm>
#include <functional>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy::models {

namespace {

const std::vector<std::string>& optimizers() {
  static const std::vector<std::string> v = {"foreach", "fused", "per-tensor"};
  return v;
}

// --optimizer's spellings: libtorch is the per-tensor loop.
std::string optimizer_of(const std::string& study_optimizer) {
  return study_optimizer == "libtorch" ? "per-tensor" : study_optimizer;
}

Precision parse_precision(const std::string& text, const std::function<InputError(const std::string&)>& bad) {
  std::vector<std::string> names;
  for (const auto& c : precision_choices()) {
    if (text == c.name) return c.precision;
    names.emplace_back(c.name);
  }
  throw bad("precision is " + join(names, ", ") + ", not '" + text + "'");
}

Implementation parse_spelled(const std::string& text, const std::string& option) {
  const auto parts = split(text, '/');
  auto bad = [&](const std::string& why) {
    std::vector<std::string> names;
    for (const auto& p : implementation_presets()) names.push_back(p.name);
    return InputError(option + " '" + text + "': " + why + " (a preset: " + join(names, ", ") +
                      "; or optimizer/graphs/precision/data[/python], e.g. fused/graph/fp32/device)");
  };
  if (parts.size() != 4 && parts.size() != 5) throw bad("not an implementation");
  if (parts.size() == 5 && parts[4] != "python") throw bad("the loop is python (or left out: C++), not '" + parts[4] + "'");
  Implementation impl;
  impl.preset.clear();
  impl.optimizer = parts[0];
  if (impl.optimizer != "auto" && std::find(optimizers().begin(), optimizers().end(), impl.optimizer) == optimizers().end()) {
    throw bad("unknown optimizer '" + parts[0] + "' (foreach, fused, per-tensor)");
  }
  if (parts[1] != "eager" && parts[1] != "graph") throw bad("graphs is eager or graph, not '" + parts[1] + "'");
  if (parts[3] != "host" && parts[3] != "device") throw bad("data is host or device, not '" + parts[3] + "'");
  impl.graph = parts[1] == "graph";
  impl.precision = parse_precision(parts[2], bad);
  impl.device_data = parts[3] == "device";
  impl.python = parts.size() == 5;
  return impl;
}

}  // namespace

const std::vector<PrecisionChoice>& precision_choices() {
  static const std::vector<PrecisionChoice> c = {
      {Precision::fp32, "fp32"}, {Precision::tf32, "tf32"}, {Precision::ieee, "ieee"}, {Precision::bf16, "bf16"}};
  return c;
}

const char* precision_name(Precision p) {
  for (const auto& c : precision_choices()) {
    if (c.precision == p) return c.name;
  }
  return "fp32";
}

std::string Implementation::spelled() const {
  return optimizer + "/" + (graph ? "graph" : "eager") + "/" + precision_name(precision) + "/" +
         (device_data ? "device" : "host") + (python ? "/python" : "");
}

Implementation Implementation::resolved() const {
  Implementation r = *this;
  if (r.optimizer == "auto") r.optimizer = "foreach";  // before issue 33: fused on CUDA
  return r;
}

const std::vector<ImplementationPreset>& implementation_presets() {
  static const std::vector<ImplementationPreset> p = {
      {kDefaultImplementation, "auto/eager/fp32/host", "the study's default: --optimizer's Adam (auto: PyTorch's foreach), eager, fp32, pinned batches from the host"},
      {kPytorchDefaultImplementation, "foreach/eager/fp32/host/python", "a PyTorch user's plain loop, in Python: torch.optim.Adam's default (foreach), eager, fp32, DataLoader batches with pinned memory"},
      {"libtorch-default", "foreach/eager/fp32/host", "the same choices in sedenergy's C++ loop (no Python per step; pytorch-default before 2026-12-07)"},
      {"pytorch-fused", "fused/eager/fp32/host/python", "a PyTorch user's plain loop with Adam(fused=True)"},
      {"device-data", "fused/eager/fp32/device", "fused Adam, the dataset resident on the GPU"},
      {"fastest", "fused/graph/fp32/device", "the whole step in a CUDA graph, the dataset on the GPU"},
      {"bf16", "fused/eager/bf16/device", "bf16 autocast, fused Adam, the dataset on the GPU"},
      {"graph-bf16", "fused/graph/bf16/device", "bf16 autocast inside a CUDA graph, the dataset on the GPU"},
      {"pytorch-tf32", "foreach/eager/tf32/host/python", "a PyTorch user's plain loop with torch.backends.cuda.matmul.allow_tf32 = True: TF32 tensor cores for every float32 matrix product"},
      {"pytorch-ieee", "foreach/eager/ieee/host/python", "a PyTorch user's plain loop with TF32 off in cuDNN too: IEEE float32 throughout"},
  };
  return p;
}

Implementation parse_implementation(const std::string& text, const std::string& optimizer, const std::string& option) {
  for (const auto& p : implementation_presets()) {
    if (text != p.name) continue;
    Implementation impl = parse_spelled(p.spelled, option);
    if (impl.optimizer == "auto") impl.optimizer = optimizer_of(optimizer);
    impl.preset = p.name;
    return impl;
  }
  return parse_spelled(text, option);
}

std::vector<Implementation> parse_implementations(const std::string& list, const std::string& optimizer,
                                                  const std::string& option) {
  std::vector<Implementation> out;
  for (const auto& raw : split(list, ',')) {
    const std::string text = trim(raw);
    if (text.empty()) throw InputError(option + " '" + list + "': an empty name");
    Implementation impl = parse_implementation(text, optimizer, option);
    for (const auto& seen : out) {
      if (seen.name() == impl.name()) throw InputError(option + " '" + list + "': '" + text + "' given twice");
    }
    out.push_back(impl);
  }
  if (out.empty()) throw InputError(option + " needs at least one implementation");
  return out;
}

std::string implementation_refusal(const Implementation& impl, const RunContext& ctx) {
  if (impl.graph && !ctx.cuda) return "CUDA graphs need a CUDA device";
  if (impl.graph && !ctx.cuda_graphs_built) return "this build has no CUDA graphs (built against a LibTorch without CUDA)";
  const std::string opt = impl.resolved().optimizer;
  if (impl.graph && opt != "fused") {
    return "a CUDA graph replays its kernels' arguments as captured, and " + opt +
           " Adam computes its bias corrections on the host each step: use the fused optimizer";
  }
  if (opt == "fused" && !ctx.cuda) return "the fused optimizer needs a CUDA device";
  if (impl.precision == Precision::bf16 && !ctx.cuda) return "bf16 autocast is run on CUDA devices only";
  if (sets_float32_math(impl.precision) && !ctx.cuda) {
    return std::string(precision_name(impl.precision)) + " sets CUDA's float32 math: CUDA devices only";
  }
  if (impl.device_data && !ctx.cached_features) {
    return "device-resident data needs cached features (--feature-mode on-the-fly computes each batch on the host)";
  }
  if (impl.python && (impl.graph || impl.device_data)) return "the Python loop is a user's plain loop: eager steps, host batches";
  if (impl.python && !ctx.cached_features) return "the Python loop reads cached features (not --feature-mode on-the-fly)";
  return "";
}

std::string variant_name(const std::string& config, double fraction, int epochs, const std::string& impl) {
  std::vector<std::string> knobs;
  if (fraction != 1) knobs.push_back("fraction " + format_number(fraction));
  if (epochs != 1) knobs.push_back("epochs " + std::to_string(epochs));
  if (impl != kDefaultImplementation) knobs.push_back("impl " + impl);
  return knobs.empty() ? config : config + " [" + join(knobs, ", ") + "]";
}

std::vector<Implementation> runnable_implementations(const std::string& list, const std::string& optimizer,
                                                     const RunContext& ctx, const std::string& option) {
  auto impls = parse_implementations(list, optimizer, option);
  for (auto& impl : impls) {
    impl = impl.resolved();
    const std::string why = implementation_refusal(impl, ctx);
    if (!why.empty()) throw InputError(option + " " + impl.name() + " (" + impl.spelled() + "): " + why);
  }
  return impls;
}

}  // namespace sedenergy::models
