#include "report/report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/study_analysis.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "report/page.hpp"

namespace fs = std::filesystem;

namespace sedenergy::report {

void write_csv(const std::vector<store::RunPhaseRow>& rows, const std::string& path) {
  std::ostringstream out;
  out << "run_id,session_id,config,variant,repetition,fraction,epochs_per_unit,frames,family,status,error,phase,params,flops_per_step,flops_per_epoch,batch,clips,"
         "epochs_in_window,window_s,duration_s,energy_j,gpu_energy_j,cpu_energy_j,ram_energy_j,net_gpu_energy_j,"
         "uncertainty_j,gpu_method,cpu_method,ram_method,estimated,gpu_power_w,gpu_util_pct,mem_util_pct,cpu_load,"
         "loss,accuracy,f1_macro,map,flags,device,gpu_name,hostname\n";
  for (const auto& r : rows) {
    const auto& p = r.phase;
    std::vector<std::string> v = {std::to_string(r.run_id), std::to_string(r.session_id), r.config, r.variant,
                                  std::to_string(r.repetition), num(r.fraction), std::to_string(r.epochs_per_unit),
                                  std::to_string(r.frames), r.family,
                                  r.status, r.error, p.phase, std::to_string(r.params), num(r.flops_per_step, 12),
                                  num(r.flops_per_epoch, 12), std::to_string(r.batch), std::to_string(r.clips),
                                  std::to_string(p.epochs), num(p.window_s), num(p.duration_s), num(p.energy_j),
                                  num(p.gpu_energy_j), num(p.cpu_energy_j), num(p.ram_energy_j),
                                  num(p.net_gpu_energy_j), num(p.uncertainty_j), p.gpu_method, p.cpu_method,
                                  p.ram_method, p.estimated ? "1" : "0", num(p.gpu_power_w), num(p.gpu_util_pct),
                                  num(p.mem_util_pct), num(p.cpu_load), num(p.loss), num(r.metrics.accuracy),
                                  num(r.metrics.f1_macro), num(r.metrics.map), p.flags, r.device, r.gpu_name,
                                  r.hostname};
    for (auto& s : v) s = csv_escape(s);
    out << join(v, ",") << '\n';
  }
  write_file(path, out.str());
}

namespace {

using nlohmann::json;

json point_json(const analysis::Point& p) {
  auto opt = [](double v) { return v >= 0 && std::isfinite(v) ? json(v) : json(nullptr); };
  return {{"config", p.variant},         {"family", p.family},     {"phase", p.phase},     {"gpu", p.gpu},
          {"repetitions", p.n},          {"energy_j", p.energy_j}, {"energy_lo", p.energy_lo},
          {"energy_hi", p.energy_hi},    {"duration_s", p.duration_s}, {"power_w", p.power_w},
          {"flops", opt(p.flops)},       {"params", opt(p.params)}, {"traffic_bytes", opt(p.traffic_bytes)},
          {"gpu_util", opt(p.gpu_util)}, {"mem_util", opt(p.mem_util)}, {"sm_util", opt(p.sm_util)},
          {"dram_bw", opt(p.dram_bw)},   {"map", opt(p.map)},      {"frames", p.frames}};
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
              const std::string& y_field = "energy_j", bool log_y = true) {
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
              {"color", {{"field", "family"}, {"type", "nominal"}, {"title", "family"},
                         {"scale", {{"domain", {"MLP", "CNN", "RNN", "CRNN", "DCASE"}},
                                    {"range", {"#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"}}}}}},
              {"shape", {{"field", "phase"}, {"type", "nominal"}, {"title", "phase"}}},
              {"tooltip", tooltip}}}};
  return c;
}

ReportFiles write_from_rows(const std::vector<store::RunPhaseRow>& rows, const std::vector<store::SessionRecord>& sessions,
                            const std::vector<std::string>& sources, const std::string& out_dir,
                            const analysis::AnalysisOptions& options) {
  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "tables", ec);
  if (ec) throw InputError("report: cannot create '" + out_dir + "': " + ec.message());
  ReportFiles files;
  files.csv = (fs::path(out_dir) / "runs.csv").string();
  files.html = (fs::path(out_dir) / "report.html").string();
  files.markdown = (fs::path(out_dir) / "summary.md").string();
  files.json = (fs::path(out_dir) / "analysis.json").string();
  files.rows = static_cast<int>(rows.size());
  write_csv(rows, files.csv);
  const auto a = analysis::analyze(rows, options);

  json points = json::array();
  for (const auto& p : a.points) points.push_back(point_json(p));
  const std::string& ey = a.energy_axis;
  std::vector<Chart> charts;
  if (!a.points.empty()) {
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
                       "Best hardware-independent predictor (" + pred["predictor"].get<std::string>() +
                           "), each family predicted by a model fitted on the others; the line is prediction = "
                           "measurement.",
                       pv, "measured_j", "measured energy (J)", true, "predicted energy (J)", "predicted_j", true);
      // The diagonal, under the points (a line mark: the browser test counts the points alone).
      double lo = INFINITY, hi = 0;
      for (const auto& q : pv) {
        for (const char* k : {"measured_j", "predicted_j"}) {
          lo = std::min(lo, q[k].get<double>());
          hi = std::max(hi, q[k].get<double>());
        }
      }
      if (hi > 0) {
        json points_layer = {{"mark", c.spec["mark"]}, {"encoding", c.spec["encoding"]}};
        json diagonal = {{"data", {{"values", {{{"measured_j", lo}, {"predicted_j", lo}}, {{"measured_j", hi}, {"predicted_j", hi}}}}}},
                         {"mark", {{"type", "line"}, {"color", "#888"}, {"strokeDash", {4, 4}}}},
                         {"encoding", {{"x", {{"field", "measured_j"}, {"type", "quantitative"}}},
                                       {"y", {{"field", "predicted_j"}, {"type", "quantitative"}}}}}};
        c.spec.erase("mark");
        c.spec.erase("encoding");
        c.spec["layer"] = {diagonal, points_layer};
      }
      charts.push_back(c);
    }
  }
  charts.erase(std::remove_if(charts.begin(), charts.end(), [](const Chart& c) { return c.points == 0; }),
               charts.end());
  files.charts = static_cast<int>(charts.size());

  // ---- JSON and CSV of every table ----
  json all = {{"energy", a.energy_label}, {"estimated", a.estimated}, {"runs", a.runs}, {"runs_ok", a.runs_ok},
              {"runs_failed", a.runs_failed}, {"findings", a.findings}, {"not_computed", a.cannot},
              {"points", points}, {"predictions", a.predictions}, {"sources", sources}};
  for (const auto& t : a.tables) {
    write_table_csv(t, (fs::path(out_dir) / "tables" / (t.id + ".csv")).string());
    json rows_j = json::array();
    for (const auto& r : t.rows) {
      json o;
      for (std::size_t i = 0; i < t.columns.size() && i < r.size(); ++i) o[t.columns[i]] = r[i];
      rows_j.push_back(o);
    }
    all["tables"][t.id] = {{"title", t.title}, {"note", t.note}, {"rows", rows_j}};
  }
  write_file(files.json, json_text(all, 1) + "\n");

  // ---- Markdown ----
  {
    std::ostringstream m;
    m << "# sedenergy report\n\n" << a.runs << " runs (" << a.runs_ok << " ok, " << a.runs_failed << " failed) from "
      << join(sources, ", ") << ". Energy: " << a.energy_label << ".\n\n## Findings\n\n";
    if (a.findings.empty()) m << "- No finding could be computed from these runs.\n";
    for (const auto& f : a.findings) m << "- " << f << "\n";
    if (!a.cannot.empty()) {
      m << "\n## Not computed\n\n";
      for (const auto& c : a.cannot) m << "- " << c << "\n";
    }
    m << "\n## Tables\n";
    for (const auto& t : a.tables) m << table_markdown(t);
    write_file(files.markdown, m.str());
  }

  // ---- HTML ----
  std::ostringstream h;
  h << page_head("sedenergy report");
  h << "<h1>sedenergy report</h1><p class=\"note\">Generated " << utc_now_iso() << " from "
    << html_escape(join(sources, ", ")) << ": " << a.runs << " runs (" << a.runs_ok << " ok, " << a.runs_failed
    << " failed). Energy: " << html_escape(a.energy_label) << ". Also: <a href=\"summary.md\">summary.md</a>, "
    << "<a href=\"analysis.json\">analysis.json</a>, <a href=\"runs.csv\">runs.csv</a>.</p><pre id=\"render-errors\"></pre>";
  if (a.estimated) {
    h << "<p class=\"est\">No GPU energy sensor for some runs: energies are ESTIMATED from CPU load and RAM size "
         "(CodeCarbon's model), not measured.</p>";
  }
  h << "<h2>Findings</h2><ul>";
  if (a.findings.empty()) h << "<li>No finding could be computed from these runs.</li>";
  for (const auto& f : a.findings) h << "<li>" << html_escape(f) << "</li>";
  h << "</ul>";
  if (!a.cannot.empty()) {
    h << "<h3>Not computed</h3><ul>";
    for (const auto& c : a.cannot) h << "<li>" << html_escape(c) << "</li>";
    h << "</ul>";
  }
  h << "<h2>Charts</h2><p class=\"note\">Hover a point for its configuration and numbers.</p><div class=\"charts\">";
  json specs = json::array();
  for (const auto& c : charts) {
    h << "<div class=\"chart\"><h3>" << html_escape(c.title) << "</h3><div id=\"" << c.id
      << "\" data-expected-points=\"" << c.points << "\"></div><p class=\"note\">" << html_escape(c.caption)
      << "</p></div>";
    specs.push_back({{"id", c.id}, {"spec", c.spec}});
  }
  if (charts.empty()) h << "<p class=\"note\">Nothing to plot: no finished run with a measured phase.</p>";
  h << "</div><h2>Tables</h2>";
  for (const auto& t : a.tables) h << table_html(t);
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
  h << "</table></div><h2>Failed runs</h2><ul>";
  std::set<std::int64_t> seen;
  int failed = 0;
  for (const auto& r : rows) {
    if (r.status == "ok" || !seen.insert(r.run_id).second) continue;
    h << "<li>" << html_escape(r.variant + " (repetition " + std::to_string(r.repetition) + "): " + r.status + ": " + r.error)
      << "</li>";
    ++failed;
  }
  if (!failed) h << "<li>none</li>";
  h << "</ul><script type=\"application/json\" id=\"chart-specs\">" << script_json(specs) << "</script>"
    << kRenderScript << "</body></html>\n";
  write_file(files.html, h.str());
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
  std::int64_t offset = 0;
  for (const auto& path : db_paths) {
    store::Store db(path, store::Store::Access::kRead);  // a report never writes to what it reads
    std::int64_t top = 0;
    for (auto r : db.rows()) {
      top = std::max(top, r.run_id);
      r.run_id += offset;  // run ids of different files must not collide
      rows.push_back(std::move(r));
    }
    for (auto& s : db.sessions()) sessions.push_back(std::move(s));
    offset += top;
  }
  return write_from_rows(rows, sessions, db_paths, out_dir, options);
}

}  // namespace sedenergy::report
