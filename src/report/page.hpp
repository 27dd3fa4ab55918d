// What every report page shares: numbers and tables as HTML, Markdown and CSV, the bundled Vega library,
// the page head and the script that renders the charts and tells a headless browser what it drew.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "analysis/study_analysis.hpp"

namespace sedenergy::report {

std::string num(double v, int precision = 6);
// A table cell as text: numbers to 4 significant digits, null (not computable) as an em dash.
std::string cell(const nlohmann::json& v);
// JSON inside a <script> element: "</" must not end the element early.
std::string script_json(const nlohmann::json& j);
std::string table_html(const analysis::Table& t);
std::string table_markdown(const analysis::Table& t);
void write_table_csv(const analysis::Table& t, const std::string& path);
std::string library_js();
// <!doctype html> ... <body>: the style and, for pages with charts, the Vega library (offline).
std::string page_head(const std::string& title, bool charts = true);
// Renders the charts listed in <script id="chart-specs"> (each {id, spec}) and records on each chart's element
// how many marks were drawn, and on <body> that all are done or the errors met.
extern const char* const kRenderScript;

}  // namespace sedenergy::report
