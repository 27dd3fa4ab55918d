// The measurement's quality (analysis/quality.cpp): host stalls.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "analysis/fixtures.hpp"
#include "compute/accounting.hpp"
#include "models/spec.hpp"

using namespace sedenergy;
using namespace sedenergy::test;

// Host stalls on a database where the truth is known: of three repetitions, one took twice the time per
// epoch (and more energy); it is flagged with its factor and what the host did, and none is dropped.
TEST(Quality, HostStallsAreFlaggedNotDropped) {
  const auto a = repetitions_report(3, [](int rep, store::PhaseRecord& p) {
    const bool stalled = rep == 2;
    p.duration_s = stalled ? 2.0 : 1.0 + 0.01 * rep;
    p.gpu_energy_j = stalled ? 300 : 200;  // the extra second near idle power
    p.epochs = 4;
    p.epoch_times_json = stalled ? "[1.0, 1.0, 5.0, 1.0]" : "[1.0, 1.0, 1.0, 1.0]";
    p.own_cpu_s = 3.5;
    p.other_cpu_load = stalled ? 0.6 : 0.01;
  });
  const auto& rows = a["tables"]["stalls"]["rows"];
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["repetition"], 2);
  EXPECT_NEAR(rows[0]["factor"].get<double>(), 2.0 / 1.03, 1e-9);  // median of 1.01, 2.0, 1.03
  EXPECT_NEAR(rows[0]["energy_excess_pct"].get<double>(), 50, 1e-9);
  EXPECT_NEAR(rows[0]["slowest_epoch_factor"].get<double>(), 5, 1e-9);
  EXPECT_NEAR(rows[0]["other_cpu_load"].get<double>(), 0.6, 1e-12);
  EXPECT_NE(a["findings"].dump().find("Host stalls: 1 of 3 repetitions took more than 1.25x"), std::string::npos)
      << a["findings"].dump(1);
  const auto& summary = table_row(a, "runs_summary", "config", "mlp:1x64");
  EXPECT_EQ(summary["repetitions"], 3);  // kept
  EXPECT_NEAR(summary["energy_median_j"].get<double>(), 200, 1e-9);
}
