// The first stage of a study, tested directly: the grid split in shards, the work items and their order,
// the device and the checks made before any long work.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/error.hpp"
#include "models/grids.hpp"
#include "runner/plan.hpp"
#include "test_util.hpp"

using namespace sedenergy;
using namespace sedenergy::runner;

// Four shards of paper43 are disjoint and together the whole grid, as a Slurm array's tasks need.
TEST(RunnerPlan, ShardsSplitTheGridDisjointly) {
  const auto grid = models::resolve_grid("paper43");
  std::multiset<std::string> seen;
  for (int k = 1; k <= 4; ++k) {
    const auto part = shard_of(grid, parse_shard(std::to_string(k) + "/4"));
    EXPECT_EQ(part.size(), k <= 3 ? 11u : 10u);  // 43 = 11 + 11 + 11 + 10
    for (const auto& s : part) seen.insert(s.name());
  }
  EXPECT_EQ(seen.size(), grid.size());
  for (const auto& s : grid) EXPECT_EQ(seen.count(s.name()), 1u) << s.name();
  for (const std::string bad : {"0/4", "5/4", "a/b", "1/0", "2"}) {
    EXPECT_NE(test::input_error_of([&] { parse_shard(bad); }).find("--shard '" + bad + "'"), std::string::npos) << bad;
  }
  EXPECT_NE(test::input_error_of([&] { shard_of(models::resolve_grid("mlp:1x16,mlp:1x32"), parse_shard("3/3")); }).find("no configuration"),
            std::string::npos);
}

// Every variant at every repetition, each once; the order within a repetition is seeded (the same seed
// gives the same order, repetitions differ), so drifts spread over configurations.
TEST(RunnerPlan, WorkItemsInterleaveVariantsInASeededOrder) {
  StudyOptions opt;
  opt.fractions = {0.5, 1};
  opt.epochs = {1, 2};
  opt.repetitions = 3;
  const auto specs = models::resolve_grid("mlp:1x16,cnn:1x4");
  const auto items = work_items(specs, opt, {models::Implementation{}});
  ASSERT_EQ(items.size(), 24u);
  std::set<std::string> keys;
  std::map<int, std::vector<std::string>> order;
  for (const auto& w : items) {
    keys.insert(w.key);
    order[w.repetition].push_back(w.variant);
  }
  EXPECT_EQ(keys.size(), 24u);
  EXPECT_TRUE(keys.count("mlp:1x16 [fraction 0.5, epochs 2]#3"));
  EXPECT_TRUE(keys.count("cnn:1x4#1"));
  EXPECT_NE(order[1], order[2]);
  EXPECT_EQ(work_items(specs, opt, {models::Implementation{}})[5].key, items[5].key);
  opt.seed = 2;
  std::vector<std::string> other;
  for (const auto& w : work_items(specs, opt, {models::Implementation{}})) other.push_back(w.key);
  std::vector<std::string> first;
  for (const auto& w : items) first.push_back(w.key);
  EXPECT_NE(other, first);
}

// Seeds: a measurement run's repetitions all train from the study's seed (the same work again); a learning
// run's repetition r from seed + r - 1; a re-run of host-stalled repetition r (number R + r, or 2R + r for a
// re-run of that re-run) from r's seed.
TEST(RunnerPlan, LearningRepetitionsDrawTheirOwnSeedsAndReRunsKeepTheirs) {
  StudyOptions opt;
  opt.seed = 7;
  opt.repetitions = 3;
  WorkItem item;
  for (int rep : {1, 2, 3, 5}) {
    item.repetition = rep;
    EXPECT_EQ(training_seed(item, opt), 7u) << rep;
  }
  opt.early_stop = 4;
  const std::map<int, std::uint64_t> expected = {{1, 7}, {2, 8}, {3, 9}, {4, 7}, {5, 8}, {6, 9}, {7, 7}, {9, 9}};
  for (const auto& [rep, seed] : expected) {
    item.repetition = rep;
    EXPECT_EQ(training_seed(item, opt), seed) << "repetition " << rep;
  }
}

// The plan of a small CPU study, and what it refuses before any work, by option name.
TEST(RunnerPlan, PlanResolvesTheAutomaticOptionsAndRefusesByName) {
  auto dir = test::temp_dir();
  StudyOptions opt;
  opt.device = "cpu";
  opt.grid = "auto";
  opt.out_dir = (dir / "out").string();
  opt.shard = "1/2";
  const auto plan = plan_study(opt);
  EXPECT_FALSE(plan.dev.cuda);
  EXPECT_EQ(plan.opt.grid, "quick");  // auto on the CPU
  EXPECT_EQ(plan.specs, shard_of(models::resolve_grid("quick"), parse_shard("1/2")));
  EXPECT_EQ(plan.opt.idle_s, 0);  // no idle baseline without a GPU
  EXPECT_EQ(plan.opt.cache_dir, (dir / "out" / "cache").string());
  EXPECT_EQ(plan.items.size(), plan.specs.size() * static_cast<std::size_t>(opt.repetitions));
  EXPECT_EQ(plan.shape.frames, 64);
  // The options that are words, parsed once into the plan's types.
  EXPECT_EQ(plan.loss, Loss::bce_softmax);
  EXPECT_EQ(plan.feature_mode, FeatureMode::cached);
  ASSERT_TRUE(std::holds_alternative<Pause>(plan.cooldown));  // auto without a GPU: no pause
  EXPECT_EQ(std::get<Pause>(plan.cooldown).seconds, 0);
  auto words = opt;
  words.loss = "bce-logits";
  words.feature_mode = "on-the-fly";
  words.cooldown = "12.5";
  const auto typed = plan_study(words);
  EXPECT_EQ(typed.loss, Loss::bce_logits);
  EXPECT_EQ(typed.feature_mode, FeatureMode::on_the_fly);
  EXPECT_EQ(std::get<Pause>(typed.cooldown).seconds, 12.5);
  words.cooldown = "idle";
  EXPECT_TRUE(std::holds_alternative<CoolToIdle>(plan_study(words).cooldown));
  EXPECT_NE(test::input_error_of([] { parse_device("gpu"); }).find("--device 'gpu'"), std::string::npos);
  auto both = opt;
  both.holdout = 0.2;
  both.test_data_dir = dir.string();
  EXPECT_NE(test::input_error_of([&] { plan_study(both); }).find("--holdout or --test-data"), std::string::npos);
  auto window = opt;
  window.min_window_s = 1e12;
  EXPECT_NE(test::input_error_of([&] { plan_study(window); }).find("--min-window"), std::string::npos);
}

// Implementations are a dimension: each configuration once per implementation, named in its variant (the
// default's name left out, so older sessions' keys still match), refused by name before any work.
TEST(RunnerPlan, ImplementationsAreADimensionOfTheWorkItems) {
  auto dir = test::temp_dir();
  StudyOptions opt;
  opt.device = "cpu";
  opt.grid = "mlp:1x16,cnn:1x4";
  opt.repetitions = 2;
  opt.out_dir = (dir / "out").string();
  opt.impl = "default,pytorch-default,foreach/eager/fp32/device";
  const auto plan = plan_study(opt);
  ASSERT_EQ(plan.impls.size(), 3u);
  EXPECT_EQ(plan.impls[0].spelled(), "foreach/eager/fp32/host");  // auto resolved on the CPU
  EXPECT_EQ(plan.impls[0].name(), "default");
  EXPECT_EQ(plan.items.size(), 12u);
  std::set<std::string> keys;
  for (const auto& w : plan.items) keys.insert(w.key);
  EXPECT_EQ(keys.size(), 12u);
  EXPECT_TRUE(keys.count("mlp:1x16#1"));
  EXPECT_TRUE(keys.count("mlp:1x16 [impl pytorch-default]#2"));
  EXPECT_TRUE(keys.count("cnn:1x4 [impl foreach/eager/fp32/device]#1"));
  EXPECT_EQ(models::variant_name("mlp:1x16", 0.5, 2, plan.impls[1].name()),
            "mlp:1x16 [fraction 0.5, epochs 2, impl pytorch-default]");
  for (const auto& [impl, why] : std::vector<std::pair<std::string, std::string>>{
           {"fastest", "--impl fastest (fused/graph/fp32/device): CUDA graphs need a CUDA device"},
           {"bf16", "--impl bf16 (fused/eager/bf16/device): "},
           {"pytorch-fused", "the fused optimizer needs a CUDA device"},
           {"nonsense", "--impl 'nonsense'"}}) {
    auto bad = opt;
    bad.impl = impl;
    EXPECT_NE(test::input_error_of([&] { plan_study(bad); }).find(why), std::string::npos) << impl << ": " << test::input_error_of([&] { plan_study(bad); });
  }
  auto on_the_fly = opt;
  on_the_fly.impl = "foreach/eager/fp32/device";
  on_the_fly.feature_mode = "on-the-fly";
  EXPECT_NE(test::input_error_of([&] { plan_study(on_the_fly); }).find("needs cached features"), std::string::npos);
}
