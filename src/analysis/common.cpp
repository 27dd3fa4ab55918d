// Helpers every question reads points and tables with: numbers and intervals in words, the facts of a
// window record, a phase's points, a table's cells by column name.
#include "analysis/questions.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "analysis/stats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "energy/records.hpp"
#include "store/json_columns.hpp"
#include "models/spec.hpp"

namespace sedenergy::analysis {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string fmt(double v, const char* f) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string interval_text(const Interval& i, const char* f) {
  if (!std::isfinite(i.lo) || !std::isfinite(i.hi)) return "";
  return std::string(" [") + fmt(i.lo, f) + ", " + fmt(i.hi, f) + "]";
}

WindowFacts window_facts(const std::string& text) {
  WindowFacts f;
  const auto w = store::read_window(text);
  if (!w) return f;  // a damaged record contributes nothing rather than stopping the report
  f.sm_util = w->activity("sm_util_pct");
  f.dram_bw = w->activity("dram_bw_util_pct");
  for (const auto& d : w->domains) {
    if (d.domain != energy::domain_name(energy::Domain::gpu)) continue;
    if (d.energy_j > 0 && d.integral_energy_j > 0) {
      f.counter_vs_integral_pct.push_back(100 * std::abs(d.integral_energy_j - d.energy_j) / d.energy_j);
    }
    if (d.energy_j > 0 && d.idle_power_w > 0) f.idle_share_pct.push_back(100 * d.idle_power_w * w->duration_s / d.energy_j);
  }
  return f;
}

// The validity flags of a phase, stored "; "-separated.
std::vector<std::string> split_flags(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : split(text, ';')) {
    if (auto f = trim(part); !f.empty()) out.push_back(f);
  }
  return out;
}

// The study's four families (models owns the list).
const std::vector<std::string> kFamilies = models::study_family_names();

// The points of one phase (and family; "" for all).
std::vector<const Point*> select(const Analysis& a, const std::string& phase, const std::string& family) {
  std::vector<const Point*> out;
  for (const auto& p : a.points) {
    if (p.phase == phase && (family.empty() || p.family == family)) out.push_back(&p);
  }
  return out;
}

std::vector<std::string> phases_of(const Analysis& a) {
  std::vector<std::string> phases;
  for (const auto& p : a.points) {
    if (std::find(phases.begin(), phases.end(), p.phase) == phases.end()) phases.push_back(p.phase);
  }
  return phases;
}

// A row's value in the column named `column` (findings read tables by name, never by position).
const json& at(const Table& t, const std::vector<json>& row, const std::string& column) {
  const auto it = std::find(t.columns.begin(), t.columns.end(), column);
  if (it == t.columns.end()) throw Error("internal: table " + t.id + " has no column " + column);
  return row[static_cast<std::size_t>(it - t.columns.begin())];
}

std::string cell_text(const Table& t, const std::vector<json>& row, const std::string& column) {
  const json& j = at(t, row, column);
  return j.is_string() ? j.get<std::string>() : j.dump();
}

// How many distinct values a table's column holds (names carry a column only when it varies).
std::size_t distinct(const Table& t, const std::string& column) {
  std::set<std::string> seen;
  for (const auto& row : t.rows) seen.insert(cell_text(t, row, column));
  return seen.size();
}

// ", <gpu>" when the table holds rows of several GPUs, so that a quantity's name says which one it is.
std::string gpu_of(const Table& t, const std::vector<json>& row) {
  const bool has = std::find(t.columns.begin(), t.columns.end(), "gpu") != t.columns.end();
  return has && distinct(t, "gpu") > 1 ? ", " + cell_text(t, row, "gpu") : "";
}

const Table* table(const Analysis& a, const std::string& id) {
  for (const auto& t : a.tables) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

IntervalColumns with_ci(const std::string& v) { return {v, v + "_ci_lo", v + "_ci_hi"}; }

void keep_draws(Analysis& a, const Table& t, const std::string& column, Draws draws) {
  if (!t.rows.empty()) a.draws[{t.id, t.rows.size() - 1, column}] = std::move(draws);
}

const Draws* draws_of(const Analysis& a, const std::string& id, std::size_t row, const std::string& column) {
  const auto it = a.draws.find({id, row, column});
  return it == a.draws.end() ? nullptr : &it->second;
}

namespace {
// A commit as git's short form, the first 7 hex digits with any suffix ("-dirty") kept: a full hash and its
// short form are one commit.
std::string short_commit(const std::string& v) {
  if (v.empty()) return "not recorded";
  const auto hex_end = std::min(v.find_first_not_of("0123456789abcdef"), v.size());
  return hex_end >= 7 ? v.substr(0, 7) + v.substr(hex_end) : v;
}
}  // namespace

std::string code_versions_caveat(const Analysis& a, const std::set<std::string>& gpus) {
  std::set<std::string> all;
  std::vector<std::string> named;
  for (const auto& gpu : gpus) {
    const auto it = a.code_versions.find(gpu);
    if (it == a.code_versions.end()) continue;
    std::set<std::string> mine;
    for (const auto& v : it->second) mine.insert(short_commit(v));
    all.insert(mine.begin(), mine.end());
    named.push_back(gpu + ": " + join(std::vector<std::string>(mine.begin(), mine.end()), ", "));
  }
  if (all.size() < 2) return "";
  return " These GPUs' runs come from different code versions (" + join(named, "; ") +
         "): a difference between them is hardware, code and host together, not the hardware's alone.";
}

}  // namespace sedenergy::analysis
