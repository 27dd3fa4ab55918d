#include "report/report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/cross_checks.hpp"
#include "analysis/study_analysis.hpp"
#include "common/absent.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "models/spec.hpp"
#include "report/page.hpp"

namespace fs = std::filesystem;

namespace sedenergy::report {

namespace {

// The columns of runs.csv: the header and every row are made from this list.
struct RunColumn {
  const char* name;
  std::string (*value)(const store::RunPhaseRow&);
};

const std::vector<RunColumn>& run_columns() {
  using R = const store::RunPhaseRow&;
  static const std::vector<RunColumn> columns = {
      {"run_id", [](R r) { return std::to_string(r.run_id); }},
      {"session_id", [](R r) { return std::to_string(r.run->session_id); }},
      {"config", [](R r) { return r.run->config; }},
      {"variant", [](R r) { return r.run->variant; }},
      {"repetition", [](R r) { return std::to_string(r.run->repetition); }},
      {"fraction", [](R r) { return num(r.run->fraction); }},
      {"epochs_per_unit", [](R r) { return std::to_string(r.run->epochs_per_unit); }},
      {"frames", [](R r) { return std::to_string(r.run->frames); }},
      {"family", [](R r) { return r.run->family; }},
      {"status", [](R r) { return r.run->status; }},
      {"error", [](R r) { return r.run->error; }},
      {"phase", [](R r) { return r.phase.phase; }},
      {"params", [](R r) { return std::to_string(r.run->params); }},
      {"flops_per_step", [](R r) { return num(r.work().flops_per_step, 12); }},
      {"flops_per_epoch", [](R r) { return num(r.work().flops_per_epoch, 12); }},
      {"batch", [](R r) { return std::to_string(r.run->batch); }},
      {"clips", [](R r) { return std::to_string(r.run->clips); }},
      {"epochs_in_window", [](R r) { return std::to_string(r.phase.epochs); }},
      {"window_s", [](R r) { return num(r.phase.window_s); }},
      {"duration_s", [](R r) { return num(r.phase.duration_s); }},
      {"energy_j", [](R r) { return num(r.phase.energy_j); }},
      {"gpu_energy_j", [](R r) { return num(r.phase.gpu_energy_j); }},
      {"cpu_energy_j", [](R r) { return num(r.phase.cpu_energy_j); }},
      {"ram_energy_j", [](R r) { return num(r.phase.ram_energy_j); }},
      {"net_gpu_energy_j", [](R r) { return num(r.phase.net_gpu_energy_j); }},
      {"uncertainty_j", [](R r) { return num(r.phase.uncertainty_j); }},
      {"gpu_method", [](R r) { return r.phase.gpu_method; }},
      {"cpu_method", [](R r) { return r.phase.cpu_method; }},
      {"ram_method", [](R r) { return r.phase.ram_method; }},
      {"estimated", [](R r) { return std::string(r.phase.estimated ? "1" : "0"); }},
      {"gpu_power_w", [](R r) { return num(r.phase.gpu_power_w); }},
      {"gpu_util_pct", [](R r) { return num(r.phase.gpu_util_pct); }},
      {"mem_util_pct", [](R r) { return num(r.phase.mem_util_pct); }},
      {"cpu_load", [](R r) { return num(r.phase.cpu_load); }},
      {"loss", [](R r) { return num(r.phase.loss); }},
      {"accuracy", [](R r) { return num(r.run->metrics.accuracy); }},
      {"f1_macro", [](R r) { return num(r.run->metrics.f1_macro); }},
      {"map", [](R r) { return num(r.run->metrics.map); }},
      {"map_chance", [](R r) { return num(r.run->metrics.map_chance); }},
      {"flags", [](R r) { return r.phase.flags; }},
      {"device", [](R r) { return r.site->device; }},
      {"gpu_name", [](R r) { return r.site->gpu_name; }},
      {"hostname", [](R r) { return r.site->hostname; }},
      {"impl", [](R r) { return r.run->impl; }},
      {"kernels_per_step", [](R r) { return present(r.work().kernels_per_step) ? std::to_string(r.work().kernels_per_step) : std::string(); }},
  };
  return columns;
}

std::string runs_csv(const std::vector<store::RunPhaseRow>& rows) {
  std::vector<std::string> head;
  for (const auto& c : run_columns()) head.push_back(c.name);
  std::string out = join(head, ",") + "\n";
  for (const auto& r : rows) {
    std::vector<std::string> v;
    for (const auto& c : run_columns()) v.push_back(csv_escape(c.value(r)));
    out += join(v, ",") + "\n";
  }
  return out;
}

using nlohmann::json;

json point_json(const analysis::Point& p) {
  return {{"config", p.variant},         {"family", p.family},     {"phase", p.phase},     {"gpu", p.gpu},
          {"repetitions", p.n},          {"energy_j", p.energy_j}, {"energy_lo", p.energy_lo},
          {"energy_hi", p.energy_hi},    {"energy_interval_coverage", p.energy_coverage},    {"duration_s", p.duration_s}, {"power_w", p.power_w},
          {"flops", or_null(p.flops)},       {"params", or_null(p.params)}, {"traffic_bytes", or_null(p.traffic_bytes)},
          {"gpu_util", or_null(p.gpu_util)}, {"mem_util", or_null(p.mem_util)}, {"sm_util", or_null(p.sm_util)},
          {"dram_bw", or_null(p.dram_bw)},   {"map", or_null(p.map)},      {"frames", p.frames},
          {"impl", p.impl},              {"kernels_per_step", or_null(p.kernels_per_step)},
          {"map_chance", or_null(p.map_chance)}, {"did_not_learn", p.did_not_learn}};
}

// The colour scale of the families (models owns the list and the colours).
json family_colours() {
  json domain = json::array(), range = json::array();
  for (const auto& f : models::families()) domain.push_back(f.name), range.push_back(f.colour);
  return {{"domain", domain}, {"range", range}};
}

struct Chart {
  std::string id, title, caption;
  json spec;
  int points = 0;
};

// A scatter of energy per epoch against one field; only points with a plottable value are given, so the
// number of marks drawn must equal `points` (what the browser test checks).
Chart scatter(const std::string& id, const std::string& title, const std::string& caption, const json& all,
              const std::string& field, const std::string& x_title, bool log_x, const std::string& y_title,
              const std::string& y_field = "energy_j", bool log_y = true, const std::string& colour = "family") {
  json values = json::array();
  for (const auto& p : all) {
    if (!p.contains(field) || p[field].is_null() || !p.contains(y_field) || p[y_field].is_null()) continue;
    if (log_x && p[field].get<double>() <= 0) continue;
    if (log_y && p[y_field].get<double>() <= 0) continue;
    values.push_back(p);
  }
  Chart c{id, title, caption, {}, static_cast<int>(values.size())};
  json tooltip = json::array({{{"field", "config"}, {"title", "configuration"}},
                              {{"field", "family"}},
                              {{"field", "phase"}},
                              {{"field", y_field}, {"title", y_title}, {"format", ".4~g"}},
                              {{"field", field}, {"title", x_title}, {"format", ".4~g"}},
                              {{"field", "repetitions"}},
                              {{"field", "power_w"}, {"title", "mean power (W)"}, {"format", ".4~g"}},
                              {{"field", "gpu"}}});
  c.spec = {{"$schema", "https://vega.github.io/schema/vega-lite/v5.json"},
            {"width", 420},
            {"height", 300},
            {"data", {{"values", values}}},
            {"mark", {{"type", "point"}, {"filled", true}, {"size", 70}, {"opacity", 0.85}}},
            {"encoding",
             {{"x", {{"field", field}, {"type", "quantitative"}, {"title", x_title},
                     {"scale", log_x ? json{{"type", "log"}} : json{{"zero", false}}},
                     {"axis", log_x ? json{{"format", "~s"}} : json::object()}}},
              {"y", {{"field", y_field}, {"type", "quantitative"}, {"title", y_title},
                     {"scale", log_y ? json{{"type", "log"}} : json{{"zero", false}}},
                     {"axis", log_y ? json{{"format", "~s"}} : json::object()}}},
              {"color", colour == "family" ? json{{"field", "family"}, {"type", "nominal"}, {"title", "family"},
                                                  {"scale", family_colours()}}
                                           : json{{"field", colour}, {"type", "nominal"}, {"title", colour}}},
              {"shape", {{"field", "phase"}, {"type", "nominal"}, {"title", "phase"}}},
              {"tooltip", tooltip}}}};
  return c;
}

// Everything the formats of the study report are made from.
struct ReportInput {
  const analysis::Analysis& a;
  json points;  // one per configuration and phase
  std::vector<Chart> charts;
  const std::vector<store::RunPhaseRow>& rows;
  const std::vector<store::SessionRecord>& sessions;
  const std::vector<std::string>& sources;
};

// The diagonal prediction = measurement under a predicted-against-measured chart's points (a line mark:
// the browser test counts the points alone).
void add_diagonal(Chart& c, const json& values) {
  double lo = INFINITY, hi = 0;
  for (const auto& q : values) {
    for (const char* k : {"measured_j", "predicted_j"}) {
      lo = std::min(lo, q[k].get<double>());
      hi = std::max(hi, q[k].get<double>());
    }
  }
  if (hi <= 0) return;
  json points_layer = {{"mark", c.spec["mark"]}, {"encoding", c.spec["encoding"]}};
  json diagonal = {{"data", {{"values", {{{"measured_j", lo}, {"predicted_j", lo}}, {{"measured_j", hi}, {"predicted_j", hi}}}}}},
                   {"mark", {{"type", "line"}, {"color", "#888"}, {"strokeDash", {4, 4}}}},
                   {"encoding", {{"x", {{"field", "measured_j"}, {"type", "quantitative"}}},
                                 {"y", {{"field", "predicted_j"}, {"type", "quantitative"}}}}}};
  c.spec.erase("mark");
  c.spec.erase("encoding");
  c.spec["layer"] = {diagonal, points_layer};
}

// A table's rows as objects keyed by column name.
json table_rows_json(const analysis::Table& t) {
  json rows = json::array();
  for (const auto& r : t.rows) {
    json o;
    for (std::size_t i = 0; i < t.columns.size() && i < r.size(); ++i) o[t.columns[i]] = r[i];
    rows.push_back(o);
  }
  return rows;
}

// Software choices: each implementation's energy against the reference implementation's, per configuration
// (the software_choices table's rows), coloured by implementation.
Chart software_chart(const analysis::Analysis& a) {
  json rows = json::array();
  for (const auto& t : a.tables) {
    if (t.id != "software_choices") continue;
    for (json o : table_rows_json(t)) {
      o["flops"] = o["flops_per_epoch"];
      if (o["impl"] != a.reference_impl) rows.push_back(o);
    }
  }
  return scatter("c-impl", "Software choices: energy against " + a.reference_impl,
                 "Each configuration under each implementation: its energy per epoch divided by " + a.reference_impl + "'s "
                 "(below 1: it saves energy). Intervals in the software_choices table.",
                 rows, "flops", "FLOPs per epoch", true, "energy / " + a.reference_impl + "'s", "ratio_to_reference", true,
                 "impl");
}

// The charts of the study report; those with nothing to plot are left out.
std::vector<Chart> study_charts(const analysis::Analysis& a, const json& points) {
  std::vector<Chart> charts;
  if (a.points.empty()) return charts;
  const std::string& ey = a.energy_axis;
  charts.push_back(scatter("c-flops", "Energy against FLOPs",
                           "One point per configuration and phase (mean over repetitions). Training FLOPs count forward, "
                           "backward and the Adam step.",
                           points, "flops", "FLOPs per epoch", true, ey));
  charts.push_back(scatter("c-params", "Energy against parameters", "", points, "params", "parameters", true, ey));
  charts.push_back(scatter("c-traffic", "Energy against memory traffic",
                           "DRAM traffic is the accounting's lower bound (ESTIMATED, not measured).", points,
                           "traffic_bytes", "DRAM bytes per epoch (estimated)", true, ey));
  charts.push_back(scatter("c-util", "Energy against GPU utilization", "NVML utilization, mean over the window.",
                           points, "gpu_util", "GPU utilization (%)", false, ey));
  charts.push_back(scatter("c-memutil", "Energy against GPU memory utilization", "", points, "mem_util",
                           "GPU memory utilization (%)", false, ey));
  charts.push_back(scatter("c-sm", "Energy against SM activity (GPM)", "Hopper GPM metric, mean over the window.",
                           points, "sm_util", "SM activity (%)", false, ey));
  charts.push_back(scatter("c-dram", "Energy against DRAM bandwidth use (GPM)",
                           "Hopper GPM metric: DRAM bandwidth used against its peak, mean over the window.", points,
                           "dram_bw", "DRAM bandwidth (% of peak)", false, ey));
  charts.push_back(scatter("c-power", "Average power by phase", "Mean power over each window; training and "
                           "testing of one configuration share its FLOPs on the x axis.", points, "flops",
                           "FLOPs per epoch", true, "mean power (W)", "power_w", false));
  json train_points = json::array();
  for (const auto& p : points) {
    if (p["phase"] == "train") train_points.push_back(p);
  }
  charts.push_back(scatter("c-quality", "Training energy against test mAP", "Configurations on the Pareto front are "
                           "listed in the table below.", train_points, "map", "test mAP", false, ey));
  for (const auto& [phase, pred] : a.predictions.items()) {
    json pv = json::array();
    for (const auto& q : pred["points"]) pv.push_back(q);
    auto c = scatter("c-pred-" + phase, "Predicted against measured (" + phase + ")",
                     "Each family predicted by a model fitted on the others, none needing a run of the model (" +
                         pred["predictor"].get<std::string>() + "); the line is prediction = measurement.",
                     pv, "measured_j", "measured energy (J)", true, "predicted energy (J)", "predicted_j", true);
    add_diagonal(c, pv);
    charts.push_back(c);
  }
  charts.push_back(software_chart(a));
  charts.erase(std::remove_if(charts.begin(), charts.end(), [](const Chart& c) { return c.points == 0; }), charts.end());
  return charts;
}

// analysis.json: everything, tables by id with their rows as objects.
std::string analysis_json(const ReportInput& in) {
  const auto& a = in.a;
  json all = {{"energy", a.energy_label}, {"estimated", a.estimated}, {"runs", a.runs}, {"runs_ok", a.runs_ok},
              {"runs_failed", a.runs_failed}, {"findings", a.findings}, {"not_computed", a.cannot},
              {"points", in.points}, {"predictions", a.predictions}, {"sources", in.sources}};
  for (const auto& t : a.tables) all["tables"][t.id] = {{"title", t.title}, {"note", t.note}, {"rows", table_rows_json(t)}};
  return json_text(all, 1) + "\n";
}

std::string summary_markdown(const ReportInput& in) {
  const auto& a = in.a;
  std::ostringstream m;
  m << "# sedenergy report\n\n" << a.runs << " runs (" << a.runs_ok << " ok, " << a.runs_failed << " failed) from "
    << join(in.sources, ", ") << ". Energy: " << a.energy_label << ".\n\n## Findings\n\n";
  if (a.findings.empty()) m << "- No finding could be computed from these runs.\n";
  for (const auto& f : a.findings) m << "- " << f << "\n";
  if (!a.cannot.empty()) {
    m << "\n## Not computed\n\n";
    for (const auto& c : a.cannot) m << "- " << c << "\n";
  }
  m << "\n## Tables\n";
  for (const auto& t : a.tables) m << table_markdown(t);
  return m.str();
}

// The sessions the runs come from: host, GPU, versions, options.
std::string context_html(const std::vector<store::SessionRecord>& sessions) {
  std::ostringstream h;
  h << "<h2>Context</h2><div class=\"scroll\"><table><tr><th>started</th><th>host</th><th>CPU</th><th>GPU</th>"
       "<th>driver</th><th>LibTorch</th><th>sedenergy</th><th>device</th><th>grid</th><th>dataset</th>"
       "<th>features</th><th>command</th></tr>";
  for (const auto& s : sessions) {
    h << "<tr><td class=l>" << html_escape(s.started_at) << "</td><td class=l>" << html_escape(s.hostname)
      << "</td><td class=l>" << html_escape(s.cpu_model) << " (" << s.cpu_count << " CPUs)</td><td class=l>"
      << html_escape(s.gpu_name.empty() ? "none" : s.gpu_name) << "</td><td class=l>" << html_escape(s.gpu_driver)
      << "</td><td class=l>" << html_escape(s.libtorch_version) << "</td><td class=l>"
      << html_escape(s.sedenergy_version + " " + s.git_revision) << "</td><td class=l>" << html_escape(s.device)
      << "</td><td class=l>" << html_escape(s.grid) << "</td><td class=l>" << html_escape(s.dataset)
      << "</td><td class=l>" << html_escape(s.features) << "</td><td class=l>" << html_escape(s.command)
      << "</td></tr>";
  }
  h << "</table></div>";
  return h.str();
}

std::string failed_runs_html(const std::vector<store::RunPhaseRow>& rows) {
  std::ostringstream h;
  h << "<h2>Failed runs</h2><ul>";
  std::set<std::int64_t> seen;
  int failed = 0;
  for (const auto& r : rows) {
    if (r.run->status == "ok" || !seen.insert(r.run_id).second) continue;
    h << "<li>" << html_escape(r.run->variant + " (repetition " + std::to_string(r.run->repetition) + "): " + r.run->status + ": " + r.run->error)
      << "</li>";
    ++failed;
  }
  if (!failed) h << "<li>none</li>";
  h << "</ul>";
  return h.str();
}

std::string findings_html(const analysis::Analysis& a) {
  std::ostringstream h;
  h << "<h2>Findings</h2><ul>";
  if (a.findings.empty()) h << "<li>No finding could be computed from these runs.</li>";
  for (const auto& f : a.findings) h << "<li>" << html_escape(f) << "</li>";
  h << "</ul>";
  if (!a.cannot.empty()) {
    h << "<h3>Not computed</h3><ul>";
    for (const auto& c : a.cannot) h << "<li>" << html_escape(c) << "</li>";
    h << "</ul>";
  }
  return h.str();
}

std::string report_html(const ReportInput& in) {
  const auto& a = in.a;
  std::ostringstream h;
  h << page_head("sedenergy report");
  h << "<h1>sedenergy report</h1><p class=\"note\">Generated " << utc_now_iso() << " from "
    << html_escape(join(in.sources, ", ")) << ": " << a.runs << " runs (" << a.runs_ok << " ok, " << a.runs_failed
    << " failed). Energy: " << html_escape(a.energy_label) << ". Also: <a href=\"summary.md\">summary.md</a>, "
    << "<a href=\"analysis.json\">analysis.json</a>, <a href=\"runs.csv\">runs.csv</a>.</p><pre id=\"render-errors\"></pre>";
  if (a.estimated) {
    h << "<p class=\"est\">No GPU energy sensor for some runs: energies are ESTIMATED from CPU load and RAM size "
         "(CodeCarbon's model), not measured.</p>";
  }
  h << findings_html(a);
  h << "<h2>Charts</h2><p class=\"note\">Hover a point for its configuration and numbers.</p><div class=\"charts\">";
  json specs = json::array();
  for (const auto& c : in.charts) {
    h << "<div class=\"chart\"><h3>" << html_escape(c.title) << "</h3><div id=\"" << c.id
      << "\" data-expected-points=\"" << c.points << "\"></div><p class=\"note\">" << html_escape(c.caption)
      << "</p></div>";
    specs.push_back({{"id", c.id}, {"spec", c.spec}});
  }
  if (in.charts.empty()) h << "<p class=\"note\">Nothing to plot: no finished run with a measured phase.</p>";
  h << "</div><h2>Tables</h2>";
  for (const auto& t : a.tables) h << table_html(t);
  h << context_html(in.sessions) << failed_runs_html(in.rows);
  h << "<script type=\"application/json\" id=\"chart-specs\">" << script_json(specs) << "</script>" << kRenderScript
    << "</body></html>\n";
  return h.str();
}

// The formats of the study report: one file each, rendered from the same input. A new format is a line here.
struct Format {
  const char* file;
  std::string ReportFiles::*path;  // where write_report says it wrote the file
  std::string (*render)(const ReportInput&);
};

const std::vector<Format>& formats() {
  static const std::vector<Format> f = {
      {"runs.csv", &ReportFiles::csv, [](const ReportInput& in) { return runs_csv(in.rows); }},
      {"analysis.json", &ReportFiles::json, analysis_json},
      {"summary.md", &ReportFiles::markdown, summary_markdown},
      {"report.html", &ReportFiles::html, report_html},
  };
  return f;
}

ReportFiles write_from_rows(const std::vector<store::RunPhaseRow>& rows, const std::vector<store::SessionRecord>& sessions,
                            const std::vector<std::string>& sources, const std::string& out_dir,
                            const analysis::AnalysisOptions& options) {
  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "tables", ec);
  if (ec) throw InputError("report: cannot create '" + out_dir + "': " + ec.message());
  auto a = analysis::analyze(rows, options);
  analysis::add_cross_checks(a, rows, options);
  ReportInput in{a, json::array(), {}, rows, sessions, sources};
  for (const auto& p : a.points) in.points.push_back(point_json(p));
  in.charts = study_charts(a, in.points);
  for (const auto& t : a.tables) write_table_csv(t, (fs::path(out_dir) / "tables" / (t.id + ".csv")).string());
  ReportFiles files;
  for (const auto& f : formats()) {
    files.*f.path = (fs::path(out_dir) / f.file).string();
    write_file(files.*f.path, f.render(in));
  }
  files.rows = static_cast<int>(rows.size());
  files.charts = static_cast<int>(in.charts.size());
  return files;
}

}  // namespace

ReportFiles write_report(const store::Store& db, const std::string& out_dir) {
  return write_from_rows(db.rows(), db.sessions(), {db.path()}, out_dir, {});
}

ReportFiles write_report(const std::vector<std::string>& db_paths, const std::string& out_dir,
                         const analysis::AnalysisOptions& options) {
  std::vector<store::RunPhaseRow> rows;
  std::vector<store::SessionRecord> sessions;
  std::vector<std::string> notes;
  std::set<std::string> runs_read;  // store::run_identity of every run read so far, from earlier inputs
  std::int64_t offset = 0;
  for (const auto& path : db_paths) {
    store::Store db(path, store::Store::Access::kRead);  // a report never writes to what it reads
    const auto identities = db.session_identities();
    std::set<std::string> runs_here;
    std::set<std::int64_t> sessions_used;
    std::set<std::string> repeated;
    std::int64_t top = 0;
    for (auto r : db.rows()) {
      top = std::max(top, r.run_id);
      const std::string id = store::run_identity(identities.at(r.run->session_id), r.run->variant, r.run->repetition);
      if (runs_read.count(id)) {
        repeated.insert(id);
        continue;
      }
      runs_here.insert(id);
      sessions_used.insert(r.run->session_id);
      r.run_id += offset;  // run ids of different files must not collide
      rows.push_back(std::move(r));
    }
    auto all_sessions = db.sessions();
    std::size_t i = 0;
    for (const auto& [id, identity] : identities) {  // both in id order
      if (repeated.empty() || sessions_used.count(id)) sessions.push_back(std::move(all_sessions[i]));
      ++i;
    }
    if (!repeated.empty()) {
      notes.push_back(path + ": " + std::to_string(repeated.size()) + " runs already read from an earlier input " +
                      "(same session, variant and repetition, as merge judges them): counted once");
    }
    runs_read.insert(runs_here.begin(), runs_here.end());
    offset += top;
  }
  ReportFiles files = write_from_rows(rows, sessions, db_paths, out_dir, options);
  files.notes = std::move(notes);
  return files;
}

}  // namespace sedenergy::report
