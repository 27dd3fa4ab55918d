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
#include "store/json_columns.hpp"
#include "store/sql.hpp"

namespace sedenergy::store {

using namespace detail;

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

std::string HardwareProbes::to_json() const {
  return nlohmann::json{{"launch_s", launch_s},
                        {"matmul_flops_s", matmul_flops_s},
                        {"copy_bytes_s", copy_bytes_s},
                        {"idle_no_context_w", idle_no_context_w},
                        {"ieee_j_per_flop", ieee_j_per_flop},
                        {"tf32_j_per_flop", tf32_j_per_flop},
                        {"ieee_s_per_flop", ieee_s_per_flop},
                        {"tf32_s_per_flop", tf32_s_per_flop},
                        {"method",
                         "measured at the session's start: launch = one-element in-place add, back to back, timed to "
                         "a synchronize; matmul = square fp32 product (2 n^3 FLOPs); copy = device-to-device copy_ "
                         "(bytes read + written); each the median of 5 timings. idle_no_context_w: mean NVML GPU "
                         "power over --idle seconds before the process held the device's primary CUDA context "
                         "(cuDevicePrimaryCtxGetState, asked before and after); ieee_* and tf32_*: the three matrix "
                         "products of a 4096-wide Linear's training step at batch 8, looped in meter windows of "
                         "1.5 s with cuBLAS TF32 on, off, on: NVML GPU energy and seconds per FLOP with it off (ieee) "
                         "and the mean of the two with it on (tf32); -1 where not measured"}}
      .dump();
}

double HardwareProbes::ieee_extra_j_per_flop(double baseline_w) const {
  if (!present(ieee_j_per_flop) || !present(tf32_j_per_flop) || !present(ieee_s_per_flop) || !present(tf32_s_per_flop)) {
    return NAN;
  }
  return (ieee_j_per_flop - tf32_j_per_flop) - baseline_w * (ieee_s_per_flop - tf32_s_per_flop);
}

std::vector<RunPhaseRow> Store::rows(std::optional<std::int64_t> session) const {
  std::string sql = "SELECT r.id, r.session_id, " + select_list(run_columns(), "r") + ", " +
                    select_list(phase_columns(), "p") +
                    ", s.device, s.gpu_name, s.hostname, s.hardware_json, s.dataset, s.config_json, s.git_revision "
                    "FROM runs r JOIN sessions s ON s.id = r.session_id LEFT JOIN phases p ON p.run_id = r.id ";
  if (session) sql += "WHERE r.session_id = " + std::to_string(*session) + " ";
  sql += "ORDER BY r.id, p.id";
  Stmt s(db_, sql);
  std::vector<RunPhaseRow> out;
  std::map<std::int64_t, std::shared_ptr<const RunSite>> sites;  // one per session, read once
  while (s.step()) {
    RunPhaseRow row;
    row.run_id = s.integer(0);
    if (out.empty() || out.back().run_id != row.run_id) {  // a run's phases come together (ORDER BY r.id)
      auto run = std::make_shared<RunRecord>();
      run->session_id = s.integer(1);
      read_record(s, 2, run_columns(), *run);
      if (run->variant.empty()) run->variant = run->config;  // before schema 2
      if (run->impl.empty()) run->impl = "default";          // before schema 5
      row.run = std::move(run);
    } else {
      row.run = out.back().run;
    }
    const int c = read_record(s, 2 + static_cast<int>(run_columns().size()), phase_columns(), row.phase);
    auto& site = sites[row.run->session_id];
    if (!site) {
      site = std::make_shared<const RunSite>(RunSite{s.text(c), s.text(c + 1), s.text(c + 2),
                                                     HardwareProbes::from_json(s.text(c + 3)), s.text(c + 4),
                                                     read_target_map(s.text(c + 5)), s.text(c + 6)});
    }
    row.site = site;
    out.push_back(std::move(row));
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

std::vector<std::int64_t> Store::matching_sessions(const SessionRecord& like) const {
  Stmt s(db_,
         "SELECT id FROM sessions WHERE config_json=? AND dataset=? AND features=? AND device=? AND grid=? "
         "AND coalesce(gpu_name, '')=? AND coalesce(git_revision, '')=? ORDER BY id");
  s.bind(like.config_json).bind(like.dataset).bind(like.features).bind(like.device).bind(like.grid);
  s.bind(like.gpu_name).bind(like.git_revision);
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
