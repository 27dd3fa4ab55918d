#include "report/report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/text.hpp"

namespace fs = std::filesystem;

namespace sedenergy::report {
namespace {

std::string num(double v, int precision = 6) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

std::string fmt_si(double v) {
  const char* units[] = {"", "k", "M", "G", "T", "P", "E"};
  int i = 0;
  double a = std::abs(v);
  while (a >= 1000 && i < 6) {
    a /= 1000;
    v /= 1000;
    ++i;
  }
  return num(v, 3) + units[i];
}

const char* family_colour(const std::string& family) {
  if (family == "MLP") return "#d62728";
  if (family == "CNN") return "#1f77b4";
  if (family == "RNN") return "#ff7f0e";
  if (family == "CRNN") return "#2ca02c";
  return "#7f7f7f";
}

std::ofstream open_out(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw file_error(path, 0, "cannot write report file");
  return out;
}

}  // namespace

void write_csv(const std::vector<store::RunPhaseRow>& rows, const std::string& path) {
  auto out = open_out(path);
  out << "run_id,session_id,config,family,status,error,phase,params,flops_per_step,flops_per_epoch,batch,clips,"
         "epochs_in_window,window_s,duration_s,energy_j,gpu_energy_j,cpu_energy_j,ram_energy_j,net_gpu_energy_j,"
         "uncertainty_j,gpu_method,cpu_method,ram_method,estimated,gpu_power_w,gpu_util_pct,mem_util_pct,cpu_load,"
         "loss,flags,device,gpu_name,hostname\n";
  for (const auto& r : rows) {
    const auto& p = r.phase;
    std::vector<std::string> v = {std::to_string(r.run_id), std::to_string(r.session_id), r.config, r.family,
                                  r.status, r.error, p.phase, std::to_string(r.params), num(r.flops_per_step, 12),
                                  num(r.flops_per_epoch, 12), std::to_string(r.batch), std::to_string(r.clips),
                                  std::to_string(p.epochs), num(p.window_s), num(p.duration_s), num(p.energy_j),
                                  num(p.gpu_energy_j), num(p.cpu_energy_j), num(p.ram_energy_j),
                                  num(p.net_gpu_energy_j), num(p.uncertainty_j), p.gpu_method, p.cpu_method,
                                  p.ram_method, p.estimated ? "1" : "0", num(p.gpu_power_w), num(p.gpu_util_pct),
                                  num(p.mem_util_pct), num(p.cpu_load), num(p.loss), p.flags, r.device, r.gpu_name,
                                  r.hostname};
    for (auto& s : v) s = csv_escape(s);
    out << join(v, ",") << '\n';
  }
}

std::string scatter_svg(const std::vector<Point>& pts_in, const std::string& title, const std::string& x_label,
                        const std::string& y_label) {
  std::vector<Point> pts;
  for (const auto& p : pts_in) {
    if (p.x > 0 && p.y > 0 && std::isfinite(p.x) && std::isfinite(p.y)) pts.push_back(p);
  }
  const double W = 560, H = 380, L = 70, R = 120, T = 30, B = 50;
  std::ostringstream s;
  s << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << W << ' ' << H
    << "\" width=\"" << W << "\" height=\"" << H << "\" data-points=\"" << pts.size() << "\">";
  s << "<text x=\"" << W / 2 << "\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\">" << html_escape(title)
    << "</text>";
  if (pts.empty()) {
    s << "<text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\">no positive data to plot</text></svg>";
    return s.str();
  }
  double x0 = 1e300, x1 = 0, y0 = 1e300, y1 = 0;
  for (const auto& p : pts) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  double lx0 = std::floor(std::log10(x0)), lx1 = std::ceil(std::log10(x1));
  double ly0 = std::floor(std::log10(y0)), ly1 = std::ceil(std::log10(y1));
  if (lx1 <= lx0) lx1 = lx0 + 1;
  if (ly1 <= ly0) ly1 = ly0 + 1;
  auto X = [&](double v) { return L + (std::log10(v) - lx0) / (lx1 - lx0) * (W - L - R); };
  auto Y = [&](double v) { return H - B - (std::log10(v) - ly0) / (ly1 - ly0) * (H - T - B); };
  s << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#999\"/>";
  for (double e = lx0; e <= lx1; ++e) {
    double x = X(std::pow(10.0, e));
    s << "<line x1=\"" << x << "\" y1=\"" << T << "\" x2=\"" << x << "\" y2=\"" << H - B
      << "\" stroke=\"#eee\"/><text x=\"" << x << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\" font-size=\"11\">1e"
      << e << "</text>";
  }
  for (double e = ly0; e <= ly1; ++e) {
    double y = Y(std::pow(10.0, e));
    s << "<line x1=\"" << L << "\" y1=\"" << y << "\" x2=\"" << W - R << "\" y2=\"" << y
      << "\" stroke=\"#eee\"/><text x=\"" << L - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\" font-size=\"11\">1e"
      << e << "</text>";
  }
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\" font-size=\"12\">"
    << html_escape(x_label) << "</text>";
  s << "<text transform=\"translate(16," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">"
    << html_escape(y_label) << "</text>";
  std::set<std::string> series;
  for (const auto& p : pts) {
    series.insert(p.series);
    s << "<circle class=\"pt\" cx=\"" << X(p.x) << "\" cy=\"" << Y(p.y) << "\" r=\"5\" fill=\""
      << family_colour(p.series) << "\" fill-opacity=\"0.8\"><title>" << html_escape(p.label) << "</title></circle>";
  }
  double ly = T + 10;
  for (const auto& name : series) {
    s << "<circle cx=\"" << W - R + 16 << "\" cy=\"" << ly << "\" r=\"5\" fill=\"" << family_colour(name)
      << "\"/><text x=\"" << W - R + 26 << "\" y=\"" << ly + 4 << "\" font-size=\"12\">" << html_escape(name) << "</text>";
    ly += 18;
  }
  s << "</svg>";
  return s.str();
}

ReportFiles write_report(const store::Store& db, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw InputError("report: cannot create '" + out_dir + "': " + ec.message());
  ReportFiles files;
  files.csv = (fs::path(out_dir) / "runs.csv").string();
  files.html = (fs::path(out_dir) / "report.html").string();
  auto rows = db.rows();
  auto sessions = db.sessions();
  files.rows = static_cast<int>(rows.size());
  write_csv(rows, files.csv);

  // GPU energy when measured by NVML; otherwise the (estimated) total of all domains.
  const bool gpu_measured = std::any_of(rows.begin(), rows.end(), [](const store::RunPhaseRow& r) {
    return r.status == "ok" && !r.phase.gpu_method.empty();
  });
  const std::string energy_label =
      gpu_measured ? "GPU energy per epoch (J, NVML)" : "CPU+RAM energy per epoch (J, ESTIMATED)";
  std::ostringstream h;
  h << "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sedenergy report</title><style>"
       "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}"
       "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
       "th{background:#f3f3f3}td.l,th.l{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}"
       ".est{color:#a15c00;font-weight:bold}.failed{background:#fdd}.note{color:#555}"
       "</style></head><body>";
  h << "<h1>sedenergy report</h1>";
  h << "<p class=\"note\">Generated " << utc_now_iso() << " from <code>" << html_escape(db.path()) << "</code>: "
    << rows.size() << " run phases.</p>";
  h << "<h2>Context</h2><table><tr><th class=l>started</th><th class=l>host</th><th class=l>CPU</th>"
       "<th class=l>GPU</th><th class=l>driver</th><th class=l>LibTorch</th><th class=l>sedenergy</th>"
       "<th class=l>device</th><th class=l>grid</th><th class=l>dataset</th><th class=l>features</th></tr>";
  for (const auto& s : sessions) {
    h << "<tr><td class=l>" << html_escape(s.started_at) << "</td><td class=l>" << html_escape(s.hostname)
      << "</td><td class=l>" << html_escape(s.cpu_model) << " (" << s.cpu_count << " CPUs)</td><td class=l>"
      << html_escape(s.gpu_name.empty() ? "none" : s.gpu_name) << "</td><td class=l>" << html_escape(s.gpu_driver)
      << "</td><td class=l>" << html_escape(s.libtorch_version) << "</td><td class=l>"
      << html_escape(s.sedenergy_version + " " + s.git_revision) << "</td><td class=l>" << html_escape(s.device)
      << "</td><td class=l>" << html_escape(s.grid) << "</td><td class=l>" << html_escape(s.dataset)
      << "</td><td class=l>" << html_escape(s.features) << "</td></tr>";
  }
  h << "</table>";
  h << "<h2>Energy vs FLOPs</h2>";
  if (!gpu_measured) {
    h << "<p class=\"est\">No GPU energy sensor was used: the energies below are ESTIMATED from CPU load and "
         "RAM size (CodeCarbon's model), not measured.</p>";
  }
  h << "<p class=\"note\">One point per configuration; energy and FLOPs per epoch; hover a point for its numbers. "
       "Training FLOPs count forward, backward and the Adam step.</p><div class=\"charts\">";
  for (const std::string phase : {"train", "test"}) {
    std::vector<Point> pts;
    for (const auto& r : rows) {
      if (r.status != "ok" || r.phase.phase != phase) continue;
      double e = gpu_measured ? r.phase.gpu_energy_j : r.phase.energy_j;
      pts.push_back({r.flops_per_epoch, e, r.family,
                     r.config + " (" + phase + "): " + fmt_si(r.flops_per_epoch) + "FLOP, " + num(e, 4) + " J, " +
                         fmt_si(static_cast<double>(r.params)) + " params"});
    }
    h << scatter_svg(pts, phase == "train" ? "Training (one epoch)" : "Testing (one pass)", "FLOPs per epoch",
                     energy_label);
  }
  h << "</div>";
  // Methods and flags shared by every run are said once above the table, so each row shows what is its own.
  std::map<std::string, int> method_count, flag_count;
  int ok_rows = 0;
  for (const auto& r : rows) {
    if (r.status != "ok") continue;
    ++ok_rows;
    ++method_count[join({r.phase.gpu_method, r.phase.cpu_method, r.phase.ram_method}, " | ")];
    for (const auto& f : split(r.phase.flags, ';')) {
      if (!trim(f).empty()) ++flag_count[trim(f)];
    }
  }
  std::set<std::string> common_flags;
  for (const auto& [f, n] : flag_count) {
    if (n == ok_rows) common_flags.insert(f);
  }
  const bool one_method = method_count.size() == 1;
  h << "<h2>Runs</h2>";
  if (one_method) {
    const auto parts = split(method_count.begin()->first, '|');
    const char* domains[] = {"GPU", "CPU", "RAM"};
    h << "<p class=note>Energy methods of every run: ";
    for (std::size_t i = 0; i < parts.size() && i < 3; ++i) {
      if (!trim(parts[i]).empty()) h << "<b>" << domains[i] << "</b> " << html_escape(trim(parts[i])) << "; ";
    }
    h << "</p>";
  }
  if (!common_flags.empty()) {
    h << "<p class=note>Flags of every run: " << html_escape(join({common_flags.begin(), common_flags.end()}, "; "))
      << ".</p>";
  }
  h << "<table><tr><th class=l>config</th><th class=l>family</th><th class=l>phase</th><th>params</th>"
       "<th>FLOPs/epoch</th><th>time/epoch (s)</th><th>energy/epoch (J)</th><th>GPU (J)</th><th>CPU (J)</th>"
       "<th>RAM (J)</th><th>GPU power (W)</th><th>GPU util %</th><th>mem util %</th><th>epochs in window</th>"
    << (one_method ? "" : "<th class=l>methods</th>") << "<th class=l>other flags</th></tr>";
  for (const auto& r : rows) {
    const auto& p = r.phase;
    if (r.status != "ok") {
      h << "<tr class=failed><td class=l>" << html_escape(r.config) << "</td><td class=l>" << r.family
        << "</td><td class=l colspan=14>failed: " << html_escape(r.error) << "</td></tr>";
      continue;
    }
    std::vector<std::string> own_flags;
    for (const auto& f : split(p.flags, ';')) {
      if (!trim(f).empty() && !common_flags.count(trim(f))) own_flags.push_back(trim(f));
    }
    auto opt = [](double v) { return v >= 0 ? num(v, 4) : std::string("–"); };
    h << "<tr><td class=l>" << html_escape(r.config) << "</td><td class=l>" << r.family << "</td><td class=l>"
      << p.phase << "</td><td>" << r.params << "</td><td>" << fmt_si(r.flops_per_epoch) << "</td><td>"
      << num(p.duration_s, 4) << "</td><td>" << num(p.energy_j, 4) << (p.estimated ? " <span class=est>est.</span>" : "")
      << "</td><td>" << (p.gpu_method.empty() ? "–" : num(p.gpu_energy_j, 4)) << "</td><td>" << num(p.cpu_energy_j, 4)
      << "</td><td>" << num(p.ram_energy_j, 4) << "</td><td>" << (p.gpu_method.empty() ? "–" : num(p.gpu_power_w, 4))
      << "</td><td>" << opt(p.gpu_util_pct) << "</td><td>" << opt(p.mem_util_pct) << "</td><td>" << p.epochs << "</td>";
    if (!one_method) {
      h << "<td class=l>" << html_escape(join({p.gpu_method, p.cpu_method, p.ram_method}, " | ")) << "</td>";
    }
    h << "<td class=l>" << html_escape(join(own_flags, "; ")) << "</td></tr>";
  }
  h << "</table></body></html>\n";
  auto out = open_out(files.html);
  out << h.str();
  return files;
}

}  // namespace sedenergy::report
