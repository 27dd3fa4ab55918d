// Small string helpers shared by parsers and writers.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace sedenergy {

std::vector<std::string> split(std::string_view text, char sep);
std::string trim(std::string_view text);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view text, std::string_view prefix);
// Parses a whole string as a number; returns false on trailing garbage or overflow.
bool parse_double(std::string_view text, double& out);
bool parse_int(std::string_view text, long long& out);
// Shortest text that reads back as the same double ("0.5", "1e-05").
std::string format_number(double v);
// Escapes a string for CSV (RFC 4180 quoting when needed).
std::string csv_escape(std::string_view text);
// Splits one CSV line (RFC 4180 quoting, a trailing CR dropped) into fields; false when a quote is left open.
bool csv_fields(std::string_view line, std::vector<std::string>& out);
// Escapes a string for HTML text and attributes.
std::string html_escape(std::string_view text);
// UTC time as ISO 8601 ("2026-11-27T01:46:17Z", or "2026-11-27T01:46:17.250Z" with milliseconds).
std::string utc_now_iso(bool milliseconds = false);

}  // namespace sedenergy
