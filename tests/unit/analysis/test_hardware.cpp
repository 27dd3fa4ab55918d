// Across GPUs (analysis/hardware.cpp): normalisation by two reference configurations.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "analysis/fixtures.hpp"
#include "compute/accounting.hpp"
#include "models/spec.hpp"

using namespace sedenergy;
using namespace sedenergy::test;

TEST(Hardware, TwoGpusAreNormalisedByReferenceConfigurations) {
  auto dir = test::temp_dir();
  Law h100;
  write_study((dir / "a.db").string(), h100);
  Law t4;
  t4.gpu = "Tesla T4";
  t4.gpu_scale = 3;
  write_study((dir / "b.db").string(), t4);
  auto files = report::write_report(std::vector<std::string>{(dir / "a.db").string(), (dir / "b.db").string()},
                                    (dir / "report").string());
  auto a = json::parse(test::read_text(files.json));
  EXPECT_EQ(a["runs"], 98);
  EXPECT_NEAR(table_row(a, "hardware", "gpu", "Tesla T4")["factor"].get<double>(), 3, 0.2);
  EXPECT_NEAR(table_row(a, "hardware", "gpu", "NVIDIA H100 80GB HBM3")["factor"].get<double>(), 1, 1e-12);
}
