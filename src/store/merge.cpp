// Databases brought together: what identifies a session, a run and a user window across files (the report's
// dedupe reads the same), and merge_from, which copies what another database has and this one has not.
#include <map>

#include "store/sql.hpp"

namespace sedenergy::store {

using namespace detail;

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

}  // namespace sedenergy::store
