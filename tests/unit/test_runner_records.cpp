// The study's records from what it measured (runner/records.hpp), without LibTorch: a phase's window per
// epoch, and a run's plan with its FLOPs per epoch.
#include <gtest/gtest.h>

#include "compute/accounting.hpp"
#include "runner/records.hpp"

using namespace sedenergy;

TEST(RunnerRecords, APhaseRecordIsItsWindowPerEpoch) {
  runner::PhaseOutcome o;
  o.epochs = 3;
  o.loss = 0.25;
  o.epoch_s = {9.5, 10, 10.5};
  o.own_cpu_s = 20;
  o.window.duration_s = 30;
  o.window.cpu_load = 0.5;
  o.window.flags = {"a", "b"};
  o.window.domains = {
      {"gpu", "gpu0 NVIDIA H200", "nvml total-energy counter delta", false, 3000, 100, 120, 2990, 30, 50, 1500},
      {"cpu", "package-0", "rapl", false, 300, 10, 12, -1, -1, -1, -1},
      {"ram", "host", "estimated: 3 W per 8 GB", true, 60, 2, 2, -1, -1, -1, -1}};
  const auto p = runner::to_phase("train", o, 4);
  EXPECT_EQ(p.phase, "train");
  EXPECT_EQ(p.epochs, 3);
  EXPECT_DOUBLE_EQ(p.window_s, 30);
  EXPECT_DOUBLE_EQ(p.duration_s, 10);
  EXPECT_DOUBLE_EQ(p.energy_j, 1120);
  EXPECT_DOUBLE_EQ(p.gpu_energy_j, 1000);
  EXPECT_DOUBLE_EQ(p.cpu_energy_j, 100);
  EXPECT_DOUBLE_EQ(p.ram_energy_j, 20);
  EXPECT_DOUBLE_EQ(p.net_gpu_energy_j, 500);
  EXPECT_DOUBLE_EQ(p.uncertainty_j, 10);
  EXPECT_DOUBLE_EQ(p.gpu_power_w, 100);
  EXPECT_EQ(p.gpu_method, "nvml total-energy counter delta");
  EXPECT_EQ(p.ram_method, "estimated: 3 W per 8 GB");
  EXPECT_TRUE(p.estimated);
  EXPECT_EQ(p.flags, "a; b");
  EXPECT_NEAR(p.other_cpu_load, 0.5 - 20.0 / (4 * 30), 1e-12);  // the host's load less this process's share
  EXPECT_EQ(p.epoch_times_json, "[9.5,10.0,10.5]");
  // Without a GPU or an idle baseline: no GPU method, net energy absent.
  o.window.domains.erase(o.window.domains.begin());
  const auto cpu_only = runner::to_phase("test", o, 4);
  EXPECT_TRUE(cpu_only.gpu_method.empty());
  EXPECT_LT(cpu_only.net_gpu_energy_j, 0);
}

TEST(RunnerRecords, ARunPlanCountsItsLastPartialBatch) {
  runner::RunPlan plan;
  plan.spec = models::parse_spec("mlp:1x512");
  plan.variant = "mlp:1x512";
  plan.impl = "pytorch-default";
  plan.loss = "bce-softmax";
  plan.batch = 8;
  plan.shape = {8, 128, 64};
  plan.n_train = 20;  // two full batches and one of 4
  plan.n_test = 8;
  const auto counts = compute::count(plan.spec, plan.shape);
  const auto rec = runner::planned_run(plan, counts);
  const auto last = compute::count(plan.spec, {4, 128, 64});
  EXPECT_EQ(rec.steps_per_epoch, 3);
  EXPECT_EQ(rec.clips, 20);
  EXPECT_EQ(rec.family, "MLP");
  EXPECT_DOUBLE_EQ(rec.train_work.flops_per_epoch, 2 * counts.train_step_flops() + last.train_step_flops());
  EXPECT_DOUBLE_EQ(rec.test_work.flops_per_epoch, counts.test_step_flops());
  EXPECT_DOUBLE_EQ(rec.train_work.flops_per_step, counts.train_step_flops());
  EXPECT_GT(rec.train_work.traffic_bytes_per_step, 0);
  // The split of a step by kind of work is stored, so the analysis need not count the spec again.
  const auto split = compute::work_split(counts, true);
  EXPECT_TRUE(rec.train_work.has_split());
  EXPECT_DOUBLE_EQ(rec.train_work.matrix_flops, split.matrix);
  EXPECT_DOUBLE_EQ(rec.train_work.cublas_matrix_flops, split.cublas_matrix);
  EXPECT_DOUBLE_EQ(rec.test_work.matrix_flops, compute::work_split(counts, false).matrix);
  EXPECT_GT(rec.train_work.matrix_flops, rec.test_work.matrix_flops);
}
