#include "report/user_report.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/absent.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "energy/emissions.hpp"
#include "store/json_columns.hpp"
#include "report/page.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace sedenergy::report {
namespace {

using energy::kJoulesPerKwh;
constexpr double kMostKwhPerRow = 1e6;  // a gigawatt-hour: no single run comes near; a larger value is damage

// "emissions_baseline_training.csv" -> "baseline_training"; "emissions.csv" -> "" (the row's experiment names it).
std::string window_name_of_file(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  if (starts_with(stem, "emissions_")) return stem.substr(10);
  return stem == "emissions" ? "" : stem;
}

double csv_number(const std::vector<std::string>& row, std::size_t col, const std::string& name,
                  const std::string& path, std::size_t line) {
  double v = 0;
  if (!parse_double(trim(row[col]), v) || !std::isfinite(v)) {
    throw file_error(path, line, "column '" + name + "' is not a number: '" + row[col] + "'");
  }
  if (v < 0) throw file_error(path, line, "column '" + name + "' is negative: " + row[col]);
  return v;
}

store::UserWindowRecord window_of_row(const std::vector<std::string>& row, const std::map<std::string, std::size_t>& col,
                                      const std::string& path, std::size_t line, std::vector<std::string>* warnings) {
  auto text = [&](const char* name) { return col.count(name) ? row[col.at(name)] : std::string(); };
  auto number = [&](const char* name) { return csv_number(row, col.at(name), name, path, line); };
  auto energy_j = [&](const char* name) {
    const double kwh = number(name);
    if (kwh > kMostKwhPerRow) {
      throw file_error(path, line, "column '" + std::string(name) + "' is " + row[col.at(name)] +
                                       " kWh: not a plausible energy for one run (at most " + format_number(kMostKwhPerRow) + ")");
    }
    return kwh * kJoulesPerKwh;
  };
  store::UserWindowRecord w;
  const std::string tool = text("codecarbon_version");
  w.source = "emissions.csv (" + (tool == "sedenergy" ? tool : "CodeCarbon " + tool) + ")";
  w.run_uuid = text("run_id");
  w.project_name = text("project_name");
  w.experiment_id = text("experiment_id");
  const std::string from_file = window_name_of_file(path);
  w.name = !from_file.empty() ? from_file : !w.experiment_id.empty() ? w.experiment_id : "window";
  w.started_at = text("timestamp");
  w.duration_s = number("duration");
  w.gpu_energy_j = energy_j("gpu_energy");
  w.cpu_energy_j = energy_j("cpu_energy");
  w.ram_energy_j = energy_j("ram_energy");
  w.energy_j = w.gpu_energy_j + w.cpu_energy_j + w.ram_energy_j;
  const std::string method = "as written to " + fs::path(path).filename().string() + " (the method is not in the file)";
  w.gpu_method = w.cpu_method = w.ram_method = method;
  double util = -1;
  if (col.count("gpu_utilization_percent") && parse_double(trim(text("gpu_utilization_percent")), util)) {
    w.gpu_util_pct = util;
  }
  w.gpu_name = text("gpu_model");
  w.flags = "CSV row: methods and validity flags not recorded";
  if (col.count("energy_consumed")) {
    // CodeCarbon's energy_consumed is cpu + gpu + ram, times the PUE where it is written (CodeCarbon 2.x and
    // sedenergy): a row that says otherwise was edited or damaged. The components are what is read.
    const double consumed = energy_j("energy_consumed");
    double pue = 1;
    if (col.count("pue") && !(parse_double(trim(text("pue")), pue) && std::isfinite(pue) && pue >= 1)) pue = 1;
    auto near = [&](double v) { return std::abs(consumed - v) <= 1e-3 * std::max(consumed, v) + 1e-6; };
    if (!near(w.energy_j) && !near(w.energy_j * pue)) {
      const std::string why = path + ":" + std::to_string(line) + ": energy_consumed " + text("energy_consumed") +
                              " kWh is not cpu_energy + gpu_energy + ram_energy (" + format_number(w.energy_j / kJoulesPerKwh) +
                              " kWh" + (pue != 1 ? ", x pue " + format_number(pue) : "") + "): the three columns are read";
      w.flags += "; " + why;
      if (warnings) warnings->push_back(why);
    }
  }
  return w;
}

}  // namespace

std::vector<store::UserWindowRecord> read_emissions_csv(const std::string& path, std::vector<std::string>* warnings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, 0, "cannot read");
  std::string line;
  std::vector<std::string> fields;
  if (!std::getline(in, line)) throw file_error(path, 1, "empty file: no CodeCarbon header");
  if (starts_with(line, "\xEF\xBB\xBF")) line = line.substr(3);  // a byte-order mark
  if (!csv_fields(line, fields)) throw file_error(path, 1, "unterminated quote in the header");
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < fields.size(); ++i) col[trim(fields[i])] = i;
  std::vector<std::string> missing;
  for (const char* need : {"timestamp", "run_id", "duration", "cpu_energy", "gpu_energy", "ram_energy"}) {
    if (!col.count(need)) missing.push_back(need);
  }
  if (!missing.empty()) {
    throw file_error(path, 1, "not a CodeCarbon emissions file: no column " + join(missing, ", "));
  }
  std::vector<store::UserWindowRecord> out;
  for (std::size_t n = 2; std::getline(in, line); ++n) {
    if (trim(line).empty()) continue;
    if (!csv_fields(line, fields)) throw file_error(path, n, "unterminated quote");
    if (fields.size() != col.size()) {
      throw file_error(path, n, std::to_string(fields.size()) + " fields, the header has " + std::to_string(col.size()));
    }
    out.push_back(window_of_row(fields, col, path, n, warnings));
  }
  return out;
}

std::vector<store::UserWindowRecord> read_user_windows(const std::vector<std::string>& inputs,
                                                       std::vector<std::string>* notes) {
  std::vector<store::UserWindowRecord> all;
  std::set<std::string> read_before;  // identities of the windows of earlier inputs
  for (const auto& input : inputs) {
    std::vector<store::UserWindowRecord> here;
    auto add = [&](std::vector<store::UserWindowRecord> more) {
      for (auto& w : more) here.push_back(std::move(w));
    };
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(input, ec)) {
        if (e.path().extension() == ".csv") files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) throw InputError("report: folder '" + input + "' holds no .csv file");
      for (const auto& f : files) add(read_emissions_csv(f, notes));
    } else if (fs::path(input).extension() == ".csv") {
      add(read_emissions_csv(input, notes));
    } else {
      add(store::Store(input, store::Store::Access::kRead).user_windows());
    }
    std::set<std::string> ids_here;
    std::size_t repeated = 0;
    for (auto& w : here) {
      const std::string id = store::user_window_identity(w);
      if (read_before.count(id)) {
        ++repeated;
        continue;
      }
      ids_here.insert(id);
      all.push_back(std::move(w));
    }
    if (repeated > 0 && notes) {
      notes->push_back(input + ": " + std::to_string(repeated) + " windows already read from an earlier input (same " +
                       "run, name and start, as merge judges them): counted once");
    }
    read_before.insert(ids_here.begin(), ids_here.end());
  }
  return all;
}

namespace {

std::string run_label(const store::UserWindowRecord& w) {
  std::string label = w.project_name;
  if (!w.experiment_id.empty()) label += (label.empty() ? "" : " / ") + w.experiment_id;
  return label + (label.empty() ? "" : " ") + "(" + w.run_uuid.substr(0, 8) + ")";
}


analysis::Table windows_table(const std::vector<store::UserWindowRecord>& ws) {
  analysis::Table t{"user-windows", "Energy per window and domain",
                    "One row per measured window. Energies in joules over the whole window; net GPU energy is above "
                    "the idle baseline when one was measured. Methods say how each domain was obtained; "
                    "'estimated' marks CodeCarbon-style models instead of counters.",
                    {"run", "source", "window", "started", "duration_s", "energy_j", "gpu_energy_j", "cpu_energy_j",
                     "ram_energy_j", "net_gpu_energy_j", "kwh", "gpu_util_pct", "estimated", "gpu_method",
                     "cpu_method", "ram_method", "flags"},
                    {}};
  for (const auto& w : ws) {
    t.rows.push_back({run_label(w), w.source, w.name, w.started_at, w.duration_s, w.energy_j, w.gpu_energy_j,
                      w.cpu_energy_j, w.ram_energy_j, or_null(w.net_gpu_energy_j), w.energy_j / kJoulesPerKwh,
                      or_null(w.gpu_util_pct), w.estimated, w.gpu_method, w.cpu_method, w.ram_method, w.flags});
  }
  return t;
}

// Runs side by side: one row per window name, one energy column per run, and each run against the first.
analysis::Table comparison_table(const std::vector<store::UserWindowRecord>& ws) {
  std::vector<std::string> runs, names;
  std::map<std::pair<std::string, std::string>, double> energy;
  for (const auto& w : ws) {
    const std::string run = run_label(w);
    if (std::find(runs.begin(), runs.end(), run) == runs.end()) runs.push_back(run);
    if (std::find(names.begin(), names.end(), w.name) == names.end()) names.push_back(w.name);
    energy[{run, w.name}] += w.energy_j;
  }
  analysis::Table t{"user-comparison", "Runs side by side",
                    "Energy (J) of each window name in each run (windows of one name in one run added up); the "
                    "ratio columns divide by the first run.",
                    {"window"},
                    {}};
  for (const auto& r : runs) t.columns.push_back(r + " J");
  for (std::size_t i = 1; i < runs.size(); ++i) t.columns.push_back(runs[i] + " / " + runs[0]);
  for (const auto& n : names) {
    std::vector<json> row = {n};
    for (const auto& r : runs) row.push_back(energy.count({r, n}) ? json(energy[{r, n}]) : json(nullptr));
    const auto first = energy.find({runs[0], n});
    for (std::size_t i = 1; i < runs.size(); ++i) {
      const auto it = energy.find({runs[i], n});
      const bool ok = it != energy.end() && first != energy.end() && first->second > 0;
      row.push_back(ok ? json(it->second / first->second) : json(nullptr));
    }
    t.rows.push_back(row);
  }
  return t;
}

// Windows of a distributed job (a record with a "rank" of world size > 1, python/sedenergy/distributed.py): the
// n-th window of a name on every rank of one job is one job window, its energy the ranks' sum, its duration the
// A window's record read once: as it is (for report.json) and as the jobs and charts read it.
struct Parsed {
  json record;
  std::optional<store::StoredWindow> window;
};

// slowest rank's, the ranks that recorded nothing named.
analysis::Table jobs_table(const std::vector<store::UserWindowRecord>& ws, const std::vector<Parsed>& parsed) {
  struct Job {
    std::string job_id, name;
    int occurrence = 0, world_size = 0;
    std::set<int> ranks;
    std::set<std::string> nodes;
    double other_energy_j = 0, duration_s = 0;
    // A GPU several ranks of one node measured (they share it) counts once: the longest window's reading.
    std::map<std::pair<std::string, std::string>, std::pair<double, double>> gpus;  // (node, device) -> (s, J)
    double gpu_energy_j() const {
      double sum = 0;
      for (const auto& [device, reading] : gpus) sum += reading.second;
      return sum;
    }
  };
  std::map<std::tuple<std::string, std::string, int>, Job> jobs;  // (job, window name, occurrence)
  std::map<std::tuple<std::string, std::string, int>, int> seen;    // (job, window name, rank) -> windows so far
  for (std::size_t i = 0; i < ws.size(); ++i) {
    const auto& w = ws[i];
    const auto& record = parsed[i].window;
    if (!record || !record->rank || record->rank->world_size < 2) continue;
    const store::StoredRank& r = *record->rank;
    const int occurrence = seen[{r.job_id, w.name, r.rank}]++;
    Job& j = jobs[{r.job_id, w.name, occurrence}];
    j.job_id = r.job_id, j.name = w.name, j.occurrence = occurrence, j.world_size = r.world_size;
    j.ranks.insert(r.rank);
    j.nodes.insert(r.node);
    j.other_energy_j += w.energy_j - w.gpu_energy_j, j.duration_s = std::max(j.duration_s, w.duration_s);
    bool gpu_named = false;
    for (const auto& d : record->domains) {
      if (d.domain != energy::domain_name(energy::Domain::gpu)) continue;
      auto& reading = j.gpus[{r.node, d.device}];
      if (w.duration_s > reading.first) reading = {w.duration_s, d.energy_j};
      gpu_named = true;
    }
    if (!gpu_named) j.gpus[{r.node, "rank " + std::to_string(r.rank)}] = {w.duration_s, w.gpu_energy_j};
  }
  analysis::Table t{"user-jobs", "Distributed jobs: the ranks' windows added up",
                    "One row per window of a job of several ranks (torchrun, Slurm): energy summed over the ranks "
                    "that recorded it (each counted its GPU and its share of its node's CPU and RAM; a GPU that "
                    "ranks share counted once), duration of the slowest; ranks that recorded nothing are named.",
                    {"job", "window", "ranks", "world_size", "missing_ranks", "nodes", "duration_s", "energy_j",
                     "gpu_energy_j", "kwh"},
                    {}};
  for (const auto& [key, j] : jobs) {
    std::vector<std::string> missing;
    for (int r = 0; r < j.world_size; ++r) {
      if (!j.ranks.count(r)) missing.push_back(std::to_string(r));
    }
    t.rows.push_back({j.job_id, j.name + (j.occurrence ? " #" + std::to_string(j.occurrence + 1) : ""),
                      static_cast<int>(j.ranks.size()), j.world_size, join(missing, " "),
                      join(std::vector<std::string>(j.nodes.begin(), j.nodes.end()), " "), j.duration_s,
                      j.other_energy_j + j.gpu_energy_j(), j.gpu_energy_j(),
                      (j.other_energy_j + j.gpu_energy_j()) / kJoulesPerKwh});
  }
  return t;
}

// A chart of points, one mark per value (what the browser test counts).
json point_chart(const json& values, const json& x, const json& y, const json& color, const json& tooltip) {
  return {{"$schema", "https://vega.github.io/schema/vega-lite/v5.json"},
          {"width", 420},
          {"height", 260},
          {"data", {{"values", values}}},
          {"mark", {{"type", "line"}, {"point", true}}},
          {"encoding", {{"x", x}, {"y", y}, {"color", color}, {"tooltip", tooltip}}}};
}

// The sampler's timeline of one window: GPU power (all measured GPUs added) and utilization, or the CPU
// load where no GPU was measured.
json timeline_values(const Parsed& window) {
  json values = json::array();
  const auto& record = window.window;
  if (!record) return values;
  for (const auto& s : record->timeline) {
    if (!s.gpus.empty()) {
      double power = 0, util = 0;
      for (const auto& [watts, percent] : s.gpus) {
        if (std::isfinite(watts)) power += watts;
        if (std::isfinite(percent)) util += percent / static_cast<double>(s.gpus.size());
      }
      values.push_back({{"t_s", s.t_s}, {"value", power}, {"series", "GPU power (W)"}});
      values.push_back({{"t_s", s.t_s}, {"value", util}, {"series", "GPU utilization (%)"}});
    } else {
      values.push_back({{"t_s", s.t_s}, {"value", 100.0 * s.cpu_load}, {"series", "CPU load (%)"}});
    }
  }
  return values;
}

struct UserChart {
  std::string id, title;
  json spec;
  int points = 0;
};

std::vector<UserChart> user_charts(const std::vector<store::UserWindowRecord>& ws, const std::vector<Parsed>& parsed) {
  std::vector<UserChart> charts;
  json energy = json::array();
  for (const auto& w : ws) energy.push_back({{"window", w.name}, {"energy_j", w.energy_j}, {"run", run_label(w)}});
  if (!energy.empty()) {
    json spec = point_chart(energy, {{"field", "window"}, {"type", "nominal"}, {"sort", nullptr}},
                            {{"field", "energy_j"}, {"type", "quantitative"}, {"title", "energy (J)"}},
                            {{"field", "run"}, {"type", "nominal"}},
                            json::array({{{"field", "run"}}, {{"field", "window"}}, {{"field", "energy_j"}, {"format", ".4~g"}}}));
    spec["mark"] = {{"type", "point"}, {"filled", true}, {"size", 80}};
    charts.push_back({"u-energy", "Energy per window", spec, static_cast<int>(energy.size())});
  }
  for (std::size_t i = 0; i < ws.size(); ++i) {
    json values = timeline_values(parsed[i]);
    if (values.empty()) continue;
    const bool gpu = values[0]["series"] != "CPU load (%)";
    json spec = point_chart(values, {{"field", "t_s"}, {"type", "quantitative"}, {"title", "time in window (s)"}},
                            {{"field", "value"}, {"type", "quantitative"},
                             {"title", gpu ? "GPU power (W), utilization (%)" : "CPU load (%)"}},
                            {{"field", "series"}, {"type", "nominal"}, {"title", ""}},
                            json::array({{{"field", "series"}}, {{"field", "t_s"}}, {{"field", "value"}, {"format", ".4~g"}}}));
    charts.push_back({"u-timeline-" + std::to_string(i), "Timeline: " + ws[i].name + " (" + run_label(ws[i]) + ")",
                      spec, static_cast<int>(values.size())});
  }
  return charts;
}

}  // namespace

UserReportFiles write_user_report(const std::vector<store::UserWindowRecord>& ws, const std::vector<std::string>& sources,
                                  const std::string& out_dir, const std::string& prefix) {
  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "tables", ec);
  if (ec) throw InputError("report: cannot create '" + out_dir + "': " + ec.message());
  UserReportFiles files;
  files.html = (fs::path(out_dir) / (prefix + "report.html")).string();
  files.markdown = (fs::path(out_dir) / (prefix + "summary.md")).string();
  files.csv = (fs::path(out_dir) / (prefix + "windows.csv")).string();
  files.json = (fs::path(out_dir) / (prefix + "report.json")).string();
  files.windows = static_cast<int>(ws.size());
  std::vector<analysis::Table> tables = {windows_table(ws)};
  if (!ws.empty()) tables.push_back(comparison_table(ws));
  std::vector<Parsed> parsed;  // each window's record parsed once, for the jobs, the charts and report.json
  for (const auto& w : ws) {
    json record = store::read_window_record(w.window_json);
    auto window = store::read_window_from(record);
    parsed.push_back({std::move(record), std::move(window)});
  }
  if (auto jobs = jobs_table(ws, parsed); !jobs.rows.empty()) tables.push_back(std::move(jobs));
  const auto charts = user_charts(ws, parsed);
  files.charts = static_cast<int>(charts.size());
  const bool estimated = std::any_of(ws.begin(), ws.end(), [](const auto& w) { return w.estimated; });
  const std::string intro = std::to_string(ws.size()) + " windows from " + join(sources, ", ") + ".";
  const std::string estimate_note =
      "Some domains are ESTIMATED (CPU from load and TDP, RAM from its size, as CodeCarbon does), not measured: "
      "see each window's methods.";

  write_table_csv(tables[0], files.csv);
  for (const auto& t : tables) write_table_csv(t, (fs::path(out_dir) / "tables" / (t.id + ".csv")).string());
  json all = {{"sources", sources}, {"estimated", estimated}, {"windows", json::array()}};
  for (std::size_t i = 0; i < ws.size(); ++i) {
    const auto& w = ws[i];
    all["windows"].push_back({{"run", w.run_uuid}, {"source", w.source}, {"project_name", w.project_name},
                              {"experiment_id", w.experiment_id}, {"name", w.name}, {"energy_j", w.energy_j},
                              {"record", parsed[i].record}});
  }
  write_file(files.json, json_text(all, 1) + "\n");
  {
    std::ostringstream m;
    m << "# sedenergy report of your runs\n\n" << intro << "\n";
    if (estimated) m << "\n" << estimate_note << "\n";
    for (const auto& t : tables) m << table_markdown(t);
    write_file(files.markdown, m.str());
  }
  std::ostringstream h;
  h << page_head("sedenergy report of your runs") << "<h1>Energy of your runs</h1><p class=\"note\">Generated "
    << utc_now_iso() << ". " << html_escape(intro) << " Also: <a href=\"" << prefix << "summary.md\">summary.md</a>, <a href=\""
    << prefix << "windows.csv\">windows.csv</a>, <a href=\"" << prefix
    << "report.json\">report.json</a>.</p><pre id=\"render-errors\"></pre>";
  if (estimated) h << "<p class=\"est\">" << html_escape(estimate_note) << "</p>";
  h << "<h2>Charts</h2><div class=\"charts\">";
  json specs = json::array();
  for (const auto& c : charts) {
    h << "<div class=\"chart\"><h3>" << html_escape(c.title) << "</h3><div id=\"" << c.id << "\" data-expected-points=\""
      << c.points << "\"></div></div>";
    specs.push_back({{"id", c.id}, {"spec", c.spec}});
  }
  if (charts.empty()) h << "<p class=\"note\">Nothing to plot: no window.</p>";
  h << "</div><h2>Tables</h2>";
  for (const auto& t : tables) h << table_html(t);
  h << "<script type=\"application/json\" id=\"chart-specs\">" << script_json(specs) << "</script>" << kRenderScript
    << "</body></html>\n";
  write_file(files.html, h.str());
  return files;
}

}  // namespace sedenergy::report
