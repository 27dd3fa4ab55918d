#include "store/store.hpp"

#include <sqlite3.h>

#include <stdlib.h>

#include <chrono>
#include <functional>
#include <filesystem>
#include <thread>
#include <variant>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy::store {
namespace {

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL, finished_at TEXT, command TEXT,
  hostname TEXT, os TEXT, cpu_model TEXT, cpu_count INTEGER, ram_gb REAL,
  gpu_name TEXT, gpu_driver TEXT, libtorch_version TEXT, sedenergy_version TEXT, git_revision TEXT,
  device TEXT, grid TEXT, dataset TEXT, features TEXT, config_json TEXT, idle_json TEXT);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id),
  config TEXT NOT NULL, family TEXT NOT NULL, spec_json TEXT,
  status TEXT NOT NULL, error TEXT,
  params INTEGER, train_flops_per_step REAL, test_flops_per_step REAL,
  train_flops_per_epoch REAL, test_flops_per_epoch REAL,
  batch INTEGER, clips INTEGER, steps_per_epoch INTEGER,
  started_at TEXT, finished_at TEXT,
  variant TEXT, repetition INTEGER DEFAULT 1, fraction REAL DEFAULT 1, epochs_per_unit INTEGER DEFAULT 1,
  frames INTEGER, loss TEXT, accuracy REAL, label_accuracy REAL, f1_macro REAL, map REAL, metrics_json TEXT);
CREATE TABLE IF NOT EXISTS phases(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  phase TEXT NOT NULL, epochs INTEGER, window_s REAL,
  duration_s REAL, energy_j REAL, gpu_energy_j REAL, cpu_energy_j REAL, ram_energy_j REAL,
  net_gpu_energy_j REAL, uncertainty_j REAL,
  gpu_method TEXT, cpu_method TEXT, ram_method TEXT, estimated INTEGER,
  gpu_power_w REAL, gpu_util_pct REAL, mem_util_pct REAL, cpu_load REAL, loss REAL,
  flags TEXT, window_json TEXT);
CREATE TABLE IF NOT EXISTS claims(
  grp TEXT NOT NULL, item TEXT NOT NULL, worker TEXT, claimed_at TEXT, PRIMARY KEY(grp, item));
CREATE INDEX IF NOT EXISTS runs_by_session ON runs(session_id);
CREATE INDEX IF NOT EXISTS phases_by_run ON phases(run_id);
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

// The user_windows table, declared once: its schema, INSERT, SELECT and merge are made from this list.
struct UserColumn {
  const char* name;
  std::variant<std::string UserWindowRecord::*, double UserWindowRecord::*, bool UserWindowRecord::*> field;
};

const std::vector<UserColumn>& user_columns() {
  using R = UserWindowRecord;
  static const std::vector<UserColumn> cols = {
      {"run_uuid", &R::run_uuid},         {"source", &R::source},           {"project_name", &R::project_name},
      {"experiment_id", &R::experiment_id}, {"command", &R::command},       {"name", &R::name},
      {"started_at", &R::started_at},     {"duration_s", &R::duration_s},   {"energy_j", &R::energy_j},
      {"gpu_energy_j", &R::gpu_energy_j}, {"cpu_energy_j", &R::cpu_energy_j}, {"ram_energy_j", &R::ram_energy_j},
      {"net_gpu_energy_j", &R::net_gpu_energy_j}, {"gpu_method", &R::gpu_method}, {"cpu_method", &R::cpu_method},
      {"ram_method", &R::ram_method},     {"estimated", &R::estimated},     {"gpu_util_pct", &R::gpu_util_pct},
      {"cpu_load", &R::cpu_load},         {"flags", &R::flags},             {"hostname", &R::hostname},
      {"gpu_name", &R::gpu_name},         {"window_json", &R::window_json}};
  return cols;
}

std::string user_column_list() {
  std::vector<std::string> names;
  for (const auto& c : user_columns()) names.push_back(c.name);
  return join(names, ", ");
}

std::string user_table_sql() {
  std::vector<std::string> defs = {"id INTEGER PRIMARY KEY"};
  for (const auto& c : user_columns()) {
    const char* type = std::holds_alternative<std::string UserWindowRecord::*>(c.field) ? " TEXT"
                       : std::holds_alternative<double UserWindowRecord::*>(c.field) ? " REAL" : " INTEGER";
    defs.push_back(std::string(c.name) + type);
  }
  return "CREATE TABLE IF NOT EXISTS user_windows(" + join(defs, ", ") +
         ");\nCREATE INDEX IF NOT EXISTS user_windows_by_run ON user_windows(run_uuid);\n";
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
    std::filesystem::remove_all(temp_dir_, ec);
    throw file_error(path, 0, "cannot copy it to read it: " + ec.message());
  }
  try {
    open_read_write();
  } catch (...) {
    std::filesystem::remove_all(temp_dir_, ec);
    throw;
  }
}

void Store::connect(int flags) {
  if (sqlite3_open_v2(file_.c_str(), &db_, flags, nullptr) == SQLITE_OK) {
    // Several sweeps may write one database: wait for each other's transactions.
    sqlite3_busy_timeout(db_, 30000);
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
    exec(user_table_sql());
    exec("INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '" + std::to_string(kSchemaVersion) + "');");
    exec("COMMIT;");
  } catch (...) {
    close();
    throw;
  }
}

Store::~Store() {
  close();
  std::error_code ec;
  if (!temp_dir_.empty()) std::filesystem::remove_all(temp_dir_, ec);
}

// Inside the opening transaction: older files gain the new columns, their runs become repetition 1.
void Store::migrate(int from) {
  if (from < 2) {
    for (const char* col : {"variant TEXT", "repetition INTEGER DEFAULT 1", "fraction REAL DEFAULT 1",
                            "epochs_per_unit INTEGER DEFAULT 1", "frames INTEGER", "loss TEXT", "accuracy REAL",
                            "label_accuracy REAL", "f1_macro REAL", "map REAL", "metrics_json TEXT"}) {
      exec(std::string("ALTER TABLE runs ADD COLUMN ") + col + ";");
    }
    exec("UPDATE runs SET variant = config WHERE variant IS NULL;");
  }
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

std::int64_t Store::begin_session(const SessionRecord& r) {
  Stmt s(db_,
         "INSERT INTO sessions(started_at, command, hostname, os, cpu_model, cpu_count, ram_gb, gpu_name, gpu_driver, "
         "libtorch_version, sedenergy_version, git_revision, device, grid, dataset, features, config_json, idle_json) "
         "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(r.started_at).bind(r.command).bind(r.hostname).bind(r.os).bind(r.cpu_model).bind(r.cpu_count).bind(r.ram_gb);
  s.bind(r.gpu_name).bind(r.gpu_driver).bind(r.libtorch_version).bind(r.sedenergy_version).bind(r.git_revision);
  s.bind(r.device).bind(r.grid).bind(r.dataset).bind(r.features).bind(r.config_json).bind(r.idle_json);
  s.step();
  return sqlite3_last_insert_rowid(db_);
}

void Store::finish_session(std::int64_t id) {
  Stmt s(db_, "UPDATE sessions SET finished_at=? WHERE id=?");
  s.bind(utc_now_iso()).bind(static_cast<long long>(id));
  s.step();
  checkpoint();
}

void Store::checkpoint() const {
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

std::int64_t Store::add_run(const RunRecord& r) {
  std::int64_t run_id = 0;
  transaction([&] {
    Stmt s(db_,
           "INSERT INTO runs(session_id, config, family, spec_json, status, error, params, train_flops_per_step, "
           "test_flops_per_step, train_flops_per_epoch, test_flops_per_epoch, batch, clips, steps_per_epoch, "
           "started_at, finished_at, variant, repetition, fraction, epochs_per_unit, frames, loss, accuracy, "
           "label_accuracy, f1_macro, map, metrics_json) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.bind(static_cast<long long>(r.session_id)).bind(r.config).bind(r.family).bind(r.spec_json).bind(r.status);
    s.bind(r.error).bind(r.params).bind(r.train_flops_per_step).bind(r.test_flops_per_step);
    s.bind(r.train_flops_per_epoch).bind(r.test_flops_per_epoch).bind(r.batch).bind(r.clips);
    s.bind(r.steps_per_epoch).bind(r.started_at).bind(r.finished_at);
    s.bind(r.variant.empty() ? r.config : r.variant).bind(r.repetition).bind(r.fraction).bind(r.epochs_per_unit);
    s.bind(r.frames).bind(r.loss).bind(r.metrics.accuracy).bind(r.metrics.label_accuracy).bind(r.metrics.f1_macro);
    s.bind(r.metrics.map).bind(r.metrics.per_class_json);
    s.step();
    run_id = sqlite3_last_insert_rowid(db_);
    for (const auto& p : r.phases) {
      Stmt q(db_,
             "INSERT INTO phases(run_id, phase, epochs, window_s, duration_s, energy_j, gpu_energy_j, cpu_energy_j, "
             "ram_energy_j, net_gpu_energy_j, uncertainty_j, gpu_method, cpu_method, ram_method, estimated, "
             "gpu_power_w, gpu_util_pct, mem_util_pct, cpu_load, loss, flags, window_json) "
             "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      q.bind(static_cast<long long>(run_id)).bind(p.phase).bind(p.epochs).bind(p.window_s).bind(p.duration_s);
      q.bind(p.energy_j).bind(p.gpu_energy_j).bind(p.cpu_energy_j).bind(p.ram_energy_j).bind(p.net_gpu_energy_j);
      q.bind(p.uncertainty_j).bind(p.gpu_method).bind(p.cpu_method).bind(p.ram_method).bind(p.estimated);
      q.bind(p.gpu_power_w).bind(p.gpu_util_pct).bind(p.mem_util_pct).bind(p.cpu_load).bind(p.loss);
      q.bind(p.flags).bind(p.window_json);
      q.step();
    }
  });
  checkpoint();
  return run_id;
}

std::vector<RunPhaseRow> Store::rows(std::optional<std::int64_t> session) const {
  std::string sql =
      "SELECT r.id, r.session_id, r.config, r.family, r.status, r.error, r.params, "
      "r.train_flops_per_step, r.test_flops_per_step, r.train_flops_per_epoch, r.test_flops_per_epoch, r.batch, "
      "r.clips, p.phase, p.epochs, p.window_s, p.duration_s, p.energy_j, p.gpu_energy_j, p.cpu_energy_j, "
      "p.ram_energy_j, p.net_gpu_energy_j, p.uncertainty_j, p.gpu_method, p.cpu_method, p.ram_method, p.estimated, "
      "p.gpu_power_w, p.gpu_util_pct, p.mem_util_pct, p.cpu_load, p.loss, p.flags, p.window_json, "
      "s.device, s.gpu_name, s.hostname, coalesce(r.variant, r.config), coalesce(r.repetition, 1), "
      "coalesce(r.fraction, 1), coalesce(r.epochs_per_unit, 1), coalesce(r.frames, 0), coalesce(r.accuracy, -1), "
      "coalesce(r.label_accuracy, -1), coalesce(r.f1_macro, -1), coalesce(r.map, -1), coalesce(r.metrics_json, ''), r.started_at, coalesce(r.spec_json, '') "
      "FROM runs r JOIN sessions s ON s.id = r.session_id LEFT JOIN phases p ON p.run_id = r.id ";
  if (session) sql += "WHERE r.session_id = " + std::to_string(*session) + " ";
  sql += "ORDER BY r.id, p.id";
  Stmt s(db_, sql);
  std::vector<RunPhaseRow> out;
  while (s.step()) {
    RunPhaseRow row;
    int c = 0;
    row.run_id = s.integer(c++);
    row.session_id = s.integer(c++);
    row.config = s.text(c++);
    row.family = s.text(c++);
    row.status = s.text(c++);
    row.error = s.text(c++);
    row.params = s.integer(c++);
    double train_step = s.real(c++), test_step = s.real(c++), train_epoch = s.real(c++), test_epoch = s.real(c++);
    row.batch = static_cast<int>(s.integer(c++));
    row.clips = static_cast<int>(s.integer(c++));
    PhaseRecord& p = row.phase;
    p.phase = s.text(c++);
    p.epochs = static_cast<int>(s.integer(c++));
    p.window_s = s.real(c++);
    p.duration_s = s.real(c++);
    p.energy_j = s.real(c++);
    p.gpu_energy_j = s.real(c++);
    p.cpu_energy_j = s.real(c++);
    p.ram_energy_j = s.real(c++);
    p.net_gpu_energy_j = s.real(c++);
    p.uncertainty_j = s.real(c++);
    p.gpu_method = s.text(c++);
    p.cpu_method = s.text(c++);
    p.ram_method = s.text(c++);
    p.estimated = s.integer(c++) != 0;
    p.gpu_power_w = s.real(c++);
    p.gpu_util_pct = s.real(c++);
    p.mem_util_pct = s.real(c++);
    p.cpu_load = s.real(c++);
    p.loss = s.real(c++);
    p.flags = s.text(c++);
    p.window_json = s.text(c++);
    row.device = s.text(c++);
    row.gpu_name = s.text(c++);
    row.hostname = s.text(c++);
    row.variant = s.text(c++);
    row.repetition = static_cast<int>(s.integer(c++));
    row.fraction = s.real(c++);
    row.epochs_per_unit = static_cast<int>(s.integer(c++));
    row.frames = static_cast<int>(s.integer(c++));
    row.metrics.accuracy = s.real(c++);
    row.metrics.label_accuracy = s.real(c++);
    row.metrics.f1_macro = s.real(c++);
    row.metrics.map = s.real(c++);
    row.metrics.per_class_json = s.text(c++);
    row.started_at = s.text(c++);
    row.spec_json = s.text(c++);
    const bool train = p.phase == "train";
    row.flops_per_step = train ? train_step : test_step;
    row.flops_per_epoch = train ? train_epoch : test_epoch;
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<SessionRecord> Store::sessions() const {
  Stmt s(db_,
         "SELECT started_at, command, hostname, os, cpu_model, cpu_count, ram_gb, gpu_name, gpu_driver, "
         "libtorch_version, sedenergy_version, git_revision, device, grid, dataset, features, config_json, idle_json "
         "FROM sessions ORDER BY id");
  std::vector<SessionRecord> out;
  while (s.step()) {
    SessionRecord r;
    int c = 0;
    r.started_at = s.text(c++);
    r.command = s.text(c++);
    r.hostname = s.text(c++);
    r.os = s.text(c++);
    r.cpu_model = s.text(c++);
    r.cpu_count = static_cast<int>(s.integer(c++));
    r.ram_gb = s.real(c++);
    r.gpu_name = s.text(c++);
    r.gpu_driver = s.text(c++);
    r.libtorch_version = s.text(c++);
    r.sedenergy_version = s.text(c++);
    r.git_revision = s.text(c++);
    r.device = s.text(c++);
    r.grid = s.text(c++);
    r.dataset = s.text(c++);
    r.features = s.text(c++);
    r.config_json = s.text(c++);
    r.idle_json = s.text(c++);
    out.push_back(std::move(r));
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
  exec("BEGIN IMMEDIATE;");
  try {
    const char* session_cols =
        "started_at, finished_at, command, hostname, os, cpu_model, cpu_count, ram_gb, gpu_name, gpu_driver, "
        "libtorch_version, sedenergy_version, git_revision, device, grid, dataset, features, config_json, idle_json";
    std::vector<std::pair<long long, long long>> session_map;  // other id -> our id
    {
      Stmt ids(db_, "SELECT id FROM other.sessions ORDER BY id");
      while (ids.step()) session_map.emplace_back(ids.integer(0), 0);
    }
    for (auto& [theirs, ours] : session_map) {
      Stmt find(db_,
                "SELECT s.id FROM sessions s JOIN other.sessions o ON o.id = ? AND s.started_at = o.started_at AND "
                "s.hostname IS o.hostname AND s.config_json IS o.config_json AND s.device IS o.device");
      find.bind(theirs);
      if (find.step()) {
        ours = find.integer(0);
        continue;
      }
      Stmt ins(db_, std::string("INSERT INTO sessions(") + session_cols + ") SELECT " + session_cols +
                        " FROM other.sessions WHERE id = ?");
      ins.bind(theirs);
      ins.step();
      ours = sqlite3_last_insert_rowid(db_);
    }
    const char* run_cols =
        "config, family, spec_json, status, error, params, train_flops_per_step, test_flops_per_step, "
        "train_flops_per_epoch, test_flops_per_epoch, batch, clips, steps_per_epoch, started_at, finished_at, "
        "variant, repetition, fraction, epochs_per_unit, frames, loss, accuracy, label_accuracy, f1_macro, map, "
        "metrics_json";
    const char* phase_cols =
        "phase, epochs, window_s, duration_s, energy_j, gpu_energy_j, cpu_energy_j, ram_energy_j, net_gpu_energy_j, "
        "uncertainty_j, gpu_method, cpu_method, ram_method, estimated, gpu_power_w, gpu_util_pct, mem_util_pct, "
        "cpu_load, loss, flags, window_json";
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
        Stmt ins(db_, std::string("INSERT INTO runs(session_id, ") + run_cols + ") SELECT ?, " + run_cols +
                          " FROM other.runs WHERE id = ?");
        ins.bind(ours).bind(run);
        ins.step();
        const long long new_run = sqlite3_last_insert_rowid(db_);
        Stmt ph(db_, std::string("INSERT INTO phases(run_id, ") + phase_cols + ") SELECT ?, " + phase_cols +
                         " FROM other.phases WHERE run_id = ? ORDER BY id");
        ph.bind(new_run).bind(run);
        ph.step();
        ++added;
      }
    }
    // User windows: a window already present (same run, name and start) is not copied again.
    const std::string cols = user_column_list();
    exec("INSERT INTO user_windows(" + cols + ") SELECT " + cols + " FROM other.user_windows o WHERE NOT EXISTS " +
         "(SELECT 1 FROM user_windows m WHERE m.run_uuid IS o.run_uuid AND m.name IS o.name AND " +
         "m.started_at IS o.started_at) ORDER BY o.id;");
    exec("COMMIT;");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK;", nullptr, nullptr, nullptr);
    sqlite3_exec(db_, "DETACH DATABASE other;", nullptr, nullptr, nullptr);
    throw;
  }
  exec("DETACH DATABASE other;");
  return added;
}

std::int64_t Store::add_user_window(const UserWindowRecord& w) {
  std::string marks;
  for (std::size_t i = 0; i < user_columns().size(); ++i) marks += i ? ", ?" : "?";
  Stmt ins(db_, "INSERT INTO user_windows(" + user_column_list() + ") VALUES(" + marks + ")");
  for (const auto& c : user_columns()) std::visit([&](auto member) { ins.bind(w.*member); }, c.field);
  ins.step();
  const std::int64_t id = sqlite3_last_insert_rowid(db_);
  checkpoint();
  return id;
}

std::vector<UserWindowRecord> Store::user_windows() const {
  Stmt sel(db_, "SELECT " + user_column_list() + " FROM user_windows ORDER BY id");
  std::vector<UserWindowRecord> out;
  while (sel.step()) {
    UserWindowRecord w;
    int i = 0;
    for (const auto& c : user_columns()) {
      std::visit(
          [&](auto member) {
            using T = std::remove_reference_t<decltype(w.*member)>;
            if constexpr (std::is_same_v<T, std::string>) w.*member = sel.text(i);
            else if constexpr (std::is_same_v<T, double>) w.*member = sel.real(i);
            else w.*member = sel.integer(i) != 0;
          },
          c.field);
      ++i;
    }
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
