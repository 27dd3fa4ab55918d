#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/error.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

using namespace sedenergy;

namespace {
store::RunRecord sample_run(std::int64_t session, const std::string& config, double energy) {
  store::RunRecord r;
  r.session_id = session;
  r.config = config;
  r.family = "MLP";
  r.params = 4199946;
  r.train_flops_per_epoch = 1.5e12;
  r.test_flops_per_epoch = 5e11;
  r.batch = 8;
  r.clips = 1578;
  store::PhaseRecord train;
  train.phase = "train";
  train.epochs = 3;
  train.energy_j = energy;
  train.gpu_energy_j = energy * 0.8;
  train.gpu_method = "nvml total-energy counter delta";
  train.flags = "a; b";
  store::PhaseRecord test = train;
  test.phase = "test";
  test.energy_j = energy / 3;
  r.phases = {train, test};
  return r;
}
}  // namespace

TEST(Store, RoundTripOfSessionsRunsAndPhases) {
  auto dir = test::temp_dir();
  auto path = (dir / "results.db").string();
  {
    store::Store db(path);
    EXPECT_EQ(db.schema_version(), store::kSchemaVersion);
    store::SessionRecord s;
    s.started_at = "2026-11-27T00:00:00Z";
    s.gpu_name = "NVIDIA H100 80GB HBM3";
    s.git_revision = "abc";
    s.config_json = R"({"batch":8})";
    auto id = db.begin_session(s);
    db.add_run(sample_run(id, "mlp:1x512", 120.5));
    auto failed = sample_run(id, "mlp:32x4096", 0);
    failed.status = "failed";
    failed.error = "CUDA out of memory";
    failed.phases.clear();
    db.add_run(failed);
    db.finish_session(id);
  }
  store::Store db(path);  // reopened: the data is on disk
  EXPECT_EQ(db.run_count(), 2);
  auto rows = db.rows();
  ASSERT_EQ(rows.size(), 3u);  // two phases + one failed run without phases
  EXPECT_EQ(rows[0].config, "mlp:1x512");
  EXPECT_EQ(rows[0].phase.phase, "train");
  EXPECT_DOUBLE_EQ(rows[0].phase.energy_j, 120.5);
  EXPECT_DOUBLE_EQ(rows[0].flops_per_epoch, 1.5e12);
  EXPECT_DOUBLE_EQ(rows[1].flops_per_epoch, 5e11);
  EXPECT_EQ(rows[0].phase.flags, "a; b");
  EXPECT_EQ(rows[0].gpu_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(rows[2].status, "failed");
  EXPECT_EQ(rows[2].error, "CUDA out of memory");
  auto sessions = db.sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].config_json, R"({"batch":8})");
}

TEST(Store, NewerSchemaIsRefused) {
  auto dir = test::temp_dir();
  auto path = (dir / "future.db").string();
  { store::Store db(path); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE meta SET value='99' WHERE key='schema_version'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  try {
    store::Store db(path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos);
  }
}

TEST(Store, NotADatabaseIsAClearError) {
  auto dir = test::temp_dir();
  test::write_text(dir / "text.db", std::string(4096, 'x'));
  EXPECT_THROW(store::Store((dir / "text.db").string()), Error);
}

TEST(Store, FailedTransactionLeavesNoHalfRun) {
  auto dir = test::temp_dir();
  store::Store db((dir / "r.db").string());
  auto bad = sample_run(12345, "mlp:1x512", 1.0);  // no such session: the foreign key fails
  EXPECT_THROW(db.add_run(bad), Error);
  EXPECT_EQ(db.run_count(), 0);
}

TEST(Store, MergeCopiesSessionsRunsAndPhasesOnce) {
  auto dir = test::temp_dir();
  auto make = [&](const std::string& name, const std::string& started, std::vector<std::string> configs) {
    store::Store db((dir / name).string());
    store::SessionRecord s;
    s.started_at = started;
    s.hostname = "h";
    s.config_json = "{}";
    auto id = db.begin_session(s);
    for (const auto& c : configs) db.add_run(sample_run(id, c, 10.0));
  };
  make("a.db", "2026-11-27T00:00:00Z", {"mlp:1x512", "cnn:2x128"});
  make("b.db", "2026-11-27T01:00:00Z", {"rnn:1x128"});
  store::Store all((dir / "all.db").string());
  EXPECT_EQ(all.merge_from((dir / "a.db").string()), 2);
  EXPECT_EQ(all.merge_from((dir / "b.db").string()), 1);
  EXPECT_EQ(all.merge_from((dir / "a.db").string()), 0);  // already there
  EXPECT_EQ(all.run_count(), 3);
  EXPECT_EQ(all.sessions().size(), 2u);
  auto rows = all.rows();
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_DOUBLE_EQ(rows[0].phase.energy_j, 10.0);
  EXPECT_EQ(rows[5].config, "rnn:1x128");
  test::write_text(dir / "junk.db", std::string(4096, 'j'));
  EXPECT_THROW(all.merge_from((dir / "junk.db").string()), Error);
  EXPECT_EQ(all.run_count(), 3);
}
