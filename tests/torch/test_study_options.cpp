// The study's option table: what the CLI, --config files, validation and session records are made from.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "common/error.hpp"
#include "runner/study_options.hpp"

using namespace sedenergy;
using namespace sedenergy::runner;

// A session records its options under the names older databases have: --resume of a study started by an
// earlier version must find its session, so this set changes only with a migration, or with an option whose
// value is recorded only where it differs from what older sessions did (`unrecorded`): train_threads, -1
// here until the plan resolves it (0, unrecorded, on a CPU; 4 with a GPU, which older sessions did not pin).
TEST(StudyOptions, RecordedNamesAreThoseOfEarlierDatabases) {
  const auto recorded = recorded_options(StudyOptions{});
  std::set<std::string> keys;
  for (const auto& [k, v] : recorded.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"batch", "cooldown", "epochs", "feature_mode", "fractions", "idle_s", "loss",
                                         "lr", "min_window_s", "optimizer", "period_s", "repetitions", "seed", "shard",
                                         "train_threads", "warmup_steps"}));
  EXPECT_EQ(recorded["fractions"], nlohmann::json::array({1.0}));
}

// Every flag once, every config key the flag's words; ranges checked for values from any source.
TEST(StudyOptions, OneEntryPerFlagAndRangesApplyToConfigValues) {
  std::set<std::string> flags;
  for (const auto& o : study_options()) {
    EXPECT_TRUE(flags.insert(o.flag).second) << o.flag;
    EXPECT_EQ(o.flag.rfind("--", 0), 0u) << o.flag;
  }
  StudyOptions o;
  std::ostringstream notes;
  auto none = [](const std::string&) { return false; };
  auto no_other = [](const std::string&, const nlohmann::json&) { return false; };
  apply_study_config(nlohmann::json::parse(R"({"min_window_s": 7, "fraction": [0.5]})"), "t.json", o, none, no_other, {}, notes);
  EXPECT_EQ(o.min_window_s, 7);
  EXPECT_EQ(o.fractions, std::vector<double>{0.5});
  EXPECT_NE(notes.str().find("'min_window_s' is now 'min_window'"), std::string::npos) << notes.str();
  o.min_window_s = 1e12;  // as a file could say
  try {
    check_study_options(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--min-window: 1000000000000 is outside [0, 3600]"), std::string::npos) << e.what();
  }
  // The command line wins; an integer too large for the option is refused, not wrapped.
  apply_study_config(nlohmann::json::parse(R"({"batch": 99})"), "t.json", o,
                     [](const std::string& flag) { return flag == "--batch"; }, no_other, {}, notes);
  EXPECT_EQ(o.batch, 8);
  EXPECT_THROW(apply_study_config(nlohmann::json::parse(R"({"batch": 5000000000})"), "t.json", o, none, no_other, {}, notes),
               InputError);
}
