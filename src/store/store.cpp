#include "store/store.hpp"

#include <sqlite3.h>

#include <stdlib.h>

#include <chrono>
#include <functional>
#include <filesystem>
#include <thread>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"

namespace sedenergy::store {
namespace {

// The tables without a record type; sessions, runs, phases and user_windows come from their column lists.
const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims(
  grp TEXT NOT NULL, item TEXT NOT NULL, worker TEXT, claimed_at TEXT, PRIMARY KEY(grp, item));
)sql";

const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS runs_by_session ON runs(session_id);
CREATE INDEX IF NOT EXISTS phases_by_run ON phases(run_id);
CREATE INDEX IF NOT EXISTS user_windows_by_run ON user_windows(run_uuid);
)sql";

// A prepared statement with positional binding helpers.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK) {
      throw Error(std::string("sqlite: ") + sqlite3_errmsg(db) + " in: " + sql);
    }
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& bind(const std::string& v) {
    sqlite3_bind_text(s_, ++i_, v.c_str(), -1, SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(const char* v) { return bind(std::string(v)); }
  Stmt& bind(double v) {
    sqlite3_bind_double(s_, ++i_, v);
    return *this;
  }
  Stmt& bind(long long v) {
    sqlite3_bind_int64(s_, ++i_, v);
    return *this;
  }
  Stmt& bind(int v) { return bind(static_cast<long long>(v)); }
  Stmt& bind(bool v) { return bind(static_cast<long long>(v ? 1 : 0)); }
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  std::string text(int c) const {
    auto p = sqlite3_column_text(s_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  double real(int c) const { return sqlite3_column_double(s_, c); }
  long long integer(int c) const { return sqlite3_column_int64(s_, c); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int i_ = 0;
};

void read_into(const Stmt& s, int c, std::string& v) { v = s.text(c); }
void read_into(const Stmt& s, int c, double& v) { v = s.real(c); }
void read_into(const Stmt& s, int c, int& v) { v = static_cast<int>(s.integer(c)); }
void read_into(const Stmt& s, int c, long long& v) { v = s.integer(c); }
void read_into(const Stmt& s, int c, bool& v) { v = s.integer(c) != 0; }

// One column of a table, declared once: its SQL type and constraints, the value read for NULL (rows
// from older schemas), the schema version that added it, and how a record binds and reads it. A column
// the store sets itself (a parent's id) or another statement writes (finished_at) has no bind/read.
template <class R>
struct Column {
  const char* name;
  const char* sql;
  const char* if_null = nullptr;
  int since = 1;
  void (*bind)(Stmt&, const R&) = nullptr;
  void (*read)(const Stmt&, int, R&) = nullptr;
  bool parent_key = false;  // the parent's id: set by the store, mapped (not copied) by merge
};

template <class R, auto M>
Column<R> col(const char* name, const char* sql, const char* if_null = nullptr, int since = 1) {
  return {name, sql, if_null, since, [](Stmt& s, const R& r) { s.bind(r.*M); },
          [](const Stmt& s, int c, R& r) { read_into(s, c, r.*M); }};
}
// A member of a member (a run's test metrics).
template <class R, auto M, auto N>
Column<R> col2(const char* name, const char* sql, const char* if_null = nullptr, int since = 1) {
  return {name, sql, if_null, since, [](Stmt& s, const R& r) { s.bind((r.*M).*N); },
          [](const Stmt& s, int c, R& r) { read_into(s, c, (r.*M).*N); }};
}
template <class R>
Column<R> managed(const char* name, const char* sql, bool parent_key) {
  Column<R> c{name, sql};
  c.parent_key = parent_key;
  return c;
}

const std::vector<Column<SessionRecord>>& session_columns() {
  using R = SessionRecord;
  static const std::vector<Column<R>> cols = {
      col<R, &R::started_at>("started_at", "TEXT NOT NULL"), managed<R>("finished_at", "TEXT", false),
      col<R, &R::command>("command", "TEXT"),               col<R, &R::hostname>("hostname", "TEXT"),
      col<R, &R::os>("os", "TEXT"),                         col<R, &R::cpu_model>("cpu_model", "TEXT"),
      col<R, &R::cpu_count>("cpu_count", "INTEGER"),        col<R, &R::ram_gb>("ram_gb", "REAL"),
      col<R, &R::gpu_name>("gpu_name", "TEXT"),             col<R, &R::gpu_driver>("gpu_driver", "TEXT"),
      col<R, &R::libtorch_version>("libtorch_version", "TEXT"),
      col<R, &R::sedenergy_version>("sedenergy_version", "TEXT"),
      col<R, &R::git_revision>("git_revision", "TEXT"),     col<R, &R::device>("device", "TEXT"),
      col<R, &R::grid>("grid", "TEXT"),                     col<R, &R::dataset>("dataset", "TEXT"),
      col<R, &R::features>("features", "TEXT"),             col<R, &R::config_json>("config_json", "TEXT"),
      col<R, &R::idle_json>("idle_json", "TEXT"),
      col<R, &R::hardware_json>("hardware_json", "TEXT", "''", 7)};
  return cols;
}

const std::vector<Column<RunRecord>>& run_columns() {
  using R = RunRecord;
  using M = TestMetrics;
  static const std::vector<Column<R>> cols = {
      managed<R>("session_id", "INTEGER NOT NULL REFERENCES sessions(id)", true),
      col<R, &R::config>("config", "TEXT NOT NULL"),
      col<R, &R::family>("family", "TEXT NOT NULL"),
      col<R, &R::spec_json>("spec_json", "TEXT", "''"),
      col<R, &R::status>("status", "TEXT NOT NULL"),
      col<R, &R::error>("error", "TEXT"),
      col<R, &R::params>("params", "INTEGER"),
      col<R, &R::train_flops_per_step>("train_flops_per_step", "REAL"),
      col<R, &R::test_flops_per_step>("test_flops_per_step", "REAL"),
      col<R, &R::train_flops_per_epoch>("train_flops_per_epoch", "REAL"),
      col<R, &R::test_flops_per_epoch>("test_flops_per_epoch", "REAL"),
      col<R, &R::batch>("batch", "INTEGER"),
      col<R, &R::clips>("clips", "INTEGER"),
      col<R, &R::steps_per_epoch>("steps_per_epoch", "INTEGER"),
      col<R, &R::started_at>("started_at", "TEXT"),
      col<R, &R::finished_at>("finished_at", "TEXT"),
      col<R, &R::variant>("variant", "TEXT", nullptr, 2),
      col<R, &R::repetition>("repetition", "INTEGER DEFAULT 1", "1", 2),
      col<R, &R::fraction>("fraction", "REAL DEFAULT 1", "1", 2),
      col<R, &R::epochs_per_unit>("epochs_per_unit", "INTEGER DEFAULT 1", "1", 2),
      col<R, &R::frames>("frames", "INTEGER", "0", 2),
      col<R, &R::loss>("loss", "TEXT", nullptr, 2),
      col2<R, &R::metrics, &M::accuracy>("accuracy", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::label_accuracy>("label_accuracy", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::f1_macro>("f1_macro", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::map>("map", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::per_class_json>("metrics_json", "TEXT", "''", 2),
      col2<R, &R::metrics, &M::map_chance>("map_chance", "REAL", "-1", 8),
      col<R, &R::train_traffic_bytes_per_step>("train_traffic_bytes_per_step", "REAL", "-1", 4),
      col<R, &R::test_traffic_bytes_per_step>("test_traffic_bytes_per_step", "REAL", "-1", 4),
      col<R, &R::impl>("impl", "TEXT", "''", 5),
      col<R, &R::train_kernels_per_step>("train_kernels_per_step", "INTEGER", "-1", 5),
      col<R, &R::test_kernels_per_step>("test_kernels_per_step", "INTEGER", "-1", 5),
      col<R, &R::retry_of>("retry_of", "INTEGER DEFAULT 0", "0", 7),
      col<R, &R::retry_reason>("retry_reason", "TEXT", "''", 7),
      col<R, &R::learning_json>("learning_json", "TEXT", "''", 9)};
  return cols;
}

const std::vector<Column<PhaseRecord>>& phase_columns() {
  using R = PhaseRecord;
  static const std::vector<Column<R>> cols = {
      managed<R>("run_id", "INTEGER NOT NULL REFERENCES runs(id)", true),
      col<R, &R::phase>("phase", "TEXT NOT NULL"),          col<R, &R::epochs>("epochs", "INTEGER"),
      col<R, &R::window_s>("window_s", "REAL"),             col<R, &R::duration_s>("duration_s", "REAL"),
      col<R, &R::energy_j>("energy_j", "REAL"),             col<R, &R::gpu_energy_j>("gpu_energy_j", "REAL"),
      col<R, &R::cpu_energy_j>("cpu_energy_j", "REAL"),     col<R, &R::ram_energy_j>("ram_energy_j", "REAL"),
      col<R, &R::net_gpu_energy_j>("net_gpu_energy_j", "REAL"),
      col<R, &R::uncertainty_j>("uncertainty_j", "REAL"),   col<R, &R::gpu_method>("gpu_method", "TEXT"),
      col<R, &R::cpu_method>("cpu_method", "TEXT"),         col<R, &R::ram_method>("ram_method", "TEXT"),
      col<R, &R::estimated>("estimated", "INTEGER"),        col<R, &R::gpu_power_w>("gpu_power_w", "REAL"),
      col<R, &R::gpu_util_pct>("gpu_util_pct", "REAL"),     col<R, &R::mem_util_pct>("mem_util_pct", "REAL"),
      col<R, &R::cpu_load>("cpu_load", "REAL"),             col<R, &R::loss>("loss", "REAL"),
      col<R, &R::flags>("flags", "TEXT"),                   col<R, &R::window_json>("window_json", "TEXT"),
      col<R, &R::epoch_times_json>("epoch_times_json", "TEXT", "''", 6),
      col<R, &R::own_cpu_s>("own_cpu_s", "REAL", "-1", 6),
      col<R, &R::other_cpu_load>("other_cpu_load", "REAL", "-1", 6)};
  return cols;
}

const std::vector<Column<UserWindowRecord>>& user_columns() {
  using R = UserWindowRecord;
  static const std::vector<Column<R>> cols = {
      col<R, &R::run_uuid>("run_uuid", "TEXT"),             col<R, &R::source>("source", "TEXT"),
      col<R, &R::project_name>("project_name", "TEXT"),     col<R, &R::experiment_id>("experiment_id", "TEXT"),
      col<R, &R::command>("command", "TEXT"),               col<R, &R::name>("name", "TEXT"),
      col<R, &R::started_at>("started_at", "TEXT"),         col<R, &R::duration_s>("duration_s", "REAL"),
      col<R, &R::energy_j>("energy_j", "REAL"),             col<R, &R::gpu_energy_j>("gpu_energy_j", "REAL"),
      col<R, &R::cpu_energy_j>("cpu_energy_j", "REAL"),     col<R, &R::ram_energy_j>("ram_energy_j", "REAL"),
      col<R, &R::net_gpu_energy_j>("net_gpu_energy_j", "REAL"),
      col<R, &R::gpu_method>("gpu_method", "TEXT"),         col<R, &R::cpu_method>("cpu_method", "TEXT"),
      col<R, &R::ram_method>("ram_method", "TEXT"),         col<R, &R::estimated>("estimated", "INTEGER"),
      col<R, &R::gpu_util_pct>("gpu_util_pct", "REAL"),     col<R, &R::cpu_load>("cpu_load", "REAL"),
      col<R, &R::flags>("flags", "TEXT"),                   col<R, &R::hostname>("hostname", "TEXT"),
      col<R, &R::gpu_name>("gpu_name", "TEXT"),             col<R, &R::window_json>("window_json", "TEXT")};
  return cols;
}

// "CREATE TABLE IF NOT EXISTS name(id INTEGER PRIMARY KEY, col TYPE, ...)".
template <class R>
std::string create_sql(const char* table, const std::vector<Column<R>>& cols) {
  std::vector<std::string> defs = {"id INTEGER PRIMARY KEY"};
  for (const auto& c : cols) defs.push_back(std::string(c.name) + " " + c.sql);
  return std::string("CREATE TABLE IF NOT EXISTS ") + table + "(" + join(defs, ", ") + ");\n";
}

// The columns' names ("a, b, c"), each prefixed with `alias.` when given; `copied`: without the parent key.
template <class R>
std::string names(const std::vector<Column<R>>& cols, const std::string& alias = "", bool copied = false) {
  std::vector<std::string> out;
  for (const auto& c : cols) {
    if (!(copied && c.parent_key)) out.push_back((alias.empty() ? "" : alias + ".") + c.name);
  }
  return join(out, ", ");
}

// The columns as read back: NULL (a row from an older schema) becomes each column's if_null value.
template <class R>
std::string select_list(const std::vector<Column<R>>& cols, const std::string& alias) {
  std::vector<std::string> out;
  for (const auto& c : cols) {
    const std::string name = alias + "." + c.name;
    out.push_back(c.if_null ? "coalesce(" + name + ", " + c.if_null + ")" : name);
  }
  return join(out, ", ");
}

// Reads a record from `s` starting at column `first`; returns the next column's index.
template <class R>
int read_record(const Stmt& s, int first, const std::vector<Column<R>>& cols, R& r) {
  for (const auto& c : cols) {
    if (c.read) c.read(s, first, r);
    ++first;
  }
  return first;
}

// INSERT of a record's own columns (the parent key, when the table has one, bound first as `parent`).
template <class R>
std::int64_t insert_record(sqlite3* db, const char* table, const std::vector<Column<R>>& cols, const R& r,
                           std::int64_t parent = 0) {
  std::vector<std::string> used, marks;
  for (const auto& c : cols) {
    if (c.bind || c.parent_key) used.push_back(c.name), marks.push_back("?");
  }
  Stmt ins(db, std::string("INSERT INTO ") + table + "(" + join(used, ", ") + ") VALUES(" + join(marks, ", ") + ")");
  for (const auto& c : cols) {
    if (c.parent_key) ins.bind(static_cast<long long>(parent));
    else if (c.bind) c.bind(ins, r);
  }
  ins.step();
  return sqlite3_last_insert_rowid(db);
}

}  // namespace

Store::Store(const std::string& path, Access access) : path_(path), file_(path) {
  if (access == Access::kReadWrite) {
    open_read_write();
    return;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw file_error(path, 0, "no such results database");
  try {
    if (open_in_place_for_reading()) return;
  } catch (...) {
    close();
    throw;
  }
  close();
  // An older schema (or a file unreadable in place): a private copy with its write-ahead log, migrated
  // there; the input is never written.
  char tmpl[] = "/tmp/sedenergy-read.XXXXXX";
  if (!mkdtemp(tmpl)) throw file_error(path, 0, "cannot make a temporary copy to read it (no /tmp?)");
  temp_dir_ = tmpl;
  file_ = temp_dir_ + "/results.db";
  std::filesystem::copy_file(path, file_, ec);
  if (!ec && std::filesystem::exists(path + "-wal")) std::filesystem::copy_file(path + "-wal", file_ + "-wal", ec);
  if (ec) {
    remove_tree(temp_dir_);
    throw file_error(path, 0, "cannot copy it to read it: " + ec.message());
  }
  try {
    open_read_write();
  } catch (...) {
    remove_tree(temp_dir_);
    throw;
  }
}

// Several sweeps may write one database: each waits this long for the others' transactions.
constexpr int kBusyTimeoutMs = 30000;

void Store::connect(int flags) {
  if (sqlite3_open_v2(file_.c_str(), &db_, flags, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    return;
  }
  std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
  close();
  throw file_error(path_, 0, "cannot open results database: " + msg);
}

void Store::close() {
  sqlite3_close(db_);
  db_ = nullptr;
}

bool Store::has_meta_table() const {
  // The statement is finalised on return: one left open keeps a read snapshot, and in WAL mode that
  // snapshot can never be upgraded to a write once another process has written.
  Stmt check(db_, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'");
  check.step();
  return check.integer(0) == 1;
}

bool Store::has_any_table() const {
  Stmt check(db_, "SELECT count(*) FROM sqlite_master WHERE type='table'");
  check.step();
  return check.integer(0) > 0;
}

void Store::refuse_newer(int version) const {
  if (version > kSchemaVersion) {
    throw file_error(path_, 0, "written by a newer sedenergy (schema " + std::to_string(version) +
                                   ", this one reads up to " + std::to_string(kSchemaVersion) + ")");
  }
}

bool Store::open_in_place_for_reading() {
  connect(SQLITE_OPEN_READONLY);
  int version = 0;
  try {
    if (!has_meta_table()) throw file_error(path_, 0, "not a sedenergy results database (no meta table)");
    version = schema_version();
  } catch (const InputError&) {
    throw;
  } catch (const std::exception&) {
    // Unreadable in place (e.g. a write-ahead-log file in a folder we may not write): read a copy, whose
    // opening gives the error if the file itself is the problem.
    return false;
  }
  refuse_newer(version);
  return version == kSchemaVersion;
}

void Store::open_read_write() {
  connect(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  try {
    exec("PRAGMA journal_mode=WAL;");
    exec("PRAGMA foreign_keys=ON;");
    const bool has_meta = has_meta_table();
    if (has_meta) refuse_newer(schema_version());
    if (!has_meta && has_any_table()) {
      throw file_error(path_, 0, "is an SQLite database of something else (no sedenergy meta table): not writing into it");
    }
    exec("BEGIN IMMEDIATE;");
    const int found = has_meta ? schema_version() : kSchemaVersion;
    if (found < kSchemaVersion) migrate(found);
    exec(kSchema);
    exec(create_sql("sessions", session_columns()) + create_sql("runs", run_columns()) +
         create_sql("phases", phase_columns()) + create_sql("user_windows", user_columns()) + kIndexes);
    exec("INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '" + std::to_string(kSchemaVersion) + "');");
    exec("COMMIT;");
  } catch (...) {
    close();
    throw;
  }
}

Store::~Store() {
  close();
  if (!temp_dir_.empty()) remove_tree(temp_dir_);
}

// Inside the opening transaction: older files gain the new columns, their runs become repetition 1.
void Store::migrate(int from) {
  // Columns added since `from` (each column says in which version it came), then the version.
  auto add_columns = [&](const char* table, const auto& columns) {
    Stmt exists(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    exists.bind(std::string(table));
    if (!exists.step()) return;  // made whole, with every column, when the schema is created
    for (const auto& c : columns) {
      if (c.since > from) exec(std::string("ALTER TABLE ") + table + " ADD COLUMN " + c.name + " " + c.sql + ";");
    }
  };
  add_columns("sessions", session_columns());
  add_columns("runs", run_columns());
  add_columns("phases", phase_columns());
  add_columns("user_windows", user_columns());
  if (from < 2) exec("UPDATE runs SET variant = config WHERE variant IS NULL;");
  exec("UPDATE meta SET value = '" + std::to_string(kSchemaVersion) + "' WHERE key = 'schema_version';");
}

void Store::exec(const std::string& sql) const {
  // SQLite does not always call the busy handler (switching to WAL, lock upgrades), so another writer's
  // transaction can still answer SQLITE_BUSY: wait and retry for up to the same 30 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return;
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (msg.find("not a database") != std::string::npos || msg.find("malformed") != std::string::npos) {
      throw file_error(path_, 0, "is not a sedenergy results database (" + msg + ")");
    }
    throw Error("sqlite (" + path_ + "): " + msg);
  }
}

int Store::schema_version() const {
  Stmt s(db_, "SELECT value FROM meta WHERE key='schema_version'");
  if (!s.step()) return 0;
  long long v = 0;
  parse_int(s.text(0), v);
  return static_cast<int>(v);
}

std::int64_t Store::begin_session(const SessionRecord& r) { return insert_record(db_, "sessions", session_columns(), r); }

void Store::finish_session(std::int64_t id) {
  Stmt s(db_, "UPDATE sessions SET finished_at=? WHERE id=?");
  s.bind(utc_now_iso()).bind(static_cast<long long>(id));
  s.step();
  checkpoint();
}

void Store::checkpoint() const {
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

bool Store::settle() const {
  sqlite3_busy_timeout(db_, 0);  // another connection means another writer: leave it be, do not wait
  bool done = false;
  try {
    Stmt s(db_, "PRAGMA journal_mode=DELETE");
    done = s.step() && s.text(0) == "delete";
  } catch (const std::exception&) {
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  return done;
}

std::int64_t Store::add_run(const RunRecord& r) {
  std::int64_t run_id = 0;
  transaction([&] {
    RunRecord stored = r;
    if (stored.variant.empty()) stored.variant = stored.config;
    run_id = insert_record(db_, "runs", run_columns(), stored, r.session_id);
    for (const auto& p : r.phases) insert_record(db_, "phases", phase_columns(), p, run_id);
  });
  checkpoint();
  return run_id;
}

namespace {
// A run with one of its phases and its session's device, GPU and host, as reports read it.
RunPhaseRow flatten(std::int64_t run_id, const RunRecord& run, PhaseRecord phase, const SessionRecord& session) {
  RunPhaseRow row;
  row.run_id = run_id;
  row.session_id = run.session_id;
  row.config = run.config;
  row.family = run.family;
  row.status = run.status;
  row.error = run.error;
  row.variant = run.variant.empty() ? run.config : run.variant;
  row.started_at = run.started_at;
  row.spec_json = run.spec_json;
  row.repetition = run.repetition;
  row.fraction = run.fraction;
  row.epochs_per_unit = run.epochs_per_unit;
  row.frames = run.frames;
  row.metrics = run.metrics;
  row.params = run.params;
  row.batch = run.batch;
  row.clips = run.clips;
  const bool train = phase.phase == "train";
  row.flops_per_step = train ? run.train_flops_per_step : run.test_flops_per_step;
  row.flops_per_epoch = train ? run.train_flops_per_epoch : run.test_flops_per_epoch;
  row.traffic_bytes_per_step = train ? run.train_traffic_bytes_per_step : run.test_traffic_bytes_per_step;
  row.impl = run.impl.empty() ? "default" : run.impl;
  row.kernels_per_step = train ? run.train_kernels_per_step : run.test_kernels_per_step;
  row.retry_of = run.retry_of;
  row.retry_reason = run.retry_reason;
  row.learning_json = run.learning_json;
  row.phase = std::move(phase);
  row.device = session.device;
  row.gpu_name = session.gpu_name;
  row.hostname = session.hostname;
  row.hardware = HardwareProbes::from_json(session.hardware_json);
  return row;
}
}  // namespace

std::string HardwareProbes::to_json() const {
  return nlohmann::json{{"launch_s", launch_s},
                        {"matmul_flops_s", matmul_flops_s},
                        {"copy_bytes_s", copy_bytes_s},
                        {"idle_no_context_w", idle_no_context_w},
                        {"method",
                         "measured at the session's start: launch = one-element in-place add, back to back, timed to "
                         "a synchronize; matmul = square fp32 product (2 n^3 FLOPs); copy = device-to-device copy_ "
                         "(bytes read + written); each the median of 5 timings. idle_no_context_w: mean NVML GPU "
                         "power over --idle seconds before the process held the device's primary CUDA context "
                         "(cuDevicePrimaryCtxGetState, asked before and after), -1 where not measured"}}
      .dump();
}

HardwareProbes HardwareProbes::from_json(const std::string& text) {
  HardwareProbes p;
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return p;
  auto number = [&](const char* key) { return j.contains(key) && j[key].is_number() ? j[key].get<double>() : -1.0; };
  p.launch_s = number("launch_s");
  p.matmul_flops_s = number("matmul_flops_s");
  p.copy_bytes_s = number("copy_bytes_s");
  p.idle_no_context_w = number("idle_no_context_w");
  return p;
}

std::vector<RunPhaseRow> Store::rows(std::optional<std::int64_t> session) const {
  std::string sql = "SELECT r.id, r.session_id, " + select_list(run_columns(), "r") + ", " +
                    select_list(phase_columns(), "p") + ", s.device, s.gpu_name, s.hostname, s.hardware_json "
                    "FROM runs r JOIN sessions s ON s.id = r.session_id LEFT JOIN phases p ON p.run_id = r.id ";
  if (session) sql += "WHERE r.session_id = " + std::to_string(*session) + " ";
  sql += "ORDER BY r.id, p.id";
  Stmt s(db_, sql);
  std::vector<RunPhaseRow> out;
  while (s.step()) {
    RunRecord run;
    PhaseRecord phase;
    SessionRecord where;
    const std::int64_t run_id = s.integer(0);
    run.session_id = s.integer(1);
    int c = read_record(s, 2, run_columns(), run);
    c = read_record(s, c, phase_columns(), phase);
    where.device = s.text(c);
    where.gpu_name = s.text(c + 1);
    where.hostname = s.text(c + 2);
    where.hardware_json = s.text(c + 3);
    out.push_back(flatten(run_id, run, std::move(phase), where));
  }
  return out;
}

std::vector<SessionRecord> Store::sessions() const {
  Stmt s(db_, "SELECT " + select_list(session_columns(), "s") + " FROM sessions s ORDER BY id");
  std::vector<SessionRecord> out;
  while (s.step()) {
    SessionRecord r;
    read_record(s, 0, session_columns(), r);
    out.push_back(std::move(r));
  }
  return out;
}

namespace {
// The columns that identify a session (run_identity's comment): merge's SQL and session_identities read them.
constexpr const char* kSessionIdentity[] = {"started_at", "hostname", "config_json", "device"};
constexpr char kIdentitySeparator = '\x1f';

std::string same_session_sql(const char* ours, const char* theirs) {
  std::string sql;
  for (const char* c : kSessionIdentity) {
    sql += std::string(sql.empty() ? "" : " AND ") + ours + "." + c + " IS " + theirs + "." + c;
  }
  return sql;
}
}  // namespace

std::string run_identity(const std::string& session_identity, const std::string& variant, int repetition) {
  return session_identity + kIdentitySeparator + variant + kIdentitySeparator + std::to_string(repetition);
}

std::string user_window_identity(const UserWindowRecord& w) {
  return w.run_uuid + kIdentitySeparator + w.name + kIdentitySeparator + w.started_at;
}

std::map<std::int64_t, std::string> Store::session_identities() const {
  std::string cols;
  for (const char* c : kSessionIdentity) cols += std::string(", ") + c;
  Stmt s(db_, "SELECT id" + cols + " FROM sessions");
  std::map<std::int64_t, std::string> out;
  while (s.step()) {
    std::string key;
    for (int i = 0; i < static_cast<int>(std::size(kSessionIdentity)); ++i) key += s.text(i + 1) + kIdentitySeparator;
    out[s.integer(0)] = key;
  }
  return out;
}

std::vector<std::int64_t> Store::matching_sessions(const SessionRecord& like) const {
  Stmt s(db_,
         "SELECT id FROM sessions WHERE config_json=? AND dataset=? AND features=? AND device=? AND grid=? "
         "ORDER BY id");
  s.bind(like.config_json).bind(like.dataset).bind(like.features).bind(like.device).bind(like.grid);
  std::vector<std::int64_t> out;
  while (s.step()) out.push_back(s.integer(0));
  return out;
}

std::set<std::string> Store::finished_items(const std::vector<std::int64_t>& sessions) const {
  std::set<std::string> out;
  for (auto id : sessions) {
    // An interrupted run (windows cut short by a stop request) is not finished: --resume redoes it.
    Stmt s(db_, "SELECT coalesce(variant, config) || '#' || coalesce(repetition, 1) FROM runs "
                "WHERE session_id=? AND status != 'interrupted'");
    s.bind(static_cast<long long>(id));
    while (s.step()) out.insert(s.text(0));
  }
  return out;
}

void Store::transaction(const std::function<void()>& body) {
  exec("BEGIN IMMEDIATE;");
  try {
    body();
    exec("COMMIT;");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK;", nullptr, nullptr, nullptr);
    throw;
  }
}

bool Store::claim(const std::string& group, const std::string& item, const std::string& worker,
                  const std::function<bool(const std::string&)>& may_take_over) {
  bool mine = false;
  transaction([&] {
    Stmt s(db_, "INSERT OR IGNORE INTO claims(grp, item, worker, claimed_at) VALUES(?,?,?,?)");
    s.bind(group).bind(item).bind(worker).bind(utc_now_iso());
    s.step();
    mine = sqlite3_changes(db_) == 1;
    if (mine || !may_take_over) return;
    Stmt holder(db_, "SELECT worker FROM claims WHERE grp=? AND item=?");
    holder.bind(group).bind(item);
    if (!holder.step() || !may_take_over(holder.text(0))) return;
    Stmt take(db_, "UPDATE claims SET worker=?, claimed_at=? WHERE grp=? AND item=?");
    take.bind(worker).bind(utc_now_iso()).bind(group).bind(item);
    take.step();
    mine = true;
  });
  return mine;
}

std::int64_t Store::continue_or_begin_session(const SessionRecord& s, std::vector<std::int64_t>& earlier) {
  std::int64_t id = 0;
  transaction([&] {
    earlier = matching_sessions(s);
    id = earlier.empty() ? begin_session(s) : earlier.back();
  });
  return id;
}

int Store::merge_from(const std::string& other_path) {
  Store other(other_path, Access::kRead);  // a sedenergy database of a readable schema, left as it is
  Stmt attach(db_, "ATTACH DATABASE ? AS other");
  attach.bind(other.file());
  attach.step();
  int added = 0;
  try {
    transaction([&] {
      const std::string session_cols = names(session_columns());
      std::vector<std::pair<long long, long long>> session_map;  // other id -> our id
      {
        Stmt ids(db_, "SELECT id FROM other.sessions ORDER BY id");
        while (ids.step()) session_map.emplace_back(ids.integer(0), 0);
      }
      for (auto& [theirs, ours] : session_map) {
        Stmt find(db_, "SELECT s.id FROM sessions s JOIN other.sessions o ON o.id = ? AND " + same_session_sql("s", "o"));
        find.bind(theirs);
        if (find.step()) {
          ours = find.integer(0);
          continue;
        }
        Stmt ins(db_, "INSERT INTO sessions(" + session_cols + ") SELECT " + session_cols +
                          " FROM other.sessions WHERE id = ?");
        ins.bind(theirs);
        ins.step();
        ours = sqlite3_last_insert_rowid(db_);
      }
      const std::string run_cols = names(run_columns(), "", true), phase_cols = names(phase_columns(), "", true);
      for (const auto& [theirs, ours] : session_map) {
        std::vector<long long> runs;
        {
          Stmt r(db_,
                 "SELECT o.id FROM other.runs o WHERE o.session_id = ? AND NOT EXISTS "
                 "(SELECT 1 FROM runs m WHERE m.session_id = ? AND m.variant IS o.variant AND m.repetition IS o.repetition) "
                 "ORDER BY o.id");
          r.bind(theirs).bind(ours);
          while (r.step()) runs.push_back(r.integer(0));
        }
        for (long long run : runs) {
          Stmt ins(db_, "INSERT INTO runs(session_id, " + run_cols + ") SELECT ?, " + run_cols +
                            " FROM other.runs WHERE id = ?");
          ins.bind(ours).bind(run);
          ins.step();
          const long long new_run = sqlite3_last_insert_rowid(db_);
          Stmt ph(db_, "INSERT INTO phases(run_id, " + phase_cols + ") SELECT ?, " + phase_cols +
                           " FROM other.phases WHERE run_id = ? ORDER BY id");
          ph.bind(new_run).bind(run);
          ph.step();
          ++added;
        }
      }
      // User windows: a window already present (same run, name and start) is not copied again.
      const std::string cols = names(user_columns());
      exec("INSERT INTO user_windows(" + cols + ") SELECT " + cols + " FROM other.user_windows o WHERE NOT EXISTS " +
           "(SELECT 1 FROM user_windows m WHERE m.run_uuid IS o.run_uuid AND m.name IS o.name AND " +
           "m.started_at IS o.started_at) ORDER BY o.id;");
    });
  } catch (...) {
    sqlite3_exec(db_, "DETACH DATABASE other;", nullptr, nullptr, nullptr);  // the transaction rolled back
    throw;
  }
  exec("DETACH DATABASE other;");
  return added;
}

std::int64_t Store::add_user_window(const UserWindowRecord& w) {
  const std::int64_t id = insert_record(db_, "user_windows", user_columns(), w);
  checkpoint();
  return id;
}

std::vector<UserWindowRecord> Store::user_windows() const {
  Stmt sel(db_, "SELECT " + select_list(user_columns(), "u") + " FROM user_windows u ORDER BY id");
  std::vector<UserWindowRecord> out;
  while (sel.step()) {
    UserWindowRecord w;
    read_record(sel, 0, user_columns(), w);
    out.push_back(std::move(w));
  }
  return out;
}

int Store::run_count() const {
  Stmt s(db_, "SELECT count(*) FROM runs WHERE status != 'interrupted'");
  s.step();
  return static_cast<int>(s.integer(0));
}

}  // namespace sedenergy::store
