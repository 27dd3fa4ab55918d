// A study's plan, decided and checked before any long work: the options resolved, the device, the grid
// (and its shard), the input shape, the dataset's paths and the work items in their run order.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <torch/torch.h>

#include "data/dataset.hpp"
#include "data/desed.hpp"
#include "models/implementation.hpp"
#include "models/spec.hpp"
#include "runner/study.hpp"

namespace sedenergy::runner {

// Where the models run: --device parsed and checked against what this LibTorch sees.
struct DeviceChoice {
  torch::Device device = torch::kCPU;
  bool cuda = false;
  int index = 0;
};

// auto, cpu, cuda, cuda:N; throws InputError naming --device when it cannot be used.
DeviceChoice parse_device(const std::string& text);

// One unit of a study: a configuration with its knobs (a variant) at one repetition.
struct WorkItem {
  models::ModelSpec spec;
  double fraction = 1;
  int epochs = 1;
  models::Implementation impl;  // resolved for the study's device
  int repetition = 1;
  std::string variant, key;
  std::string retry_reason;  // a re-run of a host-stalled repetition: why ("" for a planned run)
};

// The seed a run trains from (its start weights and its batch order). Every repetition of a measurement run
// does the same work again, so it keeps the study's seed; each repetition of a learning run is one draw of
// training's randomness, so repetition r takes seed + r - 1. A re-run of host-stalled repetition r (number
// R + r of R planned, or 2R + r when that re-run stalled too) measures r's work again, so it trains from r's seed;
// the k-th extra repetition (runner/repetitions.hpp) is a new draw, from seed + R + k - 1.
std::uint64_t training_seed(const WorkItem& item, const StudyOptions& opt);

// A seeded permutation that is the same on every platform (std::shuffle's is not specified).
std::vector<std::size_t> seeded_permutation(std::size_t n, std::uint64_t seed);
// Every variant at every repetition; within a repetition the variants come in a seeded random order, so
// slow drifts (temperature, clocks, other tenants) spread over configurations instead of biasing some.
std::vector<WorkItem> work_items(const std::vector<models::ModelSpec>& specs, const StudyOptions& opt,
                                 const std::vector<models::Implementation>& impls);
// --impl parsed and checked against the device and feature mode: throws InputError naming the implementation
// and why it cannot run, before anything is allocated.
std::vector<models::Implementation> study_implementations(const StudyOptions& opt, const DeviceChoice& dev);
// --shard K/N: part k of n of the grid.
struct Shard {
  int k = 1, n = 1;
};
// "K/N" parsed; throws InputError naming --shard (and Slurm's array task, where there is one).
Shard parse_shard(const std::string& text);
// A deterministic split of the grid (configuration i goes to part i % N + 1), so N machines (a Slurm job
// array, say) run disjoint parts; throws InputError when the part is empty.
std::vector<models::ModelSpec> shard_of(const std::vector<models::ModelSpec>& specs, const Shard& shard);

// The options that are words, as the plan reads them (parsed once, in plan_study).
enum class Loss { bce_softmax, bce_logits };           // --loss
enum class FeatureMode { cached, on_the_fly };         // --feature-mode
struct CoolToIdle {};                                  // --cooldown idle (auto with a GPU)
struct Pause {                                         // --cooldown SECONDS (auto without a GPU: 0)
  double seconds = 0;
};
using Cooldown = std::variant<CoolToIdle, Pause>;
// --out created and proven writable (a fresh mkstemp file, removed again), or InputError naming it.
void ensure_writable_dir(const std::string& dir);
// Feature extraction as the study runs it: the options given, with its threads and seed.
data::ExtractOptions extraction_options(const StudyOptions& opt);

// What a study will do, decided and checked before any long work.
struct StudyPlan {
  StudyOptions opt;
  DeviceChoice dev;
  std::vector<models::ModelSpec> specs;
  models::InputShape shape;
  data::DatasetPaths paths, test_paths;  // paths is empty until the dataset is generated (no --data)
  std::vector<models::Implementation> impls;
  std::vector<WorkItem> items;
  Loss loss = Loss::bce_softmax;
  FeatureMode feature_mode = FeatureMode::cached;
  Cooldown cooldown = Pause{};
};

// Checks every option and resolves the automatic ones; creates --out. Throws InputError naming the option.
StudyPlan plan_study(const StudyOptions& opt);

}  // namespace sedenergy::runner
