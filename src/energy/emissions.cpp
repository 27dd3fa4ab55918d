#include "energy/emissions.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "sedenergy/carbon.hpp"

namespace sedenergy::energy {

namespace {

struct Country {
  std::string iso, name;
  double g_per_kwh = 0;
  std::string year;
};

// The data rows of an embedded CSV table (comments and the header left out), each with `fields` fields.
std::vector<std::vector<std::string>> table_rows(const std::string& text, std::size_t fields) {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> f;
  bool header = true;
  for (const auto& line : split(text, '\n')) {
    if (line.empty() || line[0] == '#' || !csv_fields(line, f) || f.size() != fields) continue;
    if (!header) out.push_back(f);
    header = false;
  }
  return out;
}

// data/carbon_intensity.csv, carried in the binary: every country CodeCarbon knows (docs/FACTS.md §5).
const std::vector<Country>& countries() {
  static const std::vector<Country> table = [] {
    std::vector<Country> out;
    for (const auto& f : table_rows(embedded::kCarbon[0].text, 4)) {
      double g = 0;
      if (parse_double(f[2], g)) out.push_back({f[0], f[1], g, f[3]});
    }
    return out;
  }();
  return table;
}

struct Region {
  std::string iso, name, code;
  double g_per_kwh = 0;
  std::string year, source;
};

// data/carbon_intensity_regions.csv: provinces and bidding zones where the data has them.
const std::vector<Region>& regions() {
  static const std::vector<Region> table = [] {
    std::vector<Region> out;
    for (const auto& f : table_rows(embedded::kCarbon[1].text, 6)) {
      double g = 0;
      if (parse_double(f[3], g)) out.push_back({f[0], f[1], f[2], g, f[4], f[5]});
    }
    return out;
  }();
  return table;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// The known codes nearest to an unknown one: countries whose name contains it first, then by edit distance,
// then by the length of the prefix they share (FRN: FRA before FIN and BRN).
std::string closest_countries(const std::string& query) {
  std::vector<std::pair<std::size_t, const Country*>> ranked;
  for (const auto& c : countries()) {
    const bool in_name = query.size() >= 3 && upper(c.name).find(query) != std::string::npos;
    std::size_t prefix = 0;
    while (prefix < query.size() && prefix < c.iso.size() && query[prefix] == c.iso[prefix]) ++prefix;
    ranked.push_back({in_name ? 0 : 10 * (1 + edit_distance(query, c.iso)) - std::min<std::size_t>(prefix, 9), &c});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ranked.size() && i < 3; ++i) out.push_back(ranked[i].second->iso + " (" + ranked[i].second->name + ")");
  return join(out, ", ");
}

}  // namespace

CarbonIntensity carbon_intensity_for_country(const std::string& iso_in, const std::string& region_in) {
  const std::string iso = upper(trim(iso_in));
  const auto country = std::find_if(countries().begin(), countries().end(), [&](const Country& c) { return c.iso == iso; });
  if (country == countries().end()) {
    throw InputError("--country: unknown country code '" + iso_in + "' (ISO 3166 alpha-3; closest known: " +
                     closest_countries(iso) + "; or give --carbon-intensity G_PER_KWH)");
  }
  CarbonIntensity out{country->g_per_kwh, country->name, country->iso,
                      "country table: " + country->iso + " " + country->year + " (data/carbon_intensity.csv)"};
  const std::string region = upper(trim(region_in));
  if (region.empty()) return out;
  std::vector<std::string> known;
  for (const auto& r : regions()) {
    if (r.iso != iso) continue;
    if (upper(r.name) == region || upper(r.code) == region) {
      out.g_per_kwh = r.g_per_kwh;
      out.region = r.name;
      out.source = "region table: " + r.iso + " " + r.code + " " + r.year + " (" + r.source + ", data/carbon_intensity_regions.csv)";
      return out;
    }
    known.push_back(r.code + " (" + r.name + ")");
  }
  if (known.empty()) {
    std::set<std::string> with;
    for (const auto& r : regions()) with.insert(r.iso);
    throw InputError("--region: no regional data for " + iso + " (regions are known for " + join({with.begin(), with.end()}, ", ") +
                     "); leave --region out to use the country's average");
  }
  throw InputError("--region: unknown region '" + region_in + "' of " + iso + " (known: " + join(known, ", ") + ")");
}

CarbonIntensity carbon_intensity_value(double g) {
  if (!(g >= 0) || g > 5000) throw InputError("--carbon-intensity must be in [0, 5000] g CO2eq/kWh");
  CarbonIntensity c;
  c.g_per_kwh = g;
  c.country_name = "";
  c.source = "--carbon-intensity";
  return c;
}

const std::vector<std::string>& emissions_columns() {
  static const std::vector<std::string> cols = {
      "timestamp",       "project_name",     "run_id",          "experiment_id",
      "duration",        "emissions",        "emissions_rate",  "cpu_power",
      "gpu_power",       "ram_power",        "cpu_energy",      "gpu_energy",
      "ram_energy",      "energy_consumed",  "water_consumed",  "country_name",
      "country_iso_code", "region",          "cloud_provider",  "cloud_region",
      "os",              "python_version",   "codecarbon_version", "cpu_count",
      "cpu_model",       "gpu_count",        "gpu_model",       "longitude",
      "latitude",        "ram_total_size",   "tracking_mode",   "cpu_utilization_percent",
      "gpu_utilization_percent", "ram_utilization_percent", "ram_used_gb", "on_cloud",
      "pue",             "wue"};
  return cols;
}

std::string random_uuid() {
  std::random_device rd;
  std::mt19937_64 g((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::uint64_t a = g(), b = g();
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x4000ull;          // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 1
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  return buf;
}

namespace {
std::string num(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  return s.str();
}

}  // namespace

double emissions_kg(const WindowResult& w, const EmissionsContext& ctx) {
  return w.total_energy_j() / kJoulesPerKwh * ctx.pue * ctx.carbon.g_per_kwh / 1000.0;
}

std::vector<std::string> emissions_row(const WindowResult& w, const EmissionsContext& ctx) {
  const WindowTotals t = totals(w);
  const double cpu_kwh = t.of(Domain::cpu) / kJoulesPerKwh, gpu_kwh = t.of(Domain::gpu) / kJoulesPerKwh;
  const double ram_kwh = t.of(Domain::ram) / kJoulesPerKwh;
  const double total_kwh = (cpu_kwh + gpu_kwh + ram_kwh) * ctx.pue;
  const double kg = emissions_kg(w, ctx);
  const MemoryInfo mem = read_memory_info();
  const double used = (mem.total_kib - mem.available_kib) / (1024.0 * 1024.0);
  std::string gpu_model = join(ctx.gpu_models, ", ");
  return {utc_now_iso(),
          ctx.project_name,
          ctx.run_id.empty() ? random_uuid() : ctx.run_id,
          ctx.experiment_id,
          num(w.duration_s),
          num(kg),
          num(w.duration_s > 0 ? kg / w.duration_s : 0),
          num(t.power_w(Domain::cpu)),
          num(t.power_w(Domain::gpu)),
          num(t.power_w(Domain::ram)),
          num(cpu_kwh),
          num(gpu_kwh),
          num(ram_kwh),
          num(total_kwh),
          num(total_kwh * ctx.wue),
          ctx.carbon.country_name,
          ctx.carbon.country_iso,
          ctx.carbon.region,
          "",
          "",
          ctx.host.os,
          ctx.python_version,
          "sedenergy",  // not CodeCarbon: says which tool wrote the row
          std::to_string(ctx.host.cpu_count),
          ctx.host.cpu_model,
          std::to_string(ctx.gpu_models.size()),
          gpu_model,
          "",
          "",
          num(ctx.host.ram_total_gb),
          ctx.tracking_mode,
          num(100.0 * w.cpu_load),
          w.gpu_util_pct >= 0 ? num(w.gpu_util_pct) : "0",
          num(ctx.host.ram_total_gb > 0 ? 100.0 * used / ctx.host.ram_total_gb : 0),
          num(used),
          "N",
          num(ctx.pue),
          num(ctx.wue)};
}

namespace {

enum class HeaderState { kEmpty, kOurs, kForeign };

// Whether an open emissions file is empty, starts with CodeCarbon's header (a byte-order mark or CRLF line
// ends, as spreadsheets save it, are fine) or with something else.
HeaderState header_state(int fd, const std::string& path) {
  const std::string header = join(emissions_columns(), ",");
  std::string first(header.size() + 5, '\0');
  const ssize_t got = ::pread(fd, first.data(), first.size(), 0);
  if (got < 0) throw file_error(path, 0, std::string("cannot read: ") + std::strerror(errno));
  if (got == 0) return HeaderState::kEmpty;
  first.resize(static_cast<std::size_t>(got));
  first = first.substr(0, first.find('\n'));
  if (starts_with(first, "\xEF\xBB\xBF")) first.erase(0, 3);
  if (!first.empty() && first.back() == '\r') first.pop_back();
  return first == header ? HeaderState::kOurs : HeaderState::kForeign;
}

}  // namespace

std::string emissions_file_for(const std::string& wanted, std::string* note) {
  std::string path = wanted;
  for (int n = 2;; ++n) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return path;  // a new file (whether it can be written is the caller's check)
    const HeaderState state = header_state(fd, path);
    ::close(fd);
    if (state != HeaderState::kForeign) return path;
    const auto dot = wanted.rfind(".csv");
    path = (dot == std::string::npos ? wanted : wanted.substr(0, dot)) + ".sedenergy-" + std::to_string(n) + ".csv";
    if (note) *note = wanted + " has other columns than CodeCarbon's: writing " + path + " instead";
  }
}

namespace {

// The byte range of the last row of `run_id` in an emissions file read whole (its line and newline); {0, 0}: none.
std::pair<std::size_t, std::size_t> run_row_range(const std::string& text, const std::string& run_id) {
  static const std::size_t run_col = static_cast<std::size_t>(
      std::find(emissions_columns().begin(), emissions_columns().end(), "run_id") - emissions_columns().begin());
  std::pair<std::size_t, std::size_t> found{0, 0};
  std::vector<std::string> fields;
  for (std::size_t begin = text.find('\n'); begin != std::string::npos && begin + 1 < text.size();) {
    ++begin;
    std::size_t end = text.find('\n', begin);
    end = end == std::string::npos ? text.size() : end + 1;
    if (csv_fields(text.substr(begin, end - begin), fields) && fields.size() > run_col && trim(fields[run_col]) == run_id) {
      found = {begin, end};
    }
    begin = end - 1;
  }
  return found;
}

// Writes `bytes` at `offset` and cuts the file there; false on a short write.
bool write_at(int fd, const std::string& bytes, off_t offset) {
  if (::pwrite(fd, bytes.data(), bytes.size(), offset) != static_cast<ssize_t>(bytes.size())) return false;
  return ::ftruncate(fd, offset + static_cast<off_t>(bytes.size())) == 0 && ::fsync(fd) == 0;
}

}  // namespace

void append_emissions_csv(const std::string& path, const WindowResult& w, const EmissionsContext& ctx) {
  write_emissions_csv(path, w, ctx, RowWrite::kAppend);
}

void write_emissions_csv(const std::string& path, const WindowResult& w, const EmissionsContext& ctx, RowWrite how) {
  const std::string header = join(emissions_columns(), ",");
  std::vector<std::string> escaped;
  for (const auto& v : emissions_row(w, ctx)) escaped.push_back(csv_escape(v));
  const std::string row = join(escaped, ",") + "\n";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw file_error(path, 0, std::string("cannot open for writing: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // also releases the lock
  } closer{fd};
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) throw file_error(path, 0, std::string("cannot lock: ") + std::strerror(errno));
  }
  const HeaderState state = header_state(fd, path);
  if (state == HeaderState::kForeign) {
    throw file_error(path, 1, "exists with other columns than CodeCarbon's emissions.csv");
  }
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (how == RowWrite::kReplaceRunRow && state == HeaderState::kOurs && !ctx.run_id.empty()) {
    std::string text(static_cast<std::size_t>(size), '\0');
    if (::pread(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      throw file_error(path, 0, std::string("cannot read: ") + std::strerror(errno));
    }
    const auto [begin, end] = run_row_range(text, ctx.run_id);
    if (end > begin) {  // the rows after it (other runs') are written back after the new one
      if (!write_at(fd, row + text.substr(end), static_cast<off_t>(begin))) {
        throw file_error(path, 0, "write failed (disk full?)");
      }
      return;
    }
  }
  // A file whose last line has no newline (edited by hand) must not get the row glued to that line.
  char last = '\n';
  if (size > 0 && ::pread(fd, &last, 1, size - 1) != 1) last = '\n';
  const std::string text = (state == HeaderState::kEmpty ? header + "\n" : last != '\n' ? "\n" : "") + row;
  const ssize_t n = ::pwrite(fd, text.data(), text.size(), size);
  if (n != static_cast<ssize_t>(text.size()) || ::fsync(fd) != 0) {
    // A short write must not leave half a row behind: cut the file back to where it was.
    const int cut = ::ftruncate(fd, size);
    (void)cut;  // the write error below is what the caller must hear about
    throw file_error(path, 0, "write failed (disk full?)");
  }
}

EmissionsContext emissions_context_from_json(const nlohmann::json& j) {
  static const std::vector<std::string> known = {"project_name", "experiment_id", "run_id", "country_iso_code",
                                                 "region", "carbon_intensity_g_per_kwh", "pue", "wue", "python_version",
                                                 "tracking_mode", "gpu_models"};
  refuse_unknown_keys(j, known, "emissions context");
  EmissionsContext ctx;
  try {
    ctx.project_name = j.value("project_name", ctx.project_name);
    ctx.experiment_id = j.value("experiment_id", ctx.experiment_id);
    ctx.run_id = j.value("run_id", ctx.run_id);
    ctx.python_version = j.value("python_version", ctx.python_version);
    ctx.tracking_mode = j.value("tracking_mode", ctx.tracking_mode);
    ctx.gpu_models = j.value("gpu_models", ctx.gpu_models);
    ctx.pue = j.value("pue", ctx.pue);
    ctx.wue = j.value("wue", ctx.wue);
    const std::string region = j.contains("region") && !j["region"].is_null() ? j["region"].get<std::string>() : "";
    if (j.contains("country_iso_code") && !j["country_iso_code"].is_null()) {
      ctx.carbon = carbon_intensity_for_country(j["country_iso_code"].get<std::string>(), region);
    } else if (!region.empty()) {
      throw InputError("emissions context: region '" + region + "' needs country_iso_code");
    }
    if (j.contains("carbon_intensity_g_per_kwh") && !j["carbon_intensity_g_per_kwh"].is_null()) {
      ctx.carbon = carbon_intensity_value(j["carbon_intensity_g_per_kwh"].get<double>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("emissions context: a value has the wrong type (") + e.what() + ")");
  }
  if (!(ctx.pue >= 1.0 && ctx.pue <= 10.0)) throw InputError("emissions context: pue must be in [1, 10]");
  if (!(ctx.wue >= 0.0 && ctx.wue <= 100.0)) throw InputError("emissions context: wue must be in [0, 100] L/kWh");
  if (ctx.tracking_mode != "machine" && ctx.tracking_mode != "process") {
    throw InputError("emissions context: tracking_mode must be 'machine' or 'process'");
  }
  ctx.host = read_host_info();
  return ctx;
}

}  // namespace sedenergy::energy
