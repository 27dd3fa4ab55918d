#include "report/page.hpp"

#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "sedenergy/vega.hpp"

namespace sedenergy::report {

using nlohmann::json;

std::string num(double v, int precision) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

std::string cell(const json& v) {
  if (v.is_null()) return "—";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return num(v.get<double>(), 4);
  return v.get<std::string>();
}

std::string script_json(const json& j) {
  // '<' only occurs inside JSON strings, where \u003c means the same: "</script>" and "<!--" (which
  // would change how the browser parses the script element) cannot appear.
  std::string out;
  for (char c : json_text(j)) {
    if (c == '<') out += "\\u003c";
    else out += c;
  }
  return out;
}

std::string table_html(const analysis::Table& t) {
  std::ostringstream h;
  h << "<h3 id=\"t-" << t.id << "\">" << html_escape(t.title) << "</h3><p class=\"note\">" << html_escape(t.note)
    << " <a href=\"tables/" << t.id << ".csv\">CSV</a></p>";
  if (t.rows.empty()) {
    h << "<p class=\"note\">No rows.</p>";
    return h.str();
  }
  h << "<div class=\"scroll\"><table><tr>";
  for (const auto& c : t.columns) h << "<th>" << html_escape(c) << "</th>";
  h << "</tr>";
  for (const auto& r : t.rows) {
    h << "<tr>";
    for (const auto& v : r) h << (v.is_string() ? "<td class=l>" : "<td>") << html_escape(cell(v)) << "</td>";
    h << "</tr>";
  }
  h << "</table></div>";
  return h.str();
}

std::string table_markdown(const analysis::Table& t) {
  std::ostringstream m;
  m << "\n### " << t.title << "\n\n" << t.note << "\n\n|";
  for (const auto& c : t.columns) m << " " << c << " |";
  m << "\n|";
  for (std::size_t i = 0; i < t.columns.size(); ++i) m << " --- |";
  m << "\n";
  for (const auto& r : t.rows) {
    m << "|";
    for (const auto& v : r) {
      // Names come from databases: raw HTML in them stays text (entities), and '|' cannot split the cell.
      std::string s = html_escape(cell(v));
      for (auto& ch : s) {
        if (ch == '|') ch = '/';
      }
      m << " " << s << " |";
    }
    m << "\n";
  }
  return m.str();
}

void write_table_csv(const analysis::Table& t, const std::string& path) {
  std::ostringstream out;
  std::vector<std::string> head;
  for (const auto& c : t.columns) head.push_back(csv_escape(c));
  out << join(head, ",") << "\n";
  for (const auto& r : t.rows) {
    std::vector<std::string> v;
    for (const auto& x : r) v.push_back(csv_escape(x.is_null() ? "" : x.is_string() ? x.get<std::string>() : cell(x)));
    out << join(v, ",") << "\n";
  }
  write_file(path, out.str());
}

std::string library_js() {
  std::string js;
  for (const char* name : {"vega.min.js", "vega-lite.min.js", "vega-embed.min.js"}) {
    for (const auto& f : embedded::kVega) {
      if (std::string(f.name) == name) js += std::string("<script>") + f.text + "</script>\n";
    }
  }
  return js;
}

// Renders each chart with vega-embed (SVG), then records on its element how many marks were drawn and on
// <body> that all charts are done, or the errors met: what a headless browser reads back.
const char* const kRenderScript = R"js(
<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); });
  var charts = JSON.parse(document.getElementById('chart-specs').textContent);
  Promise.all(charts.map(function (c) {
    return vegaEmbed('#' + c.id, c.spec, {actions: false, renderer: 'svg'}).then(function () {
      var el = document.getElementById(c.id);
      el.setAttribute('data-rendered-points', el.querySelectorAll('.mark-symbol.role-mark path').length);
    });
  })).then(function () {
    document.body.setAttribute('data-charts-rendered', charts.length);
  }).catch(function (e) { errors.push(String(e)); }).then(function () {
    document.body.setAttribute('data-errors', errors.length);
    if (errors.length) document.getElementById('render-errors').textContent = errors.join('\n');
  });
})();
</script>
)js";

std::string page_head(const std::string& title, bool charts) {
  return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title><style>"
         "body{font-family:system-ui,sans-serif;margin:2em auto;color:#222;max-width:1250px;padding:0 1em}"
         "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}"
         "th{background:#f3f3f3;position:sticky;top:0}td.l{text-align:left}.scroll{max-height:480px;overflow:auto}"
         ".charts{display:flex;flex-wrap:wrap;gap:1.5em}.chart{border:1px solid #eee;padding:.5em}"
         ".est{color:#a15c00;font-weight:bold}.note{color:#555;font-size:14px}li{margin:.3em 0}"
         "#render-errors{color:#b00}</style>" +
         (charts ? library_js() : "") + "</head><body>";
}

}  // namespace sedenergy::report
