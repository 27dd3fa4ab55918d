// CodeCarbon-compatible emissions.csv (docs/FACTS.md §5): the exact columns, order and units, so DCASE
// submissions can use sedenergy's measurements directly.
#pragma once
#include <string>
#include <vector>

#include "common/host.hpp"
#include "energy/meter.hpp"

namespace sedenergy::energy {

struct CarbonIntensity {
  double g_per_kwh = 475.0;  // world average
  std::string country_name = "World";
  std::string country_iso = "";
  std::string region = "";  // the region column: a province or bidding zone when one was given
  std::string source = "world average";
};

// The 205 countries of data/carbon_intensity.csv (ISO 3166 alpha-3, case-insensitive; Our World in Data 2021
// through CodeCarbon), or with `region` a province / bidding zone of data/carbon_intensity_regions.csv (its
// name or code, case-insensitive). Throws InputError for an unknown code, naming the closest known ones, and
// for an unknown region, listing the country's.
CarbonIntensity carbon_intensity_for_country(const std::string& iso, const std::string& region = "");
CarbonIntensity carbon_intensity_value(double g_per_kwh);

const std::vector<std::string>& emissions_columns();

// CodeCarbon's energy unit: 1 kWh = 3.6 MJ (sedenergy stores joules and converts at the edges).
inline constexpr double kJoulesPerKwh = 3.6e6;

struct EmissionsContext {
  std::string project_name = "sedenergy";
  std::string run_id;         // UUID; generated when empty
  std::string experiment_id;  // free text
  CarbonIntensity carbon;
  HostInfo host;
  std::vector<std::string> gpu_models;
  double pue = 1.0;
  double wue = 0.0;  // water usage effectiveness, L/kWh: water_consumed = energy_consumed x wue (CodeCarbon 3)
  std::string python_version;            // the python_version column: set by the Python package
  std::string tracking_mode = "machine";  // CodeCarbon's: machine (the whole host) or process
};

// A context from JSON (the C API's): project_name, experiment_id, run_id, country_iso_code or
// carbon_intensity_g_per_kwh, pue, python_version, tracking_mode, gpu_models. Host facts are read here.
// Unknown keys and wrong types are refused by name.
EmissionsContext emissions_context_from_json(const nlohmann::json& j);

// kg CO2eq of a window: all domains' energy x PUE x carbon intensity.
double emissions_kg(const WindowResult& w, const EmissionsContext& ctx);

// One row of values, in emissions_columns() order.
std::vector<std::string> emissions_row(const WindowResult& w, const EmissionsContext& ctx);

// Appends a row to `path`, writing the header first when the file is new or empty. The file is locked
// (flock) from the header check to the end of the write, so processes appending at once leave one header
// and whole rows; the row is written in one write() and fsync'ed. Throws InputError when the file cannot
// be written or has a different header.
void append_emissions_csv(const std::string& path, const WindowResult& w, const EmissionsContext& ctx);

// kReplaceRunRow: the last row of ctx.run_id already in the file (an earlier flush of the same run) is replaced
// in place, the rows after it kept; with none, the row is appended.
enum class RowWrite { kAppend, kReplaceRunRow };
void write_emissions_csv(const std::string& path, const WindowResult& w, const EmissionsContext& ctx, RowWrite how);

// Where to append rows meant for `wanted`: itself when it is missing, empty or CodeCarbon's, else the first
// "NAME.sedenergy-N.csv" beside it that is (a file with a foreign header is never written to), with `note`
// saying so. Checked before a measured program starts, so its row is never lost at the end.
std::string emissions_file_for(const std::string& wanted, std::string* note = nullptr);

std::string random_uuid();

}  // namespace sedenergy::energy
