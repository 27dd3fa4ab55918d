#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "compute/accounting.hpp"
#include "models/grids.hpp"

namespace sedenergy::cli {
namespace {

nlohmann::json counts_json(const compute::Counts& c) {
  return {{"macs", c.macs}, {"bias", c.bias}, {"elementwise", c.elementwise}, {"transcendental", c.transcendental},
          {"flops", c.flops()}};
}

struct FlopsArgs {
  std::vector<std::string> specs;
  int batch = 1, mels = 128, frames = 64, clips = 0;
  bool json = false, layers = false;
  std::string convention = "sedenergy";
};

// Per-epoch totals over `clips` clips: full batches, then the last, partial one counted at its own size.
nlohmann::json epoch_json(const FlopsArgs& a, const models::ModelSpec& spec, const models::InputShape& shape,
                          compute::Convention convention, const compute::ConventionCount& cc) {
  const long long full = a.clips / a.batch, rest = a.clips % a.batch;
  double train = full * cc.train_step_flops, test = full * cc.forward_flops;
  if (rest) {
    models::InputShape last = shape;
    last.batch = static_cast<int>(rest);
    const auto ccl = compute::convention_count(compute::count(spec, last), convention, spec, last);
    train += ccl.train_step_flops;
    test += ccl.forward_flops;
  }
  return {{"clips", a.clips}, {"steps", full + (rest ? 1 : 0)}, {"train_flops", train}, {"test_flops", test}};
}

nlohmann::json count_json(const FlopsArgs& a, const models::ModelSpec& spec, const models::InputShape& shape,
                          compute::Convention convention) {
  const auto c = compute::count(spec, shape);
  const auto cc = compute::convention_count(c, convention, spec, shape);
  const auto traffic = compute::dram_traffic(c);
  nlohmann::json j = {{"config", spec.name()},
                      {"family", models::family_name(spec.family)},
                      {"batch", a.batch},
                      {"mels", a.mels},
                      {"frames", a.frames},
                      {"params", c.params},
                      {"forward", counts_json(c.forward)},
                      {"backward", counts_json(c.backward)},
                      {"optimizer", counts_json(c.optimizer)},
                      {"train_step_flops", c.train_step_flops()},
                      {"test_step_flops", c.test_step_flops()},
                      {"weight_bytes", c.weight_bytes()},
                      {"activation_bytes", c.activation_bytes},
                      {"training_memory_bytes", compute::training_memory(c).total()},
                      {"dram_bytes_test_step", traffic.test_step_bytes},
                      {"dram_bytes_train_step", traffic.train_step_bytes},
                      {"intensity_test_flops_per_byte", traffic.test_intensity},
                      {"intensity_train_flops_per_byte", traffic.train_intensity},
                      {"convention", a.convention},
                      {"convention_forward_flops", cc.forward_flops},
                      {"convention_forward_macs", cc.forward_macs},
                      {"convention_train_step_flops", cc.train_step_flops}};
  if (a.clips > 0) j["epoch"] = epoch_json(a, spec, shape, convention, cc);
  if (a.layers) {
    for (const auto& l : c.layers) {
      j["layers"].push_back({{"name", l.name},
                             {"kind", compute::work_kind_name(l.kind)},
                             {"params", l.params},
                             {"forward", counts_json(l.forward)},
                             {"backward", counts_json(l.backward)}});
    }
  }
  return j;
}

void print_header(const FlopsArgs& a) {
  std::cout << std::left << std::setw(20) << "config" << std::right << std::setw(14) << "params" << std::setw(16)
            << "fwd MACs" << std::setw(16) << "fwd FLOPs" << std::setw(16) << "train FLOPs" << std::setw(14)
            << "act. bytes" << std::setw(12) << "train GB" << "   (" << a.convention << " convention, batch " << a.batch << ", input 1x" << a.mels << "x" << a.frames << ")\n";
  if (a.layers) {  // the layer rows' own columns: a layer has its backward pass, not a training step
    std::cout << "    " << std::left << std::setw(28) << "layer" << std::right << std::setw(12) << "params"
              << std::setw(16) << "fwd MACs" << std::setw(16) << "fwd FLOPs" << std::setw(16) << "bwd FLOPs"
              << "  kind of work\n";
  }
}

void print_count(const FlopsArgs& a, const models::ModelSpec& spec, const models::InputShape& shape,
                 compute::Convention convention) {
  const auto c = compute::count(spec, shape);
  const auto cc = compute::convention_count(c, convention, spec, shape);
  std::cout << std::left << std::setw(20) << spec.name() << std::right << std::setw(14) << c.params
            << std::setw(16) << std::setprecision(6) << cc.forward_macs << std::setw(16) << cc.forward_flops
            << std::setw(16) << cc.train_step_flops << std::setw(14) << c.activation_bytes << std::setw(12)
            << compute::training_memory(c).total() / 1e9 << "\n";
  if (!a.layers) return;
  for (const auto& l : c.layers) {
    std::cout << "    " << std::left << std::setw(28) << l.name << std::right << std::setw(12) << l.params
              << std::setw(16) << l.forward.macs << std::setw(16) << l.forward.flops() << std::setw(16)
              << l.backward.flops() << "  " << compute::work_kind_name(l.kind) << "\n";
  }
}

}  // namespace

void setup_flops(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<FlopsArgs>();
  auto* sub = app.add_subcommand("flops",
                                 "Count parameters, MACs and FLOPs (forward, backward, Adam) of configurations.\n"
                                 "Examples:\n  sedenergy flops mlp:1x512 crnn:1x1:64x64 --batch 8\n"
                                 "  sedenergy flops paper43 --json");
  sub->add_option("specs", a->specs, "specs (mlp:4x1024, cnn:2x128, rnn:1x512, crnn:1x2:512x256) or a grid name")
      ->required();
  sub->add_option("--batch", a->batch, "batch size")->check(whole_in(1, 1 << 20))->capture_default_str();
  sub->add_option("--mels", a->mels, "mel bands")->check(whole_in(1, 4096))->capture_default_str();
  sub->add_option("--frames", a->frames, "frames")->check(whole_in(1, 1000000))->capture_default_str();
  sub->add_option("--clips", a->clips, "dataset size: adds per-epoch totals (the last batch may be partial)")
      ->check(whole_in(1, 1000000000));
  sub->add_flag("--json", a->json, "JSON output");
  sub->add_flag("--layers", a->layers, "per-layer breakdown, with each layer's kind of work (the predictor's FLOPs by kind)");
  sub->add_option("--convention", a->convention,
                  "sedenergy (exact, default), torch (PyTorch FlopCounterMode), deepspeed (the study's profiler), "
                  "thop or fvcore (both print MACs as 'FLOPs': see fwd MACs)")
      ->capture_default_str();
  sub->callback([a, &exit_code] {
    std::vector<models::ModelSpec> specs;
    for (const auto& s : a->specs) {
      auto g = models::resolve_grid(s);
      specs.insert(specs.end(), g.begin(), g.end());
    }
    const models::InputShape shape{a->batch, a->mels, a->frames};
    const auto convention = compute::parse_convention(a->convention);
    if (a->json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& spec : specs) out.push_back(count_json(*a, spec, shape, convention));
      std::cout << out.dump(2) << "\n";
    } else {
      print_header(*a);
      for (const auto& spec : specs) print_count(*a, spec, shape, convention);
    }
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
