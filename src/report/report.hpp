// Report folder from a results database: runs.csv (every run and phase) and report.html (context,
// energy-vs-FLOPs scatter plots per family and phase, and the table of runs). Self-contained, offline.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace sedenergy::report {

struct ReportFiles {
  std::string csv;
  std::string html;
  int rows = 0;
};

void write_csv(const std::vector<store::RunPhaseRow>& rows, const std::string& path);
ReportFiles write_report(const store::Store& db, const std::string& out_dir);

// Scatter plot on log-log axes as inline SVG (exposed for tests).
struct Point {
  double x, y;
  std::string series;  // legend entry (family)
  std::string label;   // hover text
};
std::string scatter_svg(const std::vector<Point>& points, const std::string& title, const std::string& x_label,
                        const std::string& y_label);

}  // namespace sedenergy::report
