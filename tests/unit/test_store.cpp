#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <set>

#include "common/error.hpp"
#include "store/json_columns.hpp"
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
  r.train_work.flops_per_epoch = 1.5e12;
  r.test_work.flops_per_epoch = 5e11;
  r.batch = 8;
  r.clips = 1578;
  r.train_work.traffic_bytes_per_step = 3.5e8;
  r.test_work.traffic_bytes_per_step = 1.25e8;
  r.train_work.matrix_flops = 9e9;
  r.train_work.cublas_matrix_flops = 4e9;
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
  EXPECT_EQ(rows[0].run->config, "mlp:1x512");
  EXPECT_EQ(rows[0].phase.phase, "train");
  EXPECT_DOUBLE_EQ(rows[0].phase.energy_j, 120.5);
  EXPECT_DOUBLE_EQ(rows[0].work().flops_per_epoch, 1.5e12);
  EXPECT_DOUBLE_EQ(rows[1].work().flops_per_epoch, 5e11);
  EXPECT_DOUBLE_EQ(rows[0].work().matrix_flops, 9e9);
  EXPECT_DOUBLE_EQ(rows[0].work().cublas_matrix_flops, 4e9);
  EXPECT_EQ(rows[0].run, rows[1].run);    // the phases of one run share it
  EXPECT_EQ(rows[0].site, rows[2].site);  // the runs of one session share its site
  EXPECT_EQ(rows[2].site->gpu_name, "NVIDIA H100 80GB HBM3");
  EXPECT_DOUBLE_EQ(rows[0].work().traffic_bytes_per_step, 3.5e8);  // each phase reads its own
  EXPECT_DOUBLE_EQ(rows[1].work().traffic_bytes_per_step, 1.25e8);
  EXPECT_EQ(rows[0].phase.flags, "a; b");
  EXPECT_EQ(rows[0].site->gpu_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(rows[2].run->status, "failed");
  EXPECT_EQ(rows[2].run->error, "CUDA out of memory");
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
  EXPECT_EQ(rows[5].run->config, "rnn:1x128");
  test::write_text(dir / "junk.db", std::string(4096, 'j'));
  EXPECT_THROW(all.merge_from((dir / "junk.db").string()), Error);
  EXPECT_EQ(all.run_count(), 3);
}

// A database written by schema 1 opens with the new columns; its runs read as repetition 1.
void write_schema_one(const std::string& path) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* v1 =
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES('schema_version', '1');"
        "CREATE TABLE sessions(id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, command TEXT,"
        " hostname TEXT, os TEXT, cpu_model TEXT, cpu_count INTEGER, ram_gb REAL, gpu_name TEXT, gpu_driver TEXT,"
        " libtorch_version TEXT, sedenergy_version TEXT, git_revision TEXT, device TEXT, grid TEXT, dataset TEXT,"
        " features TEXT, config_json TEXT, idle_json TEXT);"
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"
        " config TEXT NOT NULL, family TEXT NOT NULL, spec_json TEXT, status TEXT NOT NULL, error TEXT,"
        " params INTEGER, train_flops_per_step REAL, test_flops_per_step REAL, train_flops_per_epoch REAL,"
        " test_flops_per_epoch REAL, batch INTEGER, clips INTEGER, steps_per_epoch INTEGER, started_at TEXT,"
        " finished_at TEXT);"
        "INSERT INTO sessions(id, started_at, device) VALUES(1, '2026-01-01T00:00:00Z', 'cuda:0');"
        "INSERT INTO runs(session_id, config, family, status) VALUES(1, 'mlp:1x512', 'MLP', 'ok');";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
}

TEST(Store, MigratesSchemaOneFiles) {
  auto dir = test::temp_dir();
  auto path = (dir / "old.db").string();
  write_schema_one(path);
  store::Store db(path);
  EXPECT_EQ(db.schema_version(), store::kSchemaVersion);
  auto rows = db.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].run->variant, "mlp:1x512");
  EXPECT_EQ(rows[0].run->repetition, 1);
  EXPECT_EQ(rows[0].run->metrics.map, -1);  // not measured then
  EXPECT_EQ(rows[0].work().traffic_bytes_per_step, -1);  // not recorded before schema 4
  EXPECT_FALSE(rows[0].work().has_split());               // nor the split before schema 10
  EXPECT_EQ(rows[0].run->impl, "default");                // nor the implementation before schema 5
  EXPECT_EQ(db.finished_items({1}), (std::set<std::string>{"mlp:1x512#1"}));
}

// Reading (report, merge inputs) never writes: an older file is migrated in a private copy, left
// byte-identical, and the copy is gone with the store; a foreign SQLite file is refused by name.
TEST(Store, ReadingLeavesTheFileAsItIs) {
  auto dir = test::temp_dir();
  auto path = (dir / "old.db").string();
  write_schema_one(path);
  const std::string before = test::read_text(path);
  std::string copy;
  {
    store::Store db(path, store::Store::Access::kRead);
    EXPECT_EQ(db.schema_version(), store::kSchemaVersion);
    EXPECT_EQ(db.rows().size(), 1u);
    copy = db.file();
    EXPECT_NE(copy, path);
    EXPECT_TRUE(std::filesystem::exists(copy));
  }
  EXPECT_FALSE(std::filesystem::exists(copy));
  EXPECT_EQ(test::read_text(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  // Merging it in reads it the same way.
  store::Store all((dir / "all.db").string());
  EXPECT_EQ(all.merge_from(path), 1);
  EXPECT_EQ(test::read_text(path), before);
  // A current file is read in place.
  { store::Store current(path + ".v2"); }
  EXPECT_EQ(store::Store(path + ".v2", store::Store::Access::kRead).file(), path + ".v2");

  auto foreign = (dir / "other.sqlite").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const std::string foreign_before = test::read_text(foreign);
  try {
    store::Store f(foreign, store::Store::Access::kRead);
    ADD_FAILURE() << "a foreign database was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("other.sqlite"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a sedenergy results database"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_text(foreign), foreign_before);  // no sedenergy tables added to someone else's file
  EXPECT_THROW(store::Store((dir / "absent.db").string(), store::Store::Access::kRead), InputError);
  test::write_text(dir / "junk.db", std::string(4096, 'j'));
  try {
    store::Store j((dir / "junk.db").string(), store::Store::Access::kRead);
    ADD_FAILURE() << "a file that is not a database was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("junk.db"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_text(dir / "junk.db"), std::string(4096, 'j'));
}

// A settled database is one file out of WAL mode (the header's write version 1, not 2): reading it leaves
// nothing beside it, and the next writer puts it back in WAL mode. With another connection open it stays.
TEST(Store, SettledDatabaseIsOneFile) {
  auto dir = test::temp_dir();
  const auto path = (dir / "results.db").string();
  auto write_version = [&] { return static_cast<int>(test::read_text(path).at(18)); };
  {
    store::Store db(path);
    const auto id = db.begin_session(store::SessionRecord{});
    db.add_run(sample_run(id, "mlp:1x512", 100));
    {
      store::Store other(path);
      EXPECT_FALSE(db.settle());  // another writer has it open
    }
    EXPECT_TRUE(db.settle());
  }
  EXPECT_EQ(write_version(), 1);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  {
    store::Store read(path, store::Store::Access::kRead);
    EXPECT_EQ(read.rows().size(), 2u);  // two phases of the one run
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(path + "-shm"));
  {
    store::Store again(path);
    again.add_run(sample_run(1, "mlp:1x1024", 50));
  }
  EXPECT_EQ(write_version(), 2);
  EXPECT_EQ(store::Store(path, store::Store::Access::kRead).run_count(), 2);
}

// Claims are taken once per group, whoever asks first, across connections.
TEST(Store, ClaimsAreExclusivePerGroup) {
  auto dir = test::temp_dir();
  auto path = (dir / "r.db").string();
  store::Store a(path), b(path);
  EXPECT_TRUE(a.claim("g1", "mlp:1x512#1", "gpu0"));
  EXPECT_FALSE(b.claim("g1", "mlp:1x512#1", "gpu1"));
  EXPECT_TRUE(b.claim("g1", "mlp:1x512#2", "gpu1"));
  EXPECT_TRUE(b.claim("g2", "mlp:1x512#1", "gpu1"));  // another study's group
}

TEST(JsonColumns, EachColumnHasOneReaderThatSaysLessWhenDamaged) {
  EXPECT_EQ(store::read_spec_record("")->mels, 0);  // not recorded: the defaults are the reader's caller's
  EXPECT_EQ(store::read_spec_record(R"({"spec":"mlp:1x64","mels":64,"frames":626})")->frames, 626);
  EXPECT_EQ(store::read_spec_record(R"({"spec":"mlp:1x64","impl":"fused/eager/fp32/host"})")->impl, "fused/eager/fp32/host");
  EXPECT_FALSE(store::read_spec_record("{not json"));
  EXPECT_EQ(store::read_epoch_times("[1.5,2]"), (std::vector<double>{1.5, 2}));
  EXPECT_TRUE(store::read_epoch_times("[1.5,").empty());
  const auto curve = store::read_learning(
      R"({"best_epoch":2,"curve":[{"validation_map":0.25,"seconds":1,"gpu_energy_j":18.214999999996508,"energy_j":30},
          {"validation_map":null,"seconds":2}]})");
  ASSERT_TRUE(curve);
  EXPECT_EQ(curve->best_epoch, 2);
  EXPECT_DOUBLE_EQ(curve->epochs[0].gpu_energy_j, 18.214999999996508);  // a double, not a float
  EXPECT_TRUE(std::isnan(curve->epochs[1].validation_map));
  EXPECT_FALSE(store::read_learning(R"({"best_epoch":2})"));
  const auto w = store::read_window(
      R"({"duration_s":10,"gpu_activity":{"sm_util_pct":40},"rank":{"job_id":"j","node":"n1","rank":1,"world_size":2},
          "domains":[{"domain":"gpu","device":"gpu0 H200","energy_j":100,"integral_energy_j":99},"junk"],
          "timeline":[{"t_s":0.1,"cpu_load":0.5,"gpus":[{"power_avg_w":200,"util_gpu_pct":null}]}]})");
  ASSERT_TRUE(w);
  EXPECT_DOUBLE_EQ(w->activity("sm_util_pct"), 40);
  EXPECT_DOUBLE_EQ(w->activity("dram_bw_util_pct"), -1);
  ASSERT_EQ(w->domains.size(), 1u);  // a domain that is not an object is skipped
  EXPECT_EQ(w->rank->world_size, 2);
  EXPECT_DOUBLE_EQ(w->timeline[0].gpus[0].first, 200);  // no instant power: the average
  EXPECT_TRUE(std::isnan(w->timeline[0].gpus[0].second));
  EXPECT_FALSE(store::read_window(R"({"gpu_activity":{"sm_util_pct":"high"}})"));  // damaged: nothing
  EXPECT_TRUE(store::read_window_record("{cut").is_null());
}
