// How the store talks to SQLite, declared once for its files (store.cpp, columns.cpp, merge.cpp); not for use
// outside src/store: a prepared statement, each table's columns with their types and the schema that added
// them, and the statements built from those lists.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "store/store.hpp"

namespace sedenergy::store::detail {

extern const char* const kSchema;   // the tables without a record type (meta, claims)
extern const char* const kIndexes;

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

inline void read_into(const Stmt& s, int c, std::string& v) { v = s.text(c); }
inline void read_into(const Stmt& s, int c, double& v) { v = s.real(c); }
inline void read_into(const Stmt& s, int c, int& v) { v = static_cast<int>(s.integer(c)); }
inline void read_into(const Stmt& s, int c, long long& v) { v = s.integer(c); }
inline void read_into(const Stmt& s, int c, bool& v) { v = s.integer(c) != 0; }

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
// A member of a member (a run's test metrics, a phase's accounting).
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

const std::vector<Column<SessionRecord>>& session_columns();
const std::vector<Column<RunRecord>>& run_columns();
const std::vector<Column<PhaseRecord>>& phase_columns();
const std::vector<Column<UserWindowRecord>>& user_columns();

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

}  // namespace sedenergy::store::detail
