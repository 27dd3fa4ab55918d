#include "report/dcase.hpp"

#include <cmath>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/json_keys.hpp"
#include "common/text.hpp"
#include "energy/emissions.hpp"
#include "report/page.hpp"
#include "report/user_report.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace sedenergy::report {
namespace {

using energy::kJoulesPerKwh;

// One phase of one system: every row of its emissions file added up (a run restarted appends rows).
struct PhaseEnergy {
  std::string file, gpu_model;
  std::vector<std::string> warnings;
  int rows = 0;
  double duration_s = 0, cpu_kwh = 0, gpu_kwh = 0, ram_kwh = 0;
  double total_kwh() const { return cpu_kwh + gpu_kwh + ram_kwh; }
};

PhaseEnergy read_phase(const std::string& path, const std::string& option) {
  if (path.empty()) throw InputError("dcase: " + option + " is required");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw InputError("dcase: " + option + " '" + path + "' is a folder: give the emissions CSV file in it");
  }
  if (!fs::exists(path, ec)) throw InputError("dcase: " + option + " '" + path + "' does not exist");
  if (!fs::is_regular_file(path, ec)) throw InputError("dcase: " + option + " '" + path + "' is not a regular file");
  PhaseEnergy p;
  p.file = path;
  for (const auto& w : read_emissions_csv(path, &p.warnings)) {
    const std::string model = trim(w.gpu_name);
    if (p.rows > 0 && model != p.gpu_model) {
      throw file_error(path, 0, "rows measured on different GPUs ('" + p.gpu_model + "' and '" + model + "')");
    }
    p.gpu_model = model;
    ++p.rows;
    p.duration_s += w.duration_s;
    p.cpu_kwh += w.cpu_energy_j / kJoulesPerKwh;
    p.gpu_kwh += w.gpu_energy_j / kJoulesPerKwh;
    p.ram_kwh += w.ram_energy_j / kJoulesPerKwh;
  }
  if (p.rows == 0) throw file_error(path, 0, "no row: nothing was measured");
  if (p.gpu_model.empty()) throw file_error(path, 0, "no gpu_model: the hardware of this run cannot be compared");
  if (!(p.gpu_kwh > 0)) {
    throw file_error(path, 0, "no GPU energy (gpu_energy is 0): DCASE compares GPU runs; was the GPU measured "
                              "(gpu_ids, CUDA_VISIBLE_DEVICES)?");
  }
  return p;
}

json kwh(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

struct Phase {
  std::string name;
  PhaseEnergy submission, baseline;
  double normalised() const { return baseline.total_kwh() / submission.total_kwh(); }
  double normalised_gpu() const { return baseline.gpu_kwh / submission.gpu_kwh; }
};

analysis::Table energy_table(const std::vector<Phase>& phases) {
  analysis::Table t{"dcase-energy", "Energy per phase and domain (kWh)",
                    "Every row of each emissions file added up. GPU energy as the files state it (sedenergy: NVML "
                    "counter); CPU and RAM may be estimates (see the files' methods).",
                    {"phase", "system", "file", "rows", "duration_h", "cpu_kwh", "gpu_kwh", "ram_kwh", "total_kwh"},
                    {}};
  for (const auto& ph : phases) {
    for (const auto* s : {&ph.submission, &ph.baseline}) {
      t.rows.push_back({ph.name, s == &ph.submission ? "submission" : "baseline", fs::path(s->file).filename().string(),
                        s->rows, s->duration_s / 3600.0, s->cpu_kwh, s->gpu_kwh, s->ram_kwh, s->total_kwh()});
    }
  }
  return t;
}

analysis::Table normalised_table(const std::vector<Phase>& phases, const std::vector<double>& psds) {
  analysis::Table t{"dcase-normalised", "Normalised energy and energy-weighted PSDS",
                    "normalised = baseline kWh / submission kWh (all domains; GPU alone beside it): above 1, the "
                    "submission used less than the baseline. EW-PSDS = PSDS x normalised (Ronchini & Serizel, "
                    "arXiv 2310.03455), for each phase.",
                    {"phase", "baseline_kwh", "submission_kwh", "normalised", "normalised_gpu"},
                    {}};
  for (std::size_t i = 0; i < psds.size(); ++i) t.columns.push_back("ew_psds" + std::to_string(i + 1));
  for (const auto& ph : phases) {
    std::vector<json> row = {ph.name, ph.baseline.total_kwh(), ph.submission.total_kwh(), kwh(ph.normalised()),
                             kwh(ph.normalised_gpu())};
    for (double p : psds) row.push_back(kwh(p * ph.normalised()));
    t.rows.push_back(row);
  }
  return t;
}

// The system's complexity as `python -m sedenergy complexity --json` wrote it, checked by name.
json read_complexity(const std::string& path) {
  if (path.empty()) return nullptr;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError("dcase: --complexity '" + path + "' is not a file");
  const json c = read_json_object_file(path, "complexity (python -m sedenergy complexity --json)");
  auto number = [&](const json& v, const std::string& key) {
    if (!v.is_number() || !(v.get<double>() >= 0)) {
      throw file_error(path, 0, "'" + key + "' must be a number >= 0 (write the file with python -m sedenergy complexity --json)");
    }
    return v.get<double>();
  };
  const json thop = c.contains("conventions") && c["conventions"].is_object() && c["conventions"].contains("thop") &&
                            c["conventions"]["thop"].is_object() ? c["conventions"]["thop"] : json::object();
  return {{"total_parameters", number(c.value("params", json()), "params")},
          {"trainable_parameters", number(c.value("trainable_params", json()), "trainable_params")},
          {"macs_thop", number(thop.value("macs", json()), "conventions.thop.macs")},
          {"macs_exact", number(c.value("macs", json()), "macs")},
          {"input", c.value("inputs", json::array())},
          {"not_counted", c.value("uncounted", json::object())}};
}

// What a submission reports (docs/FACTS.md §8): kWh per phase for the system and for the baseline on the same
// hardware, the normalised energy and EW-PSDS, and the model's complexity.
json submission_figures(const std::vector<Phase>& phases, const std::vector<double>& psds, const json& complexity) {
  json s = {{"gpu_model", phases[0].baseline.gpu_model}};
  for (const auto& [ph, key] : {std::pair{&phases[0], "training"}, std::pair{&phases[1], "devtest_inference"}}) {
    s[std::string(key) + "_kwh"] = ph->submission.total_kwh();
    s["baseline_" + std::string(key) + "_kwh"] = ph->baseline.total_kwh();
    s["normalised_" + std::string(key)] = kwh(ph->normalised());
    for (std::size_t i = 0; i < psds.size(); ++i) {
      s["ew_psds" + std::to_string(i + 1) + "_" + key] = kwh(psds[i] * ph->normalised());
    }
  }
  if (!complexity.is_null()) s["complexity"] = complexity;
  return s;
}

// The figures as YAML, one "key: value" a line (nested one level for the complexity).
std::string submission_yaml(const json& s) {
  std::ostringstream y;
  y << "# sedenergy dcase: the energy and complexity figures of a DCASE task 4 submission (docs/FACTS.md §8).\n"
    << "# Energy in kWh from the CodeCarbon files (CPU + GPU + RAM); the baseline's on the same hardware.\n"
    << "# MACs: one forward pass on the input given (10 s of audio), in thop's convention as the task asks, and\n"
    << "# sedenergy's exact count beside it.\n";
  for (const auto& [k, v] : s.items()) {
    if (!v.is_object()) {
      y << k << ": " << (v.is_string() ? json(v).dump() : v.dump()) << "\n";
      continue;
    }
    y << k << ":\n";
    for (const auto& [k2, v2] : v.items()) y << "  " << k2 << ": " << v2.dump() << "\n";
  }
  return y.str();
}

}  // namespace

DcaseFiles write_dcase_report(const DcaseInputs& in, const std::string& out_dir) {
  for (std::size_t i = 0; i < in.psds.size(); ++i) {
    if (!(in.psds[i] >= 0 && in.psds[i] <= 1)) {
      throw InputError("dcase: --psds value " + std::to_string(i + 1) + " (" + format_number(in.psds[i]) +
                       ") is outside [0, 1]");
    }
  }
  std::vector<Phase> phases = {
      {"training", read_phase(in.train, "--train"), read_phase(in.baseline_train, "--baseline-train")},
      {"devtest inference", read_phase(in.test, "--test"), read_phase(in.baseline_test, "--baseline-test")}};
  const PhaseEnergy& reference = phases[0].baseline;
  const json complexity = read_complexity(in.complexity);
  std::vector<std::string> warnings;
  if (!complexity.is_null() && !complexity["not_counted"].empty()) {
    warnings.push_back(in.complexity + ": operations without a rule were left out of the MACs: " +
                       complexity["not_counted"].dump());
  }
  for (const auto& ph : phases) {
    for (const auto* s : {&ph.submission, &ph.baseline}) warnings.insert(warnings.end(), s->warnings.begin(), s->warnings.end());
  }
  for (const auto& ph : phases) {
    for (const auto* s : {&ph.submission, &ph.baseline}) {
      if (s->gpu_model != reference.gpu_model) {
        throw InputError("dcase: the runs were not made on the same hardware: '" + s->gpu_model + "' in " + s->file +
                         ", '" + reference.gpu_model + "' in " + reference.file +
                         " (model and count must match: the baseline's reference runs go on the submission's GPUs)");
      }
    }
  }
  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "tables", ec);
  if (ec) throw InputError("dcase: cannot create '" + out_dir + "': " + ec.message());
  const std::vector<analysis::Table> tables = {energy_table(phases), normalised_table(phases, in.psds)};
  DcaseFiles files;
  files.warnings = warnings;
  files.markdown = (fs::path(out_dir) / "dcase.md").string();
  files.csv = (fs::path(out_dir) / "dcase.csv").string();
  files.json = (fs::path(out_dir) / "dcase.json").string();
  files.html = (fs::path(out_dir) / "dcase.html").string();
  const std::string hardware = "Hardware (all four runs): " + reference.gpu_model + ".";
  std::ostringstream md;
  md << "# DCASE energy report\n\n" << hardware << "\n";
  for (const auto& t : tables) md << table_markdown(t);
  if (!complexity.is_null()) {
    auto n = [&](const char* key) { return std::to_string(std::llround(complexity[key].get<double>())); };  // counts
    md << "\nComplexity (" << complexity["input"].dump() << "): " << n("total_parameters") << " parameters ("
       << n("trainable_parameters") << " trainable), " << n("macs_thop") << " MACs as thop counts them ("
       << n("macs_exact") << " exact).\n";
  }
  files.summary = md.str();
  write_file(files.markdown, files.summary);
  write_table_csv(tables[1], files.csv);
  const json submission = submission_figures(phases, in.psds, complexity);
  files.yaml = (fs::path(out_dir) / "dcase-submission.yaml").string();
  write_file(files.yaml, submission_yaml(submission));
  json all = {{"hardware", reference.gpu_model}, {"psds", in.psds}, {"submission", submission}};
  for (const auto& t : tables) {
    write_table_csv(t, (fs::path(out_dir) / "tables" / (t.id + ".csv")).string());
    json rows = json::array();
    for (const auto& r : t.rows) {
      json o;
      for (std::size_t i = 0; i < t.columns.size(); ++i) o[t.columns[i]] = r[i];
      rows.push_back(o);
    }
    all[t.id] = rows;
  }
  write_file(files.json, json_text(all, 1) + "\n");
  std::ostringstream h;
  h << page_head("DCASE energy report", false) << "<h1>DCASE energy report</h1><p class=\"note\">" << html_escape(hardware)
    << " Also: <a href=\"dcase.md\">dcase.md</a>, <a href=\"dcase.csv\">dcase.csv</a>, "
    << "<a href=\"dcase.json\">dcase.json</a>.</p>";
  for (const auto& t : tables) h << table_html(t);
  h << "</body></html>\n";
  write_file(files.html, h.str());
  return files;
}

}  // namespace sedenergy::report
