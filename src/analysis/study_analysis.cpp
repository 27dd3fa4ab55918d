#include "analysis/study_analysis.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "analysis/stats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "models/implementation.hpp"
#include "models/spec.hpp"

namespace sedenergy::analysis {
namespace {

using nlohmann::json;

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string fmt(double v, const char* f = "%.3g") {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string interval_text(const Interval& i, const char* f = "%.2f") {
  if (!std::isfinite(i.lo) || !std::isfinite(i.hi)) return "";
  return std::string(" [") + fmt(i.lo, f) + ", " + fmt(i.hi, f) + "]";
}

// GPM and utilisation means of a window record; -1 when absent.
double activity(const json& w, const char* key) {
  if (w.contains("gpu_activity") && w["gpu_activity"].contains(key)) return w["gpu_activity"][key].get<double>();
  return -1;
}

// What the analysis reads from a phase's window JSON, parsed once per phase.
struct WindowFacts {
  double sm_util = -1, dram_bw = -1;
  std::vector<double> counter_vs_integral_pct, idle_share_pct;  // one per GPU domain with the numbers
};

WindowFacts window_facts(const std::string& text) {
  WindowFacts f;
  if (text.empty()) return f;
  try {
    auto w = json::parse(text);
    f.sm_util = activity(w, "sm_util_pct");
    f.dram_bw = activity(w, "dram_bw_util_pct");
    for (const auto& d : w.value("domains", json::array())) {
      if (d.value("domain", "") != "gpu") continue;
      const double ej = d.value("energy_j", 0.0), ij = d.value("integral_energy_j", -1.0);
      if (ej > 0 && ij > 0) f.counter_vs_integral_pct.push_back(100 * std::abs(ij - ej) / ej);
      const double idle = d.value("idle_power_w", -1.0);
      if (ej > 0 && idle > 0) f.idle_share_pct.push_back(100 * idle * w.value("duration_s", 0.0) / ej);
    }
  } catch (const json::exception&) {
    return WindowFacts{};  // a damaged record contributes nothing rather than stopping the report
  }
  return f;
}

// A phase's per-epoch seconds; empty when not recorded (before schema 6) or damaged, which, as for
// window_facts, contributes nothing rather than stopping the report.
std::vector<double> epoch_times(const std::string& text) {
  if (text.empty()) return {};
  try {
    return json::parse(text).get<std::vector<double>>();
  } catch (const json::exception&) {
    return {};
  }
}

// The validity flags of a phase, stored "; "-separated.
std::vector<std::string> split_flags(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : split(text, ';')) {
    if (auto f = trim(part); !f.empty()) out.push_back(f);
  }
  return out;
}

// log10 of a positive quantity; NaN (left out of fits) otherwise.
double log10_or_nan(double v) { return v > 0 ? std::log10(v) : NAN; }

bool real_flag(const std::string& f) { return f.find("estimated") == std::string::npos && !f.empty(); }

// The accounting of a stored run, from its spec and input shape as it ran (none: a spec this version
// cannot parse).
std::optional<compute::ModelCount> accounting_of(const store::RunPhaseRow& r) {
  try {
    int mels = 128, frames = r.frames > 0 ? r.frames : 64;
    if (!r.spec_json.empty()) {
      const auto j = json::parse(r.spec_json);
      mels = j.value("mels", mels);
      frames = j.value("frames", frames);
    }
    return compute::count(models::parse_spec(r.config), models::InputShape{std::max(1, r.batch), mels, frames});
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// FLOPs per epoch by kind of work: the accounting's split of a step, scaled to the FLOPs per epoch the run
// recorded.
std::optional<compute::WorkSplit> work_per_epoch(const store::RunPhaseRow& r, const std::optional<compute::ModelCount>& c) {
  if (!c) return std::nullopt;
  const bool train = r.phase.phase == "train";
  const double step = train ? c->train_step_flops() : c->test_step_flops();
  if (!(step > 0)) return std::nullopt;
  compute::WorkSplit w = compute::work_split(*c, train);
  const double scale = r.flops_per_epoch / step;
  for (double* v : {&w.matrix, &w.single_channel_conv, &w.conv, &w.serial_recurrent, &w.cublas_matrix}) *v *= scale;
  return w;
}

// Traffic per epoch: the run's recorded DRAM traffic per step x steps (from the FLOP totals). Runs stored
// before schema 4 recorded none: the accounting gives it from their spec, as it did when they ran (NaN
// where this version cannot count the spec).
double traffic_per_epoch(const store::RunPhaseRow& r, const std::optional<compute::ModelCount>& c) {
  double per_step = r.traffic_bytes_per_step;
  if (per_step < 0 && c) {
    const auto t = compute::dram_traffic(*c);
    per_step = r.phase.phase == "train" ? t.train_step_bytes : t.test_step_bytes;
  }
  if (per_step < 0) return NAN;
  return r.flops_per_step > 0 ? per_step * (r.flops_per_epoch / r.flops_per_step) : 0.0;
}

struct Xvar {
  std::string name;
  double (*get)(const Point&);
  bool positive;  // may go on a log axis
};

const std::vector<Xvar>& xvars() {
  static const std::vector<Xvar> v = {
      {"FLOPs per epoch", [](const Point& p) { return p.flops; }, true},
      {"parameters", [](const Point& p) { return p.params; }, true},
      {"DRAM traffic per epoch (estimated)", [](const Point& p) { return p.traffic_bytes; }, true},
      {"GPU utilization %", [](const Point& p) { return p.gpu_util; }, false},
      {"GPU memory utilization %", [](const Point& p) { return p.mem_util; }, false},
      {"SM activity % (GPM)", [](const Point& p) { return p.sm_util; }, false},
      {"DRAM bandwidth % (GPM)", [](const Point& p) { return p.dram_bw; }, false},
  };
  return v;
}

bool spans_decades(const std::vector<double>& v) {
  double lo = INFINITY, hi = 0;
  for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x);
  return lo > 0 && hi / lo >= 10;
}

// The study's four families (models owns the list).
const std::vector<std::string> kFamilies = models::study_family_names();

struct Acc {
  Point p;
  std::vector<double> e, d, w, gu, mu, sm, bw, map, map_chance;
  std::vector<const store::RunPhaseRow*> rows;  // the repetitions themselves
};

// The points of one phase (and family; "" for all).
std::vector<const Point*> select(const Analysis& a, const std::string& phase, const std::string& family) {
  std::vector<const Point*> out;
  for (const auto& p : a.points) {
    if (p.phase == phase && (family.empty() || p.family == family)) out.push_back(&p);
  }
  return out;
}

std::vector<std::string> phases_of(const Analysis& a) {
  std::vector<std::string> phases;
  for (const auto& p : a.points) {
    if (std::find(phases.begin(), phases.end(), p.phase) == phases.end()) phases.push_back(p.phase);
  }
  return phases;
}

// log10 FLOPs and log10 energy (as the analysis chose it: gross, net or estimated) of the points where both
// are positive.
void loglog(const std::vector<const Point*>& pts, std::vector<double>& lx, std::vector<double>& ly) {
  for (const Point* p : pts) {
    if (!(p->flops > 0 && p->energy_j > 0)) continue;
    lx.push_back(std::log10(p->flops));
    ly.push_back(std::log10(p->energy_j));
  }
}

// The log-log slope over the points `idx` (a bootstrap resample).
double slope_of(const std::vector<double>& lx, const std::vector<double>& ly, const std::vector<int>& idx) {
  std::vector<std::vector<double>> X;
  std::vector<double> y;
  for (int i : idx) X.push_back({lx[i]}), y.push_back(ly[i]);
  auto f = least_squares(X, y);
  return f.ok ? f.coef[1] : NAN;
}

// A row's value in the column named `column` (findings read tables by name, never by position).
const json& at(const Table& t, const std::vector<json>& row, const std::string& column) {
  const auto it = std::find(t.columns.begin(), t.columns.end(), column);
  if (it == t.columns.end()) throw Error("internal: table " + t.id + " has no column " + column);
  return row[static_cast<std::size_t>(it - t.columns.begin())];
}

std::string cell_text(const Table& t, const std::vector<json>& row, const std::string& column) {
  const json& j = at(t, row, column);
  return j.is_string() ? j.get<std::string>() : j.dump();
}

// How many distinct values a table's column holds (names carry a column only when it varies).
std::size_t distinct(const Table& t, const std::string& column) {
  std::set<std::string> seen;
  for (const auto& row : t.rows) seen.insert(cell_text(t, row, column));
  return seen.size();
}

// ", <gpu>" when the table holds rows of several GPUs, so that a quantity's name says which one it is.
std::string gpu_of(const Table& t, const std::vector<json>& row) {
  const bool has = std::find(t.columns.begin(), t.columns.end(), "gpu") != t.columns.end();
  return has && distinct(t, "gpu") > 1 ? ", " + cell_text(t, row, "gpu") : "";
}

const Table* table(const Analysis& a, const std::string& id) {
  for (const auto& t : a.tables) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

// The finding that links GPU utilization to energy, from the correlations table.
void add_utilization_finding(Analysis& a) {
  const Table* t = table(a, "correlations");
  if (!t) return;
  for (const auto& row : t->rows) {
    if (at(*t, row, "variable") != "GPU utilization %" || at(*t, row, "group") != "all" || at(*t, row, "spearman").is_null()) continue;
    const auto& lo = at(*t, row, "spearman_ci_lo");
    a.findings.push_back("GPU utilization and energy per epoch (" + at(*t, row, "phase").get<std::string>() + "): Spearman " +
                         fmt(at(*t, row, "spearman").get<double>(), "%.2f") +
                         (lo.is_null() ? "" : interval_text({lo.get<double>(), at(*t, row, "spearman_ci_hi").get<double>()})) +
                         " over " + std::to_string(at(*t, row, "n").get<int>()) + " configurations.");
  }
}

// The idle power `b` takes off a run's phase, W: 0 for none; NaN when the run has no such baseline. The
// session's is what its net energy took off (net = gross - idle x duration, so it is read back from both).
double baseline_watts(const store::RunPhaseRow& r, Baseline b) {
  const auto& ph = r.phase;
  switch (b) {
    case Baseline::none: return 0;
    case Baseline::session:
      return ph.net_gpu_energy_j >= 0 && ph.gpu_energy_j > 0 && ph.duration_s > 0
                 ? (ph.gpu_energy_j - ph.net_gpu_energy_j) / ph.duration_s
                 : NAN;
    case Baseline::no_context: return r.hardware.idle_no_context_w > 0 ? r.hardware.idle_no_context_w : NAN;
  }
  return NAN;
}

// GPU energy above the baseline over `seconds` (never below zero, as the meter's net energy).
double above_baseline(double gross_j, double watts, double seconds) { return std::max(0.0, gross_j - watts * seconds); }

// What the analysis reads as energy: GPU energy above a baseline, or all domains (estimated) when some run
// has no GPU counter.
struct EnergyUse {
  bool gpu = false;
  Baseline baseline = Baseline::none;
  double of(const store::RunPhaseRow& r) const {
    return gpu ? above_baseline(r.phase.gpu_energy_j, baseline_watts(r, baseline), r.phase.duration_s) : r.phase.energy_j;
  }
};

// Which energy the analysis uses, chosen from what every run has; counts the runs on the way.
EnergyUse choose_energy(const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options, Analysis& a) {
  std::set<std::int64_t> runs_seen;
  bool all_gpu = true, any_ok = false, all_baseline = true;
  for (const auto& r : rows) {
    if (r.status == "interrupted") continue;  // cut short by a stop request and redone: not a result
    if (runs_seen.insert(r.run_id).second) {
      ++a.runs;
      (r.status == "ok" ? a.runs_ok : a.runs_failed)++;
    }
    if (r.status == "ok" && !r.phase.phase.empty()) {
      any_ok = true;
      all_gpu &= !r.phase.gpu_method.empty();
      all_baseline &= std::isfinite(baseline_watts(r, options.baseline));
    }
  }
  EnergyUse use{any_ok && all_gpu, Baseline::none};
  const BaselineChoice& asked = baseline_choice(options.baseline);
  if (options.baseline != Baseline::none) {
    const std::string what = std::string("--energy ") + asked.option + " (" + asked.name + ")";
    if (!use.gpu) a.cannot.push_back(what + ": some runs have no GPU energy counter; total energy shown");
    else if (!all_baseline) a.cannot.push_back(what + ": some runs have no such idle baseline (studies run with --idle 0, or before schema 9 for the idle without a CUDA context); gross energy shown");
    else use.baseline = options.baseline;
  }
  a.estimated = !use.gpu;
  a.baseline = use.baseline;
  a.energy_label = use.gpu ? baseline_choice(use.baseline).label
                           : "energy per epoch, all domains, J (ESTIMATED: no GPU sensor for some runs)";
  a.energy_label += "; a configuration's point: the median over its repetitions";
  a.energy_axis = !use.gpu ? "energy per epoch (J, ESTIMATED)"
                  : use.baseline == Baseline::none ? "GPU energy per epoch (J)" : "net GPU energy per epoch (J)";
  return use;
}

// What a run's device is called in points and tables: its GPU's name, or "cpu".
constexpr const char* kCpuDevice = "cpu";
std::string device_of(const store::RunPhaseRow& r) { return r.gpu_name.empty() ? kCpuDevice : r.gpu_name; }

// Repetitions of each variant and phase (per GPU and input length) gathered, then summarised into points.
std::map<std::string, Acc> aggregate(const std::vector<store::RunPhaseRow>& rows, const std::vector<WindowFacts>& facts,
                                     const EnergyUse& use, Analysis& a) {
  std::map<std::string, Acc> acc;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (r.status != "ok" || r.phase.phase.empty()) continue;
    const std::string key = r.gpu_name + "|" + r.variant + "|" + std::to_string(r.frames) + "|" + r.phase.phase;
    auto& g = acc[key];
    g.rows.push_back(&r);
    if (g.e.empty()) {
      g.p.config = r.config;
      g.p.variant = r.variant;
      g.p.family = r.family;
      g.p.phase = r.phase.phase;
      g.p.gpu = device_of(r);
      g.p.frames = r.frames;
      g.p.fraction = r.fraction;
      g.p.epochs_per_unit = r.epochs_per_unit;
      g.p.clips = r.clips;
      g.p.flops = r.flops_per_epoch;
      g.p.params = static_cast<double>(r.params);
      const auto counted = accounting_of(r);  // once per point: its FLOPs by kind, the traffic of old runs
      g.p.traffic_bytes = traffic_per_epoch(r, counted);
      g.p.work = work_per_epoch(r, counted);
      g.p.impl = r.impl;
      g.p.steps = r.flops_per_step > 0 ? r.flops_per_epoch / r.flops_per_step : 0;
      g.p.hardware = r.hardware;
    }
    if (r.kernels_per_step >= 0) g.p.kernels_per_step = r.kernels_per_step;
    g.e.push_back(use.of(r));
    g.d.push_back(r.phase.duration_s);
    g.w.push_back(r.phase.gpu_power_w > 0 ? r.phase.gpu_power_w
                                          : (r.phase.duration_s > 0 ? r.phase.energy_j / r.phase.duration_s : NAN));
    if (r.phase.gpu_util_pct >= 0) g.gu.push_back(r.phase.gpu_util_pct);
    if (r.phase.mem_util_pct >= 0) g.mu.push_back(r.phase.mem_util_pct);
    if (facts[i].sm_util >= 0) g.sm.push_back(facts[i].sm_util);
    if (facts[i].dram_bw >= 0) g.bw.push_back(facts[i].dram_bw);
    if (r.metrics.map >= 0) g.map.push_back(r.metrics.map);
    if (r.metrics.map_chance >= 0) g.map_chance.push_back(r.metrics.map_chance);
    for (const auto& f : split_flags(r.phase.flags)) g.p.flagged |= real_flag(f);
  }
  for (auto& [k, g] : acc) {
    auto s = summarize(g.e);
    g.p.n = s.n;
    // Medians over repetitions: a host-stalled repetition (shown in the stalls table) cannot pull them.
    g.p.energy_j = s.median;
    g.p.energy_sd = std::isfinite(s.sd) ? s.sd : 0;
    g.p.energy_lo = s.median_ci.lo;
    g.p.energy_hi = s.median_ci.hi;
    g.p.energy_coverage = s.median_coverage;
    g.p.duration_s = median(g.d);
    g.p.power_w = median(g.w);
    if (!g.gu.empty()) g.p.gpu_util = summarize(g.gu).mean;
    if (!g.mu.empty()) g.p.mem_util = summarize(g.mu).mean;
    if (!g.sm.empty()) g.p.sm_util = summarize(g.sm).mean;
    if (!g.bw.empty()) g.p.dram_bw = summarize(g.bw).mean;
    if (!g.map.empty()) g.p.map = summarize(g.map).mean;
    if (!g.map_chance.empty()) g.p.map_chance = summarize(g.map_chance).mean;
    if (g.p.energy_j > 0 && std::isfinite(g.p.energy_j)) a.points.push_back(g.p);
  }
  return acc;
}

// The implementation the model questions read and the software choices are measured against, when runs
// used several: pytorch-default (a PyTorch user's plain loop), else sedenergy's default, else the one with
// most points. The others move to other_impl_points.
void split_implementations(Analysis& a) {
  std::map<std::string, int> count;
  for (const auto& p : a.points) ++count[p.impl];
  if (count.empty()) return;
  std::string ref = std::max_element(count.begin(), count.end(), [](const auto& x, const auto& y) {
                      return x.second < y.second;
                    })->first;
  for (const char* preferred : {models::kDefaultImplementation, models::kPytorchDefaultImplementation}) {
    if (count.count(preferred)) ref = preferred;  // the last one present wins
  }
  a.reference_impl = ref;
  if (count.size() == 1) return;
  std::vector<Point> kept;
  for (auto& p : a.points) (p.impl == ref ? kept : a.other_impl_points).push_back(std::move(p));
  a.points = std::move(kept);
  a.findings.push_back("Runs used " + std::to_string(count.size()) + " implementations; the findings on models read the " +
                       std::to_string(count[ref]) + " points of '" + ref + "', the software-choice finding reads all.");
}

// A point's variant with every knob but the implementation: what its implementations are compared within.
std::string without_impl(const Point& p) { return models::variant_name(p.config, p.fraction, p.epochs_per_unit); }

// The points one configuration gives under each implementation share this: GPU, variant, input and phase.
std::string comparison_key(const Point& p) {
  return p.gpu + "|" + without_impl(p) + "|" + std::to_string(p.frames) + "|" + p.phase;
}

void add_runs_summary(Analysis& a, const std::map<std::string, Acc>& acc) {
  Table t{"runs_summary", "Energy per epoch over repetitions", "mean, median, standard deviation and 95 % t interval of the mean over repetitions; " + a.energy_label, {"config", "variant", "family", "phase", "gpu", "repetitions", "energy_mean_j", "energy_median_j", "energy_sd_j", "energy_ci95_lo_j", "energy_ci95_hi_j", "duration_s", "mean_power_w", "gpu_util_pct", "flops_per_epoch", "params", "map"}, {}};
  for (const auto& [k, g] : acc) {
    const auto& p = g.p;
    auto s = summarize(g.e);
    t.rows.push_back({p.config, p.variant, p.family, p.phase, p.gpu, s.n, num(s.mean), num(s.median), num(s.sd),
                      num(s.ci95.lo), num(s.ci95.hi), num(p.duration_s), num(p.power_w),
                      num(p.gpu_util >= 0 ? p.gpu_util : NAN), num(p.flops), num(p.params), num(p.map >= 0 ? p.map : NAN)});
  }
  a.tables.push_back(t);
}

void add_correlations(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"correlations", "Energy per epoch against each variable",
          "Pearson on log10 of both variables when both span a decade or more (column log), Spearman on ranks; "
          "95 % intervals from 1000 seeded bootstrap resamples of the configurations",
          {"variable", "phase", "group", "n", "log", "pearson", "pearson_ci_lo", "pearson_ci_hi", "spearman",
           "spearman_ci_lo", "spearman_ci_hi", "note"},
          {}};
  for (const auto& phase : phases) {
    std::vector<std::string> groups = {"all"};
    groups.insert(groups.end(), kFamilies.begin(), kFamilies.end());
    for (const std::string& group : groups) {
      auto pts = select(a, phase, group == "all" ? "" : group);
      for (const auto& xv : xvars()) {
        std::vector<double> x, y;
        for (const Point* p : pts) {
          const double v = xv.get(*p);
          if (std::isfinite(v) && (xv.positive ? v > 0 : v >= 0)) x.push_back(v), y.push_back(p->energy_j);
        }
        if (pts.empty()) continue;
        const int n = static_cast<int>(x.size());
        if (n < 3) {
          if (n > 0 || !xv.positive) {
            t.rows.push_back({xv.name, phase, group, n, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                              n == 0 ? "not recorded for these runs" : "fewer than 3 configurations"});
          }
          continue;
        }
        const bool lg = xv.positive && spans_decades(x) && spans_decades(y);
        std::vector<double> xs = x, ys = y;
        if (lg) {
          for (auto& v : xs) v = std::log10(v);
          for (auto& v : ys) v = std::log10(v);
        }
        auto sub = [&](const std::vector<int>& idx, bool rank) {
          std::vector<double> a1, b1;
          for (int i : idx) a1.push_back(xs[i]), b1.push_back(ys[i]);
          return rank ? spearman(a1, b1) : pearson(a1, b1);
        };
        const double pr = pearson(xs, ys), sp = spearman(x, y);
        auto pci = bootstrap_ci(n, [&](const std::vector<int>& i) { return sub(i, false); });
        auto sci = bootstrap_ci(n, [&](const std::vector<int>& i) { return sub(i, true); });
        std::string note = std::isfinite(pr) ? "" : "the variable is constant over these configurations";
        if (n < 6 && note.empty()) note = "few configurations: wide interval";
        t.rows.push_back({xv.name, phase, group, n, lg, num(pr), num(pci.lo), num(pci.hi), num(sp), num(sci.lo),
                          num(sci.hi), note});
      }
    }
  }
  a.tables.push_back(t);
}

void add_slopes(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"slopes", "Log-log slope of energy per epoch against FLOPs per epoch",
          "least squares on log10 values; 95 % bootstrap interval of the slope; slope 1 means energy proportional to "
          "FLOPs",
          {"family", "phase", "frames", "n", "slope", "slope_ci_lo", "slope_ci_hi", "intercept_log10_j", "r2", "note"},
          {}};
  std::set<int> frame_set;
  std::vector<std::string> by_frames;  // input length comparison (the fullinput configuration)
  for (const auto& p : a.points) frame_set.insert(p.frames);
  for (const auto& phase : phases) {
    for (int frames : frame_set) {
      for (const auto& fam : kFamilies) {
        std::vector<const Point*> pts;
        for (const Point* p : select(a, phase, fam)) {
          if (p->frames == frames) pts.push_back(p);
        }
        if (pts.empty()) continue;
        std::vector<double> lx, ly;
        loglog(pts, lx, ly);
        std::vector<std::vector<double>> X;
        for (double v : lx) X.push_back({v});
        auto f = least_squares(X, ly);
        if (!f.ok) {
          t.rows.push_back({fam, phase, frames, static_cast<int>(lx.size()), nullptr, nullptr, nullptr, nullptr, nullptr,
                            lx.size() < 3 ? "fewer than 3 configurations" : "FLOPs do not vary"});
          continue;
        }
        auto ci = bootstrap_ci(static_cast<int>(lx.size()), [&](const std::vector<int>& i) { return slope_of(lx, ly, i); });
        t.rows.push_back({fam, phase, frames, f.n, num(f.coef[1]), num(ci.lo), num(ci.hi), num(f.coef[0]), num(f.r2), ""});
        if (frame_set.size() > 1 && phase == "train") by_frames.push_back(fam + " " + fmt(f.coef[1], "%.2f") + interval_text(ci) + " at " +
                                                                 std::to_string(frames) + " frames");
      }
    }
  }
  if (!by_frames.empty()) {
    a.findings.push_back("Input length (training, log-log slope of energy on FLOPs per family): " +
                         join(by_frames, "; ") + ". Overlapping intervals mean the trend survives the longer input.");
  }
  a.tables.push_back(t);
}

// The two trends' groups of one phase, MLP/RNN (a) and CNN/CRNN (b): log10 FLOPs and log10 energy of the
// points where both are positive.
struct TrendData {
  std::vector<double> ax, ay, bx, by;
};
TrendData trend_data(const Analysis& a, const std::string& phase) {
  TrendData d;
  for (const char* family : {"MLP", "RNN"}) loglog(select(a, phase, family), d.ax, d.ay);
  for (const char* family : {"CNN", "CRNN"}) loglog(select(a, phase, family), d.bx, d.by);
  return d;
}

// MLP/RNN against CNN/CRNN: one log-log line each, fitted on the rows ia of (ax, ay) and ib of (bx, by).
struct TrendFits {
  LinearFit a, b;
  bool ok() const { return a.ok && b.ok; }
  // Energy of MLP/RNN over that of CNN/CRNN at log10 FLOPs x.
  double ratio_at(double x) const { return ok() ? std::pow(10.0, a.predict({x}) - b.predict({x})) : NAN; }
};
TrendFits fit_trends(const std::vector<double>& ax, const std::vector<double>& ay, const std::vector<double>& bx,
                     const std::vector<double>& by, const std::vector<int>& ia, const std::vector<int>& ib) {
  std::vector<std::vector<double>> XA, XB;
  std::vector<double> YA, YB;
  for (int i : ia) XA.push_back({ax[i]}), YA.push_back(ay[i]);
  for (int i : ib) XB.push_back({bx[i]}), YB.push_back(by[i]);
  return {least_squares(XA, YA), least_squares(XB, YB)};
}
std::vector<int> all_rows(std::size_t n) {
  std::vector<int> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = static_cast<int>(i);
  return idx;
}

// Where the two trends are read: the low end, the (geometric) middle and the high end of the FLOPs range both
// groups cover (log10 FLOPs); empty when they share none.
std::vector<double> shared_range(const TrendData& d) {
  const double lo = std::max(*std::min_element(d.ax.begin(), d.ax.end()), *std::min_element(d.bx.begin(), d.bx.end()));
  const double hi = std::min(*std::max_element(d.ax.begin(), d.ax.end()), *std::max_element(d.bx.begin(), d.bx.end()));
  if (!(lo < hi)) return {};
  return {lo, (lo + hi) / 2, hi};
}

// The two-trends finding of one phase, read across the shared FLOPs range.
std::string two_trends_finding(const std::string& phase, const std::vector<double>& xs, const std::vector<double>& r,
                               const std::vector<Interval>& ci, double sa, double sb) {
  int above = 0, below = 0;
  std::vector<std::string> at;
  const char* where[] = {" FLOPs (the low end of the range both groups cover)", " (middle)", " (high end)"};
  for (int k = 0; k < 3; ++k) {
    above += ci[k].lo > 1, below += ci[k].hi < 1;
    at.push_back(fmt(r[k]) + "x" + interval_text(ci[k], "%.3g") + " at " + fmt(std::pow(10.0, xs[k])) + where[k]);
  }
  const std::string verdict = above == 3 || below == 3
                                  ? ": MLP/RNN lie " + std::string(above == 3 ? "above" : "below") +
                                        " CNN/CRNN across the shared range, two distinct trends."
                              : above + below == 0 ? ": every interval includes 1, so the data do not separate the two trends."
                                                   : ": the ratio changes side across the range, so it does not hold as one number.";
  return "Two trends (" + phase + "): at equal FLOPs per epoch, MLP/RNN use the energy of CNN/CRNN times " +
         at[0] + ", " + at[1] + " and " + at[2] + verdict + " Log-log slopes " + fmt(sa, "%.2f") + " (MLP/RNN) and " +
         fmt(sb, "%.2f") + " (CNN/CRNN).";
}

void add_two_trends(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"two_trends", "The two trends: MLP/RNN against CNN/CRNN",
          "each group fitted in log-log; the energy ratio MLP/RNN over CNN/CRNN at the low end, middle (geometric) and "
          "high end of the FLOPs range both groups cover, and the slope difference, with 95 % bootstrap intervals (each "
          "group resampled separately); " + a.energy_label,
          {"phase", "n_mlp_rnn", "n_cnn_crnn", "slope_mlp_rnn", "slope_cnn_crnn", "slope_difference", "slope_diff_ci_lo",
           "slope_diff_ci_hi", "flops_low", "ratio_low", "ratio_low_ci_lo", "ratio_low_ci_hi", "flops_mid", "ratio_mid",
           "ratio_mid_ci_lo", "ratio_mid_ci_hi", "flops_high", "ratio_high", "ratio_high_ci_lo", "ratio_high_ci_hi"},
          {}};
  for (const auto& phase : phases) {
    const TrendData d = trend_data(a, phase);
    if (d.ax.size() < 3 || d.bx.size() < 3) {
      a.cannot.push_back("two trends (" + phase + "): needs at least 3 configurations in MLP+RNN and in CNN+CRNN (have " +
                         std::to_string(d.ax.size()) + " and " + std::to_string(d.bx.size()) + ")");
      continue;
    }
    const auto xs = shared_range(d);
    if (xs.empty()) {
      a.cannot.push_back("two trends (" + phase + "): MLP/RNN and CNN/CRNN share no FLOPs range");
      continue;
    }
    // The slope difference and the ratio at each position, on all points and on resamples of each group.
    auto stats = [&](const std::vector<int>& ia, const std::vector<int>& ib) {
      const TrendFits f = fit_trends(d.ax, d.ay, d.bx, d.by, ia, ib);
      if (!f.ok()) return std::vector<double>(4, NAN);
      return std::vector<double>{f.a.coef[1] - f.b.coef[1], f.ratio_at(xs[0]), f.ratio_at(xs[1]), f.ratio_at(xs[2])};
    };
    const int na = static_cast<int>(d.ax.size()), nb = static_cast<int>(d.bx.size());
    const TrendFits fits = fit_trends(d.ax, d.ay, d.bx, d.by, all_rows(d.ax.size()), all_rows(d.bx.size()));
    const auto v = stats(all_rows(d.ax.size()), all_rows(d.bx.size()));
    const auto ci = bootstrap_two_samples(na, nb, 4, stats);
    const double sa = fits.a.ok ? fits.a.coef[1] : NAN, sb = fits.b.ok ? fits.b.coef[1] : NAN;
    std::vector<json> row = {phase, na, nb, num(sa), num(sb), num(v[0]), num(ci[0].lo), num(ci[0].hi)};
    for (int k = 0; k < 3; ++k) {
      row.insert(row.end(), {num(std::pow(10.0, xs[k])), num(v[k + 1]), num(ci[k + 1].lo), num(ci[k + 1].hi)});
    }
    t.rows.push_back(row);
    if (fits.ok()) a.findings.push_back(two_trends_finding(phase, xs, {v[1], v[2], v[3]}, {ci[1], ci[2], ci[3]}, sa, sb));
  }
  a.tables.push_back(t);
}

// Energy per FLOP, ranked per phase: which configurations are dear for the work they do (computed, so that
// no sentence about it is written by hand).
void add_per_flop_ranking(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"per_flop", "Energy per FLOP, ranked",
          "energy per epoch over FLOPs per epoch, in nJ per FLOP, ranked from the dearest (1) within each phase; " +
              a.energy_label,
          {"phase", "rank", "config", "family", "nj_per_flop", "energy_j", "flops_per_epoch", "mean_power_w"},
          {}};
  for (const auto& phase : phases) {
    std::vector<const Point*> pts;
    for (const Point* p : select(a, phase, "")) {
      if (p->flops > 0) pts.push_back(p);
    }
    if (pts.size() < 2) continue;
    auto per_flop = [](const Point* p) { return p->energy_j / p->flops; };
    std::sort(pts.begin(), pts.end(), [&](const Point* x, const Point* y) { return per_flop(x) > per_flop(y); });
    for (std::size_t i = 0; i < pts.size(); ++i) {
      t.rows.push_back({phase, static_cast<int>(i + 1), pts[i]->variant, pts[i]->family, num(1e9 * per_flop(pts[i])),
                        num(pts[i]->energy_j), num(pts[i]->flops), num(pts[i]->power_w)});
    }
    const std::size_t k = std::min<std::size_t>(3, pts.size() / 2);
    auto names = [&](bool dearest) {
      std::vector<std::string> v;
      for (std::size_t i = 0; i < k; ++i) {
        const Point* p = pts[dearest ? i : pts.size() - 1 - i];
        v.push_back(p->variant + " (" + fmt(1e9 * per_flop(p)) + ")");
      }
      return join(v, ", ");
    };
    a.findings.push_back("Energy per FLOP (" + phase + ", nJ per FLOP): dearest " + names(true) + "; cheapest " +
                         names(false) + " (all " + std::to_string(pts.size()) + " ranked in the per_flop table).");
  }
  if (!t.rows.empty()) a.tables.push_back(t);
}

// Host stalls: repetitions whose time per epoch exceeds their configuration's median by the stall factor,
// shown with what the record says of the host then (other processes' CPU load, the study's own CPU time)
// and the slowest epoch inside the window; none is dropped, the runs summary gives the median beside the mean.
void add_stalls(Analysis& a, const std::map<std::string, Acc>& acc, double factor) {
  Table t{"stalls", "Host stalls: repetitions slower than their configuration's median",
          "time per epoch over the median of the configuration's repetitions (flagged above " + fmt(factor) +
              "x); the slowest epoch inside the window over that window's median epoch; the CPU load of other "
              "processes on the host and the study's own CPU seconds in the window (measured, schema 6 and later); "
              "the runner's re-run of it (schema 7: --stall-retries), which counts as one more repetition",
          {"config", "phase", "repetition", "run_id", "time_per_epoch_s", "median_s", "factor", "energy_excess_pct",
           "slowest_epoch_factor", "other_cpu_load", "own_cpu_s", "re_run"},
          {}};
  int reps = 0;
  std::vector<double> excess;
  for (const auto& [key, g] : acc) {
    std::vector<const store::RunPhaseRow*> group;
    for (const auto* r : g.rows) {
      if (r->phase.duration_s > 0) group.push_back(r);
    }
    if (group.size() < 2) continue;
    reps += static_cast<int>(group.size());
    // Judged against the planned repetitions' median, as the runner judges them (re-runs never move it).
    std::vector<double> times, energies;
    std::vector<bool> planned;
    for (const auto* r : group) {
      times.push_back(r->phase.duration_s), energies.push_back(r->phase.gpu_energy_j), planned.push_back(r->retry_of == 0);
    }
    const auto ratio = over_median(times, planned), energy_ratio = over_median(energies, planned);
    const double median = reference_median(times, planned);
    // The re-run of a flagged repetition, as the runner recorded it.
    auto re_run = [&](int repetition) -> json {
      for (const auto* o : group) {
        if (o->retry_of == repetition) {
          return "repetition " + std::to_string(o->repetition) + ": " + fmt(o->phase.duration_s / median, "%.2f") +
                 "x the median";
        }
      }
      return nullptr;
    };
    for (std::size_t i = 0; i < group.size(); ++i) {
      const auto* r = group[i];
      if (!(ratio[i] > factor)) continue;
      double slowest = NAN;
      if (const auto laps = epoch_times(r->phase.epoch_times_json); !laps.empty()) {
        slowest = *std::max_element(laps.begin(), laps.end()) / summarize(laps).median;
      }
      const double over = 100 * (energy_ratio[i] - 1);
      if (std::isfinite(over)) excess.push_back(over);
      t.rows.push_back({r->variant, r->phase.phase, r->repetition, r->run_id, num(r->phase.duration_s), num(median),
                        num(ratio[i]), num(over), num(slowest),
                        num(r->phase.other_cpu_load >= 0 ? r->phase.other_cpu_load : NAN),
                        num(r->phase.own_cpu_s >= 0 ? r->phase.own_cpu_s : NAN), re_run(r->repetition)});
    }
  }
  if (reps == 0) return;
  a.tables.push_back(t);
  const auto re_runs = std::count_if(t.rows.begin(), t.rows.end(), [](const auto& row) { return !row.back().is_null(); });
  a.findings.push_back("Host stalls: " + std::to_string(t.rows.size()) + " of " + std::to_string(reps) +
                       " repetitions took more than " + fmt(factor) + "x their configuration's median time per epoch" +
                       (re_runs ? " (" + std::to_string(re_runs) + " of them measured again by the runner)" : "") +
                       (excess.empty() ? "." : ", with a median " + fmt(summarize(excess).median) +
                                                   " % more GPU energy than the configuration's median (stalls table; "
                                                   "none dropped: compare energy_median_j with energy_mean_j in the "
                                                   "runs summary)."));
}

void add_power_gap(Analysis& a) {
  Table t{"power_gap", "Average power in training against testing, per family",
          "per configuration: mean power of the training window minus that of the testing window; mean over "
          "configurations with a 95 % t interval",
          {"family", "n", "train_power_w", "test_power_w", "gap_w", "gap_ci_lo_w", "gap_ci_hi_w", "ratio", "note"},
          {}};
  for (const auto& fam : kFamilies) {
    std::map<std::string, std::pair<double, double>> by;
    for (const auto& p : a.points) {
      if (p.family != fam) continue;
      auto& e = by[p.gpu + "|" + p.variant + "|" + std::to_string(p.frames)];
      (p.phase == "train" ? e.first : e.second) = p.power_w;
    }
    std::vector<double> tr, te, gap;
    for (const auto& [k, v] : by) {
      if (v.first > 0 && v.second > 0) tr.push_back(v.first), te.push_back(v.second), gap.push_back(v.first - v.second);
    }
    if (by.empty()) continue;
    if (gap.empty()) {
      t.rows.push_back({fam, 0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, "no configuration with both phases"});
      continue;
    }
    auto g = summarize(gap);
    const double mtr = summarize(tr).mean, mte = summarize(te).mean;
    t.rows.push_back({fam, g.n, num(mtr), num(mte), num(g.mean), num(g.ci95.lo), num(g.ci95.hi), num(mtr / mte),
                      g.n < 2 ? "one configuration: no interval" : ""});
    a.findings.push_back(fam + ": training draws " + fmt(mtr, "%.0f") + " W on average, testing " + fmt(mte, "%.0f") +
                         " W (gap " + fmt(g.mean, "%.0f") + " W" + interval_text(g.ci95, "%.0f") + ", n = " +
                         std::to_string(g.n) + ").");
  }
  a.tables.push_back(t);
}

// Kernels per step count what one step launches, whatever GPU runs it: a point whose runs were not
// counted (sessions before schema 5) takes the count of the same variant, phase and input on another GPU,
// and says so.
void borrow_kernel_counts(Analysis& a) {
  for (auto& p : a.points) {
    if (p.kernels_per_step >= 0) continue;
    for (const auto& q : a.points) {
      if (q.kernels_per_step >= 0 && q.kernels_counted_on.empty() && q.variant == p.variant && q.phase == p.phase &&
          q.frames == p.frames && q.impl == p.impl) {
        p.kernels_per_step = q.kernels_per_step;
        p.kernels_counted_on = q.gpu;
        break;
      }
    }
  }
}

// FLOPs per epoch of the matrix products a point ran in IEEE float32: cuBLAS's at PyTorch's float32
// defaults (precision fp32), none at tf32. NaN on a CPU, at ieee or bf16 (no measured cost prices those),
// or where the FLOPs by kind are not known.
double ieee_matrix_flops(const Point& p) {
  if (!p.work || p.gpu == kCpuDevice) return NAN;
  try {
    const auto precision = models::parse_implementation(p.impl, "auto", "impl").precision;
    if (precision == models::Precision::fp32) return p.work->cublas_matrix;
    if (precision == models::Precision::tf32) return 0;
  } catch (const std::exception&) {  // an implementation this version cannot read
  }
  return NAN;
}

// The GPUs built on one compute die (docs/FACTS.md §6.5): what a precision costs, measured on one, holds
// for the others. Any other GPU is its own.
std::string compute_die(const std::string& gpu) {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> dies = {
      {"GH100", {"H100", "H200", "GH200"}}};
  for (const auto& [die, names] : dies) {
    for (const auto& n : names) {
      if (gpu.find(n) != std::string::npos) return die;
    }
  }
  return gpu;
}

// Two points of one configuration (one comparison_key) whose implementations differ in the precision only:
// fp32 against tf32.
bool precision_pair(const Point& fp32, const Point& tf32) {
  if (!(ieee_matrix_flops(fp32) > 0) || ieee_matrix_flops(tf32) != 0) return false;
  auto a = models::parse_implementation(fp32.impl, "auto", "impl").resolved(true);
  auto b = models::parse_implementation(tf32.impl, "auto", "impl").resolved(true);
  a.precision = b.precision;
  return a.spelled() == b.spelled();
}

// Per phase and compute die, the energy an IEEE float32 matrix FLOP costs beyond a TF32 one, measured where a
// configuration ran at both precisions: the difference of its energies over its IEEE FLOPs. Of several, the
// one with the most IEEE FLOPs (the least noise per FLOP). Every point on that die gets it, with its source.
void measure_ieee_extra(Analysis& a) {
  std::map<std::string, std::vector<const Point*>> by;  // comparison_key -> the configuration's implementations
  for (const auto* list : {&a.points, &a.other_impl_points}) {
    for (const auto& p : *list) by[comparison_key(p)].push_back(&p);
  }
  std::map<std::pair<std::string, std::string>, std::pair<const Point*, const Point*>> best;  // (phase, die)
  for (const auto& [key, impls] : by) {
    for (const Point* f : impls) {
      for (const Point* t : impls) {
        if (!precision_pair(*f, *t)) continue;
        auto& b = best[{f->phase, compute_die(f->gpu)}];
        if (!b.first || ieee_matrix_flops(*f) > ieee_matrix_flops(*b.first)) b = {f, t};
      }
    }
  }
  for (auto* list : {&a.points, &a.other_impl_points}) {
    for (auto& p : *list) {
      const auto it = best.find({p.phase, compute_die(p.gpu)});
      if (it == best.end()) continue;
      const auto [f, t] = it->second;
      p.ieee_extra_j = (f->energy_j - t->energy_j) / ieee_matrix_flops(*f);
      p.ieee_extra_from = fmt(p.ieee_extra_j, "%.2g") + " J (" + without_impl(*f) + " on " + f->gpu + ": " + f->impl +
                          " against " + t->impl + ")";
    }
  }
}

// What a predictor needs before the model runs: its 'needs' column, and what the analysis reads from it
// (which predictors a run-free choice may pick, which say the kernel counts were borrowed).
constexpr const char* kNeedsCounts = "counts";
constexpr const char* kNeedsKernels = "counts and kernels per step";
constexpr const char* kNeedsProbes = "counts, kernels per step and the session's hardware probes";
constexpr const char* kNeedsPrecisionCost = "counts, kernels per step and one configuration run at both precisions";
constexpr const char* kNeedsARun = "a run of the model";

// A predictor of energy per epoch: its features, what it needs, and how it is fitted.
struct Predictor {
  std::string name;
  std::string needs;  // what must be known before the model runs (or "a run of the model")
  bool relative;      // least squares on joules weighted by 1 / energy^2 (relative errors); else on log10 energy
  std::vector<double> (*features)(const Point&);
  // A term whose cost in joules is known, not fitted: taken off the energy before the fit and added to the
  // predictions (relative predictors only). nullptr: none. NaN: the point cannot be predicted.
  double (*known_j)(const Point&) = nullptr;
};

double launches(const Point& p) { return p.kernels_per_step > 0 && p.steps > 0 ? p.kernels_per_step * p.steps : NAN; }

// The time an epoch would take from the session's measured rates: every kernel launched from the host at
// the probed launch cost, plus the FLOPs at the probed matmul rate and the traffic at the probed copy rate.
double estimated_time_s(const Point& p) {
  if (!p.hardware.measured()) return NAN;
  return launches(p) * p.hardware.launch_s + p.flops / p.hardware.matmul_flops_s + p.traffic_bytes / p.hardware.copy_bytes_s;
}

// Kernel launches and FLOPs by kind of work.
std::vector<double> kinds_of_work(const Point& p) {
  if (!p.work) return {NAN};
  return {launches(p), p.work->matrix, p.work->single_channel_conv, p.work->conv, p.work->serial_recurrent};
}

const std::vector<Predictor>& predictors() {
  static const std::vector<Predictor> list = {
      {"FLOPs", kNeedsCounts, false, [](const Point& p) { return std::vector<double>{log10_or_nan(p.flops)}; }},
      {"parameters", kNeedsCounts, false, [](const Point& p) { return std::vector<double>{log10_or_nan(p.params)}; }},
      {"memory traffic", kNeedsCounts, false, [](const Point& p) { return std::vector<double>{log10_or_nan(p.traffic_bytes)}; }},
      {"FLOPs + parameters", kNeedsCounts, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(p.flops), log10_or_nan(p.params)}; }},
      {"FLOPs + parameters + memory traffic", kNeedsCounts, false,
       [](const Point& p) {
         return std::vector<double>{log10_or_nan(p.flops), log10_or_nan(p.params), log10_or_nan(p.traffic_bytes)};
       }},
      // E = c + a x launches + b x FLOPs + d x bytes: the idle power over the launch-bound time, and the
      // energy of the arithmetic and of the memory traffic, each linear, fitted per GPU.
      {"kernel launches + FLOPs + memory traffic (linear)", kNeedsKernels, true,
       [](const Point& p) { return std::vector<double>{launches(p), p.flops, p.traffic_bytes}; }},
      // The same with FLOPs by kind of work, each at its own cost: a one-channel convolution's FLOP takes
      // ~100x the time of a wide one's, a recurrent step waits for the one before (docs/FACTS.md §6.4).
      {"kernel launches + FLOPs by kind of layer (linear)", kNeedsKernels, true, kinds_of_work},
      // The same, with what each IEEE float32 product costs beyond a TF32 one as measured on this GPU's die:
      // at PyTorch's float32 defaults an MLP's products run in IEEE float32, an RNN's on TF32.
      {"kernel launches + FLOPs by kind of layer + the measured cost of IEEE float32 (linear)", kNeedsPrecisionCost, true,
       kinds_of_work, [](const Point& p) { return ieee_matrix_flops(p) * p.ieee_extra_j; }},
      {"estimated time from measured rates", kNeedsProbes, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(estimated_time_s(p))}; }},
      {"FLOPs + GPU utilization", kNeedsARun, false,
       [](const Point& p) { return std::vector<double>{log10_or_nan(p.flops), p.gpu_util >= 0 ? p.gpu_util : NAN}; }},
  };
  return list;
}

// One predictor's view of a GPU's points: the rows it can use (every feature finite), what it fits (log10
// energy, or joules weighted by 1 / energy^2) and each row's family (an index into kFamilies).
struct Design {
  std::vector<std::vector<double>> X;
  std::vector<double> y, w, e;  // fitted target, weight, energy in joules
  std::vector<double> known;    // the predictor's known term in joules (0 without one)
  std::vector<int> fam;
  std::vector<const Point*> used;
  bool borrowed = false;  // kernel counts taken from another GPU's runs
  std::set<std::string> measured_from;  // where its IEEE float32 cost was measured (Point::ieee_extra_from)
};

Design design_of(const Predictor& pr, const std::vector<const Point*>& pts) {
  Design d;
  for (const Point* p : pts) {
    auto f = pr.features(*p);
    const double known = pr.known_j ? pr.known_j(*p) : 0;
    if (!std::all_of(f.begin(), f.end(), [](double v) { return std::isfinite(v); }) || !std::isfinite(known)) continue;
    d.X.push_back(f);
    d.e.push_back(p->energy_j);
    d.known.push_back(known);
    d.y.push_back(pr.relative ? p->energy_j - known : std::log10(p->energy_j));
    d.w.push_back(pr.relative ? 1 / (p->energy_j * p->energy_j) : 1.0);
    d.fam.push_back(static_cast<int>(std::find(kFamilies.begin(), kFamilies.end(), p->family) - kFamilies.begin()));
    d.used.push_back(p);
    d.borrowed |= !p->kernels_counted_on.empty() && pr.needs != kNeedsCounts;
    if (pr.needs == kNeedsPrecisionCost) d.measured_from.insert(p->ieee_extra_from);
  }
  return d;
}

// The rows of `d` of every family but `family`.
Design rows_without(const Design& d, int family) {
  Design out;
  out.borrowed = d.borrowed;
  for (std::size_t i = 0; i < d.X.size(); ++i) {
    if (d.fam[i] == family) continue;
    out.X.push_back(d.X[i]), out.y.push_back(d.y[i]), out.w.push_back(d.w[i]), out.e.push_back(d.e[i]);
    out.known.push_back(d.known[i]);
    out.fam.push_back(d.fam[i]), out.used.push_back(d.used[i]);
  }
  return out;
}

// Predictions of the fitted target for the rows of `d` back in joules, with the known term.
std::vector<double> in_joules(const Predictor& pr, const Design& d, std::vector<double> v) {
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = pr.relative ? v[i] + d.known[i] : std::pow(10.0, v[i]);
  return v;
}

// Each row predicted by a fit on the other families (leave one family out), in joules.
std::vector<double> held_out_families(const Predictor& pr, const Design& d) {
  return in_joules(pr, d, predict_held_out(d.X, d.y, d.fam, d.w));
}

// Enough rows to fit the predictor's features and validate it: three more than its coefficients.
bool enough_rows(const Design& d) { return d.X.size() >= (d.X.empty() ? 1 : d.X[0].size()) + 3; }

// Enough rows, from at least two families (leave one family out needs one to fit on).
bool fittable(const Design& d) {
  const std::set<int> fams(d.fam.begin(), d.fam.end());
  return fams.size() >= 2 && enough_rows(d);
}

// The median APE with its bootstrap interval.
std::pair<double, Interval> median_with_ci(const std::vector<double>& ape) {
  const auto ci = ape.size() >= 2 ? bootstrap_ci(static_cast<int>(ape.size()), [&](const std::vector<int>& idx) {
    std::vector<double> v;
    for (int k : idx) v.push_back(ape[k]);
    return median(v);
  }) : Interval{NAN, NAN};
  return {median(ape), ci};
}

// The median APE of each family's held-out predictions ("MLP 29 %; CNN 9 %"; null when none), where a
// family's error hides in the median over all.
json by_family_text(const std::vector<double>& measured, const std::vector<double>& predicted,
                    const std::vector<int>& family) {
  std::vector<std::string> parts;
  for (std::size_t f = 0; f < kFamilies.size(); ++f) {
    std::vector<double> m, p;
    for (std::size_t i = 0; i < family.size(); ++i) {
      if (family[i] == static_cast<int>(f)) m.push_back(measured[i]), p.push_back(predicted[i]);
    }
    const auto ape = ape_pct(m, p);
    if (!ape.empty()) parts.push_back(kFamilies[f] + " " + fmt(median(ape), "%.0f") + " %");
  }
  return parts.empty() ? json(nullptr) : json(join(parts, "; "));
}

// One predictor over the points of one GPU and phase: its table row; `used` and `lofo_j` get the points it
// could use and their held-out predictions.
std::vector<json> predictor_row(const Predictor& pr, const std::vector<const Point*>& pts, const std::string& gpu,
                                const std::string& phase, std::vector<const Point*>& used, std::vector<double>& lofo_j) {
  const Design d = design_of(pr, pts);
  used = d.used;
  const int n = static_cast<int>(d.y.size());
  const std::set<int> fams(d.fam.begin(), d.fam.end());
  std::vector<json> row = {gpu, phase, pr.name, pr.needs, n};
  if (!enough_rows(d)) {
    row.insert(row.end(), {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr});
    row.push_back(n > 0 ? "too few configurations to fit and validate"
                  : pr.needs == kNeedsPrecisionCost ? "no configuration ran at fp32 and at tf32 on a GPU with this one's compute die"
                                                     : "not recorded for these runs");
    return row;
  }
  const auto fit = least_squares_of_varying(d.X, d.y, d.w);
  const auto lofo = fams.size() >= 2 ? predict_held_out(d.X, d.y, d.fam, d.w) : std::vector<double>(n, NAN);
  lofo_j = in_joules(pr, d, lofo);
  const auto kf = in_joules(pr, d, predict_held_out(d.X, d.y, kfold_groups(n, std::min(5, n), 11), d.w));
  std::vector<double> in_sample(n);
  for (int i = 0; i < n; ++i) in_sample[i] = fit.ok ? fit.predict(d.X[i]) + d.known[i] : NAN;
  const auto [med, ci] = median_with_ci(ape_pct(d.e, lofo_j));
  std::string note = fams.size() < 2 ? "one family only: no leave-one-family-out" : "";
  if (d.borrowed) note += std::string(note.empty() ? "" : "; ") + "kernels per step counted on another GPU's runs of the same variants";
  if (!d.measured_from.empty()) {
    note += std::string(note.empty() ? "" : "; ") + "an IEEE float32 FLOP costs " +
            join(std::vector<std::string>(d.measured_from.begin(), d.measured_from.end()), ", ") + " beyond a TF32 one";
  }
  row.insert(row.end(), {num(pr.relative ? r_squared(d.e, in_sample) : fit.r2), num(med), num(ci.lo), num(ci.hi),
                         num(mape_pct(d.e, lofo_j)), num(r_squared(d.y, lofo)), num(mape_pct(d.e, kf)),
                         num(median(ape_pct(d.e, kf)))});
  row.push_back(by_family_text(d.e, lofo_j, d.fam));  // null with one family: nothing was held out
  row.push_back(note);
  return row;
}

// The choice of predictor validated as well: for each family in turn, of the predictors that need no run
// and can use every point, the one with the lowest leave-one-family-out median error over the other
// families is fitted on them and predicts that family. Its errors are out of sample twice over: neither
// the fit nor the choice saw the family predicted.
struct Selection {
  std::vector<double> measured, predicted;
  std::vector<int> family;
  std::vector<std::string> chosen;  // "family: predictor"
};
Selection select_out_of_sample(const std::vector<const Point*>& pts) {
  std::vector<std::pair<const Predictor*, Design>> candidates;
  for (const auto& pr : predictors()) {
    if (pr.needs == kNeedsARun) continue;
    Design d = design_of(pr, pts);
    if (d.used.size() == pts.size()) candidates.emplace_back(&pr, std::move(d));
  }
  Selection s;
  if (candidates.empty()) return s;
  const std::set<int> fams(candidates[0].second.fam.begin(), candidates[0].second.fam.end());  // each covers every point
  for (int held : fams) {
    double best = INFINITY;
    const std::pair<const Predictor*, Design>* pick = nullptr;
    for (const auto& c : candidates) {
      const Design others = rows_without(c.second, held);
      if (!fittable(others)) continue;
      const double m = median(ape_pct(others.e, held_out_families(*c.first, others)));
      if (m < best) best = m, pick = &c;
    }
    if (!pick) continue;
    Design split = pick->second;  // two groups: the held-out family, and the others it is fitted on
    for (auto& f : split.fam) f = f == held;
    const auto predicted = held_out_families(*pick->first, split);
    for (std::size_t i = 0; i < split.fam.size(); ++i) {
      if (split.fam[i]) s.measured.push_back(split.e[i]), s.predicted.push_back(predicted[i]), s.family.push_back(held);
    }
    s.chosen.push_back(kFamilies[static_cast<std::size_t>(held)] + ": " + pick->first->name);
  }
  return s;
}

// The row of the predictor chosen out of sample (select_out_of_sample), and the sentence the predictor
// finding ends with ("" when no family could be predicted so).
constexpr const char* kChosenOnOtherFamilies = "the best, chosen on the other families (nested leave-one-family-out)";
std::string add_selection_row(Table& t, const std::vector<const Point*>& pts, const std::string& gpu,
                              const std::string& phase) {
  const Selection s = select_out_of_sample(pts);
  const auto ape = ape_pct(s.measured, s.predicted);
  if (ape.empty()) return "";
  const auto [med, ci] = median_with_ci(ape);
  t.rows.push_back({gpu, phase, kChosenOnOtherFamilies, "what the chosen predictor needs", static_cast<int>(ape.size()),
                    nullptr, num(med), num(ci.lo), num(ci.hi), num(mape_pct(s.measured, s.predicted)), nullptr, nullptr,
                    nullptr, by_family_text(s.measured, s.predicted, s.family),
                    "chosen per held-out family: " + join(s.chosen, "; ")});
  return " Choosing the predictor out of sample too (by its error on the other families, then predicting the "
         "held-out one): " + fmt(med, "%.0f") + " %" + interval_text(ci, "%.0f") + " (" + join(s.chosen, "; ") + ").";
}

// Every predictor over one GPU's points of one phase; the best that needs no run of the model (by LOFO
// median APE) gives the finding and the measured-vs-predicted chart.
void add_predictor_rows(Analysis& a, Table& t, const std::vector<const Point*>& pts, const std::string& gpu,
                        const std::string& phase) {
  double best_ape = INFINITY, flops_ape = NAN, flops_mean = NAN, best_mean = NAN;
  Interval best_ci{NAN, NAN};
  std::string best, best_by_family;
  json best_pred;
  for (const auto& pr : predictors()) {
    std::vector<const Point*> used;
    std::vector<double> lofo;
    auto row = predictor_row(pr, pts, gpu, phase, used, lofo);
    const json& med = at(t, row, "median_ape_lofo_pct");
    t.rows.push_back(row);
    if (med.is_null()) continue;
    if (pr.name == "FLOPs") flops_ape = med, flops_mean = at(t, row, "mape_lofo_pct");
    if (pr.needs == kNeedsARun || !(med.get<double>() < best_ape)) continue;
    best_ape = med;
    best_mean = at(t, row, "mape_lofo_pct");
    best_ci = {at(t, row, "median_ape_ci_lo").is_null() ? NAN : at(t, row, "median_ape_ci_lo").get<double>(),
               at(t, row, "median_ape_ci_hi").is_null() ? NAN : at(t, row, "median_ape_ci_hi").get<double>()};
    best = pr.name;
    const json& by_family = at(t, row, "median_ape_lofo_by_family");
    best_by_family = by_family.is_string() ? by_family.get<std::string>() : "";
    best_pred = json::array();
    for (std::size_t i = 0; i < used.size(); ++i) {
      if (!std::isfinite(lofo[i])) continue;
      best_pred.push_back({{"config", used[i]->variant}, {"family", used[i]->family}, {"phase", phase}, {"gpu", gpu},
                           {"measured_j", used[i]->energy_j}, {"predicted_j", lofo[i]}});
    }
  }
  if (best.empty()) return;
  auto& chart = a.predictions[phase];
  if (!chart.is_object()) chart = {{"predictor", best}, {"points", json::array()}};
  for (const auto& pt : best_pred) chart["points"].push_back(pt);
  a.findings.push_back("Predictor (" + phase + ", " + gpu + "): the best out of sample of those that need no run of "
                       "the model is " + best + ", with a leave-one-family-out median error of " + fmt(best_ape, "%.0f") +
                       " %" + interval_text(best_ci, "%.0f") + " (mean " + fmt(best_mean, "%.0f") + " %" +
                       (best_by_family.empty() ? "" : "; by held-out family: " + best_by_family) + "), against " +
                       fmt(flops_ape, "%.0f") + " % (mean " + fmt(flops_mean, "%.0f") + " %) for FLOPs alone." +
                       add_selection_row(t, pts, gpu, phase));
}

void add_predictors(Analysis& a, const std::vector<std::string>& phases) {
  Table t{"predictors", "Predicting energy per epoch, validated out of sample",
          "per GPU: least squares on log10 energy, or on joules weighted by 1/energy^2 (linear predictors: each "
          "term a cost in joules, relative errors; a term the fitted rows never have, such as recurrent steps "
          "when the CRNNs are held out, is priced at zero); leave-one-family-out (LOFO: fitted on three families, "
          "predicting the fourth) and 5-fold cross-validation; absolute percentage error (APE) of the energy in "
          "joules, median with a 95 % bootstrap interval over configurations, and mean; R2 in sample (on what "
          "was fitted) and LOFO; the LOFO median APE of each held-out family. 'needs': what must be known before "
          "the model runs",
          {"gpu", "phase", "predictor", "needs", "n", "r2_in_sample", "median_ape_lofo_pct", "median_ape_ci_lo",
           "median_ape_ci_hi", "mape_lofo_pct", "r2_lofo", "mape_kfold_pct", "median_ape_kfold_pct",
           "median_ape_lofo_by_family", "note"},
          {}};
  std::set<std::string> gpus;
  for (const auto& p : a.points) gpus.insert(p.gpu);
  for (const auto& gpu : gpus) {
    for (const auto& phase : phases) {
      std::vector<const Point*> pts;
      for (const Point* p : select(a, phase, "")) {
        if (p->gpu == gpu) pts.push_back(p);
      }
      add_predictor_rows(a, t, pts, gpu, phase);
    }
  }
  a.tables.push_back(t);
}

void add_scaling(Analysis& a) {
  Table t{"scaling", "Scaling: energy of a run against the samples it processes",
          "per configuration and phase over every fraction x epochs setting: energy of the whole run (per-epoch energy x "
          "epochs) fitted as a + b x samples (clips x epochs): b is joules per sample, a the fixed cost; R2 and the "
          "largest residual",
          {"config", "phase", "settings", "j_per_sample", "intercept_j", "r2", "max_residual_pct", "note"},
          {}};
  std::map<std::string, std::vector<const Point*>> by;
  for (const auto& p : a.points) by[p.gpu + "|" + p.config + "|" + std::to_string(p.frames) + "|" + p.phase].push_back(&p);
  for (const auto& [k, pts] : by) {
    std::set<std::pair<double, int>> settings;
    for (const Point* p : pts) settings.insert({p->fraction, p->epochs_per_unit});
    if (settings.size() < 2) continue;
    std::vector<std::vector<double>> X;
    std::vector<double> y;
    for (const Point* p : pts) {
      const double samples = static_cast<double>(p->clips) * p->epochs_per_unit;
      X.push_back({samples});
      y.push_back(p->energy_j * p->epochs_per_unit);
    }
    auto f = least_squares(X, y);
    if (!f.ok) {
      t.rows.push_back({pts[0]->config, pts[0]->phase, static_cast<int>(pts.size()), nullptr, nullptr, nullptr, nullptr,
                        "too few settings to fit"});
      continue;
    }
    double worst = 0;
    for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(f.predict(X[i]) - y[i]) / y[i]);
    t.rows.push_back({pts[0]->config, pts[0]->phase, static_cast<int>(pts.size()), num(f.coef[1]), num(f.coef[0]),
                      num(f.r2), num(100 * worst), ""});
    if (pts[0]->phase == "train") {
      a.findings.push_back("Scaling (" + pts[0]->config + ", training): " + fmt(f.coef[1]) + " J per sample plus " +
                           fmt(f.coef[0]) + " J fixed, R2 " + fmt(f.r2, "%.3f") + " over " +
                           std::to_string(pts.size()) + " settings (largest residual " + fmt(100 * worst, "%.1f") +
                           " %): " + (f.r2 > 0.98 && worst < 0.1 ? "linear." : "not simply linear."));
    }
  }
  if (t.rows.empty()) {
    a.cannot.push_back("scaling: no configuration was run at several dataset fractions or epoch counts (run "
                       "`sedenergy study --config scaling`)");
  } else {
    a.tables.push_back(t);
  }
}

// Models that learned nothing (test mAP within the margin of a constant model's) are marked on every point
// of their configuration, said by name, and kept off the energy/quality front: their energy buys no quality.
void mark_did_not_learn(Analysis& a, double margin) {
  std::set<std::string> learned_nothing, judged;
  for (auto& p : a.points) {
    if (p.map < 0 || p.map_chance < 0) continue;
    judged.insert(p.variant);
    p.did_not_learn = p.map < p.map_chance + margin;
    if (p.did_not_learn) learned_nothing.insert(p.variant);
  }
  if (judged.empty()) {
    a.cannot.push_back("did-not-learn: the chance mAP of the test set is not recorded (runs before schema 8)");
    return;
  }
  std::vector<std::string> names(learned_nothing.begin(), learned_nothing.end());
  a.findings.push_back("Models that learn: " + std::to_string(names.size()) + " of " + std::to_string(judged.size()) +
                       " configurations reached a test mAP within " + fmt(margin) +
                       " of a constant model's (did-not-learn, kept off the Pareto front)" +
                       (names.empty() ? "." : ": " + join(names, ", ") + "."));
}

void add_pareto(Analysis& a) {
  std::vector<const Point*> pts;
  std::vector<double> cost, quality;
  for (const Point* p : select(a, "train", "")) {
    if (p->map >= 0 && !p->did_not_learn) pts.push_back(p), cost.push_back(p->energy_j), quality.push_back(p->map);
  }
  if (pts.size() < 2) {
    a.cannot.push_back("Pareto front: test-set mAP is not recorded for at least two configurations that learned");
  } else {
    Table t{"pareto", "Training energy against test mAP: the Pareto front",
            "configurations not beaten by another that costs less energy per epoch and reaches a higher mAP; those "
            "that did not learn (mAP within the margin of a constant model's) left out",
            {"config", "family", "train_energy_j", "map"}, {}};
    a.pareto = json::array();
    for (int i : pareto_front(cost, quality)) {
      t.rows.push_back({pts[i]->variant, pts[i]->family, num(cost[i]), num(quality[i])});
      a.pareto.push_back(pts[i]->variant);
    }
    a.tables.push_back(t);
  }
}

// One learning run's curve (store::RunRecord::learning_json), with the energy the analysis reads.
struct LearningRun {
  std::string variant, family;
  int best_epoch = 0;
  std::vector<double> map, energy;  // per epoch: validation mAP, cumulative energy
};

std::vector<LearningRun> learning_runs(const std::vector<store::RunPhaseRow>& rows, const std::string& impl, const EnergyUse& use) {
  std::vector<LearningRun> out;
  for (const auto& r : rows) {
    if (r.status != "ok" || r.phase.phase != "train" || r.learning_json.empty() || r.impl != impl) continue;
    const auto j = json::parse(r.learning_json, nullptr, false);
    if (!j.is_object() || !j.contains("curve")) continue;
    LearningRun run{r.variant, r.family, j.value("best_epoch", 0), {}, {}};
    for (const auto& e : j["curve"]) {
      run.map.push_back(e.value("validation_map", NAN));
      run.energy.push_back(use.gpu ? above_baseline(e.value("gpu_energy_j", NAN), baseline_watts(r, use.baseline),
                                                    e.value("seconds", NAN))
                                   : e.value("energy_j", NAN));
    }
    if (!run.map.empty()) out.push_back(std::move(run));
  }
  return out;
}

// The target a comparison of learning runs reads: the option, else 0.9 x the lowest family best.
double learning_target(const std::vector<LearningRun>& runs, double option) {
  if (std::isfinite(option)) return option;
  std::map<std::string, double> best;
  for (const auto& r : runs) best[r.family] = std::max(best[r.family], *std::max_element(r.map.begin(), r.map.end()));
  double lowest = INFINITY;
  for (const auto& [family, m] : best) lowest = std::min(lowest, m);
  return std::isfinite(lowest) ? 0.9 * lowest : NAN;
}

// A configuration that reached the learning target: the median, least and most energy of its repetitions.
struct Reached {
  double median, least, most;
  std::string name;  // "config (family)"
  std::size_t repetitions;
};

// Which configurations the repetitions (each from its own seed) cannot tell from the cheapest: those whose
// least energy lies within the cheapest's range.
std::string seed_spread_text(const std::vector<Reached>& by_median) {
  const Reached& cheapest = by_median.front();
  if (by_median.size() < 2 || cheapest.repetitions < 2) return "";
  std::vector<std::string> within;
  for (std::size_t i = 1; i < by_median.size(); ++i) {
    if (by_median[i].least <= cheapest.most) within.push_back(by_median[i].name);
  }
  const std::string range = " (" + fmt(cheapest.least) + "-" + fmt(cheapest.most) + " J over its repetitions)";
  if (within.empty()) return " Every other configuration's repetitions all cost more than the cheapest's most" + range + ".";
  return " Within the cheapest's range" + range + ": " + join(within, ", ") + " (" + std::to_string(within.size()) + " of " +
         std::to_string(by_median.size() - 1) + "), so the repetitions do not tell " +
         (within.size() == 1 ? "it" : "them") + " from the cheapest.";
}

// Energy to reach a validation mAP: per configuration, the energy spent (training and validation, from the
// start weights) up to the first epoch whose validation mAP reaches the target, median over repetitions with
// the least and the most; configurations whose runs never reach it say so.
void add_energy_to_target(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options,
                          const EnergyUse& use) {
  const auto runs = learning_runs(rows, a.reference_impl, use);
  if (runs.empty()) return;
  const double target = learning_target(runs, options.target_map);
  const std::string what = !use.gpu ? "energy, all domains"
                           : use.baseline == Baseline::none ? "GPU energy"
                                                            : std::string("GPU energy above the ") + baseline_choice(use.baseline).name;
  Table t{"energy_to_target", "Energy to reach a validation mAP",
          "learning runs (--early-stop): " + what + " (J, meter windows per epoch, cumulative) up to the first epoch "
              "whose validation mAP reaches " + fmt(target) +
              (std::isfinite(options.target_map) ? " (--target-map)" : " (0.9 x the lowest of the families' best)") +
              ", median over the repetitions that reach it, with the least and the most of them (learning runs "
              "train each repetition from its own seed, so the spread is training's)",
          {"config", "family", "runs", "reached", "target_map", "epochs_median", "energy_j_median", "energy_j_min",
           "energy_j_max", "best_validation_map", "best_epoch_median"},
          {}};
  std::map<std::string, std::vector<const LearningRun*>> by_variant;
  for (const auto& r : runs) by_variant[r.variant].push_back(&r);
  std::vector<Reached> reached;
  std::vector<std::string> never;
  for (const auto& [variant, list] : by_variant) {
    std::vector<double> epochs, energy, best_map, best_epoch;
    for (const LearningRun* r : list) {
      best_map.push_back(*std::max_element(r->map.begin(), r->map.end()));
      best_epoch.push_back(r->best_epoch);
      for (std::size_t e = 0; e < r->map.size(); ++e) {
        if (r->map[e] >= target) {
          epochs.push_back(static_cast<double>(e + 1));
          energy.push_back(r->energy[e]);
          break;
        }
      }
    }
    const bool any = !energy.empty();
    const json none = nullptr;
    const double least = any ? *std::min_element(energy.begin(), energy.end()) : NAN;
    const double most = any ? *std::max_element(energy.begin(), energy.end()) : NAN;
    t.rows.push_back({variant, list.front()->family, static_cast<int>(list.size()), static_cast<int>(energy.size()),
                      num(target), any ? num(median(epochs)) : none, any ? num(median(energy)) : none, num(least),
                      num(most), num(median(best_map)), num(median(best_epoch))});
    if (any) reached.push_back({median(energy), least, most, variant + " (" + list.front()->family + ")", energy.size()});
    else never.push_back(variant);
  }
  a.tables.push_back(t);
  std::sort(reached.begin(), reached.end(), [](const Reached& x, const Reached& y) { return x.median < y.median; });
  std::string f = "Energy to reach validation mAP " + fmt(target) + ": ";
  if (reached.empty()) {
    f += "no configuration reached it.";
  } else {
    f += "the cheapest is " + reached.front().name + " with " + fmt(reached.front().median) + " J, the dearest " +
         reached.back().name + " with " + fmt(reached.back().median) + " J (" +
         fmt(reached.back().median / reached.front().median) + "x, medians)";
    f += never.empty() ? "; every configuration reached it." : "; " + std::to_string(never.size()) + " never did: " + join(never, ", ") + ".";
    f += seed_spread_text(reached);
  }
  a.findings.push_back(f);
}

// Hardware normalisation validated: every configuration's energy on each other GPU predicted from the
// base GPU's energy of it times the factor two reference configurations give (the cheapest and the dearest
// on the base GPU, per phase), against what was measured there.
void add_hardware_prediction(Analysis& a, const std::set<std::string>& gpus, const std::string& base) {
  Table t{"hardware_prediction", "Hardware normalisation: each configuration predicted from " + base + " and two references",
          "predicted = energy on " + base + " x factor; factor = geometric mean of the two reference configurations' "
          "ratios (the cheapest and the dearest on " + base + ", per phase); error = predicted / measured - 1",
          {"gpu", "phase", "config", "measured_j", "predicted_j", "error_pct", "reference"},
          {}};
  for (const auto& phase : phases_of(a)) {
    std::map<std::string, std::map<std::string, double>> e;  // variant @frames -> gpu -> energy
    for (const auto& p : a.points) {
      if (p.phase == phase) e[p.variant + " @" + std::to_string(p.frames) + " frames"][p.gpu] = p.energy_j;
    }
    std::vector<std::pair<double, std::string>> common;
    for (const auto& [v, m] : e) {
      if (m.size() == gpus.size()) common.push_back({m.at(base), v});
    }
    if (common.size() < 3) continue;
    std::sort(common.begin(), common.end());
    const std::string r1 = common.front().second, r2 = common.back().second;
    for (const auto& g : gpus) {
      if (g == base) continue;
      const double f = std::sqrt(e[r1][g] / e[r1][base] * (e[r2][g] / e[r2][base]));
      std::vector<double> err;
      for (const auto& [eb, v] : common) {
        const double pred = eb * f, meas = e[v][g], pct = 100 * (pred / meas - 1);
        const bool ref = v == r1 || v == r2;
        if (!ref) err.push_back(std::abs(pct));
        t.rows.push_back({g, phase, v, num(meas), num(pred), num(pct), ref});
      }
      if (err.empty()) continue;
      a.findings.push_back("Hardware normalisation (" + phase + ", " + g + " from " + base + "): energy x " + fmt(f, "%.3g") +
                           " (two reference configurations) predicts the other " + std::to_string(err.size()) +
                           " configurations with a median error of " + fmt(median(err), "%.0f") + " % (largest " +
                           fmt(*std::max_element(err.begin(), err.end()), "%.0f") + " %; hardware_prediction table).");
    }
  }
  if (!t.rows.empty()) a.tables.push_back(t);
}

void add_hardware(Analysis& a) {
  std::set<std::string> gpus;
  for (const auto& p : a.points) gpus.insert(p.gpu);
  if (gpus.size() < 2) {
    a.cannot.push_back("hardware comparison: all runs come from one device (" + *gpus.begin() +
                       "); merge databases from other GPUs with `sedenergy merge` or pass several to `report`");
  } else {
    // Reference configurations: the cheapest and the most expensive training run present on every device.
    std::map<std::string, std::map<std::string, double>> e;  // variant -> gpu -> energy (train)
    for (const auto& p : a.points) {
      if (p.phase == "train") e[p.variant + " @" + std::to_string(p.frames) + " frames"][p.gpu] = p.energy_j;
    }
    std::vector<std::pair<double, std::string>> common;
    const std::string base = *gpus.begin();
    for (const auto& [v, m] : e) {
      if (m.size() == gpus.size()) common.push_back({m.at(base), v});
    }
    if (common.size() < 2) {
      a.cannot.push_back("hardware comparison: fewer than two configurations were run on every device");
    } else {
      std::sort(common.begin(), common.end());
      const std::string r1 = common.front().second, r2 = common.back().second;
      Table t{"hardware", "Hardware comparison, normalised by two reference configurations",
              "factor: geometric mean of the energy ratios to " + base + " of " + r1 + " and " + r2 +
                  "; normalised energy = energy / factor",
              {"gpu", "factor", "configs_in_common"}, {}};
      for (const auto& g : gpus) {
        const double f = std::sqrt(e[r1][g] / e[r1][base] * (e[r2][g] / e[r2][base]));
        t.rows.push_back({g, num(f), static_cast<int>(common.size())});
      }
      a.tables.push_back(t);
      add_hardware_prediction(a, gpus, base);
    }
  }
}

void add_measurement_quality(Analysis& a, const std::vector<store::RunPhaseRow>& rows, const std::vector<WindowFacts>& facts) {
  Table t{"quality", "Quality of the measurements",
          "validity flags over all windows; counter against power integral; share of the energy the idle GPU would "
          "have drawn anyway",
          {"item", "value", "note"}, {}};
  std::map<std::string, int> flags;
  std::vector<double> diff, idle_share;
  std::map<std::int64_t, double> idle_context, idle_no_context;  // by session
  int windows = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (r.phase.phase.empty()) continue;
    ++windows;
    if (r.hardware.idle_no_context_w > 0) idle_no_context[r.session_id] = r.hardware.idle_no_context_w;
    if (r.phase.net_gpu_energy_j > 0 && r.phase.duration_s > 0) {
      idle_context[r.session_id] = (r.phase.gpu_energy_j - r.phase.net_gpu_energy_j) / r.phase.duration_s;
    }
    for (const auto& f : split_flags(r.phase.flags)) {
      auto colon = f.find(": ");
      flags[f.rfind("gpu", 0) == 0 && colon != std::string::npos ? f.substr(colon + 2) : f]++;
    }
    diff.insert(diff.end(), facts[i].counter_vs_integral_pct.begin(), facts[i].counter_vs_integral_pct.end());
    idle_share.insert(idle_share.end(), facts[i].idle_share_pct.begin(), facts[i].idle_share_pct.end());
  }
  t.rows.push_back({"windows", windows, ""});
  t.rows.push_back({"runs failed", a.runs_failed, a.runs_failed ? "see the runs table for their reasons" : ""});
  for (const auto& [f, c] : flags) t.rows.push_back({"flag: " + f, c, "windows"});
  if (!diff.empty()) {
    t.rows.push_back({"counter vs power integral, median |difference| %", num(median(diff)), std::to_string(diff.size()) + " GPU windows"});
    t.rows.push_back({"counter vs power integral, max |difference| %", num(*std::max_element(diff.begin(), diff.end())), ""});
  }
  if (!idle_share.empty()) {
    t.rows.push_back({"idle share of GPU energy, median %", num(median(idle_share)), "idle baseline x window length / energy"});
  }
  for (const auto& [what, by_session] : {std::pair{"GPU idle power with the CUDA context, W", &idle_context},
                                         std::pair{"GPU idle power before the CUDA context, W", &idle_no_context}}) {
    std::vector<double> w;
    for (const auto& [session, watts] : *by_session) w.push_back(watts);
    if (!w.empty()) t.rows.push_back({what, num(median(w)), "measured (NVML), median of " + std::to_string(w.size()) + " sessions"});
  }
  a.tables.push_back(t);
}

}  // namespace

// The energy ratio of two sets of repetitions (mean over mean), with a 95 % bootstrap interval.
struct Ratio {
  double value = NAN;
  Interval ci;
};
Ratio mean_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  auto mean_of = [](const std::vector<double>& v, const std::vector<int>& idx) {
    double s = 0;
    for (int i : idx) s += v[i];
    return idx.empty() ? NAN : s / static_cast<double>(idx.size());
  };
  std::vector<int> ia(a.size()), ib(b.size());
  for (std::size_t i = 0; i < ia.size(); ++i) ia[i] = static_cast<int>(i);
  for (std::size_t i = 0; i < ib.size(); ++i) ib[i] = static_cast<int>(i);
  Ratio r;
  r.value = mean_of(a, ia) / mean_of(b, ib);
  r.ci = bootstrap_two_samples(static_cast<int>(a.size()), static_cast<int>(b.size()), 1,
                               [&](const std::vector<int>& ja, const std::vector<int>& jb) {
                                 return std::vector<double>{mean_of(a, ja) / mean_of(b, jb)};
                               })[0];
  return r;
}

// One phase's software choices: per configuration the implementation with the least energy (the reference
// itself, at ratio 1, included), and per other implementation the configurations where its interval lies
// below 1 and above 1.
struct SoftwareTally {
  std::map<std::string, std::pair<double, std::string>> lowest;  // config -> ratio, implementation
  std::map<std::string, std::array<int, 3>> sides;               // impl -> below 1, above 1, configurations
};
SoftwareTally tally_software(const Analysis& a, const Table& t, const std::string& phase) {
  SoftwareTally s;
  for (const auto& row : t.rows) {
    const json& r = at(t, row, "ratio_to_reference");
    if (at(t, row, "phase") != phase || !r.is_number()) continue;
    const std::string impl = at(t, row, "impl").get<std::string>();
    auto& low = s.lowest.try_emplace(at(t, row, "config").get<std::string>(), 1.0, a.reference_impl).first->second;
    if (r.get<double>() < low.first) low = {r.get<double>(), impl};
    if (impl == a.reference_impl) continue;
    auto& side = s.sides[impl];
    side[0] += at(t, row, "ratio_ci_hi").is_number() && at(t, row, "ratio_ci_hi").get<double>() < 1;
    side[1] += at(t, row, "ratio_ci_lo").is_number() && at(t, row, "ratio_ci_lo").get<double>() > 1;
    ++side[2];
  }
  return s;
}

// The finding of one phase: how far the best implementation moves each configuration's energy from the
// reference implementation's, where each other implementation saves or costs energy beyond its interval,
// against how far the model family moves it at equal FLOPs (the two-trends table).
void add_software_finding(Analysis& a, const Table& t, const std::string& phase) {
  const SoftwareTally s = tally_software(a, t, phase);
  if (s.sides.empty()) return;
  std::vector<double> ratios;
  std::map<std::string, int> wins;
  for (const auto& [config, low] : s.lowest) ratios.push_back(low.first), ++wins[low.second];
  std::vector<std::string> lowest_for, sides;
  for (const auto& [impl, n] : wins) lowest_for.push_back("'" + impl + "' for " + std::to_string(n));
  for (const auto& [impl, side] : s.sides) {
    sides.push_back("'" + impl + "' uses less energy on " + std::to_string(side[0]) + " of " + std::to_string(side[2]) +
                    " configurations and more on " + std::to_string(side[1]));
  }
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  std::string text = "Software choices (" + phase + "): over " + std::to_string(s.lowest.size()) +
                     " configurations, the implementation with the least energy (" + a.reference_impl +
                     " included) uses a median " + fmt(summarize(ratios).median) + "x the energy per epoch of " +
                     a.reference_impl + " (from " + fmt(*lo) + "x to " + fmt(*hi) + "x; least: " + join(lowest_for, ", ") +
                     "). Beyond the 95 % intervals, " + join(sides, "; ") + ".";
  if (const Table* trends = table(a, "two_trends")) {
    for (const auto& row : trends->rows) {
      if (at(*trends, row, "phase") != phase) continue;
      std::vector<double> across;  // the ratio at the low end, middle and high end of the shared FLOPs range
      for (const char* col : {"ratio_low", "ratio_mid", "ratio_high"}) {
        if (at(*trends, row, col).is_number()) across.push_back(at(*trends, row, col).get<double>());
      }
      if (across.empty()) continue;
      double family = 1;  // the largest factor between the two trends, either way round
      for (double r : across) family = std::max({family, r, 1 / r});
      const auto [rlo, rhi] = std::minmax_element(across.begin(), across.end());
      text += " Model choice at equal FLOPs" + gpu_of(*trends, row) + ": MLP/RNN use " + fmt(*rlo) + "x to " + fmt(*rhi) +
              "x the energy of CNN/CRNN across the FLOPs range both cover, a factor of up to " + fmt(family) +
              "; the software choice saves up to " + fmt(1 / *lo) + "x on one model, " +
              (1 / *lo >= family ? "as much as or more than" : "less than") + " the family choice.";
    }
  }
  a.findings.push_back(text);
}

// Each configuration under each implementation against the reference implementation's runs of it (same GPU,
// input and phase): pytorch-default where there are runs of it (split_implementations).
void add_software_choices(Analysis& a, const std::map<std::string, Acc>& acc) {
  std::map<std::string, std::map<std::string, const Acc*>> by;
  for (const auto& [k, g] : acc) {
    by[comparison_key(g.p)][g.p.impl] = &g;
  }
  Table t{"software_choices", "Software choices: one model's energy under each implementation",
          "energy per epoch under each implementation against " + a.reference_impl + "'s for the same "
          "configuration and phase: ratio of the means over repetitions with a 95 % bootstrap interval (each side "
          "resampled separately), and of the time per epoch; kernels per step counted on a captured CUDA graph "
          "(measured, not estimated); " + a.energy_label,
          {"config", "family", "phase", "gpu", "impl", "repetitions", "energy_mean_j", "ratio_to_reference",
           "ratio_ci_lo", "ratio_ci_hi", "time_ratio", "kernels_per_step", "flops_per_epoch"},
          {}};
  bool several = false;
  for (const auto& [key, impls] : by) {
    several |= impls.size() > 1;
    const auto ref = impls.find(a.reference_impl);
    if (impls.size() < 2 || ref == impls.end()) continue;
    for (const auto& [impl, g] : impls) {
      const Ratio r = mean_ratio(g->e, ref->second->e);
      const double time_ratio = summarize(g->d).mean / summarize(ref->second->d).mean;
      t.rows.push_back({without_impl(g->p), g->p.family, g->p.phase, g->p.gpu, impl, static_cast<int>(g->e.size()),
                        num(summarize(g->e).mean), num(r.value), num(r.ci.lo), num(r.ci.hi), num(time_ratio),
                        g->p.kernels_per_step >= 0 ? json(g->p.kernels_per_step) : json(nullptr), num(g->p.flops)});
    }
  }
  if (t.rows.empty()) {
    if (several) {
      a.cannot.push_back("software choices: no configuration ran under both " + a.reference_impl +
                         " and another implementation on one GPU");
    }
    return;
  }
  a.tables.push_back(t);
  for (const auto& phase : {"train", "test"}) add_software_finding(a, t, phase);
}

// A headline quantity of one analysis: a number with its interval and the value that means "no difference",
// or a name (the first of a ranking). What the cross-checks compare between analyses.
struct Quantity {
  std::string name;
  double none = NAN;  // NaN: a name (in text), not a number
  double v = NAN, lo = NAN, hi = NAN;
  std::string text;
};

using RowName = std::function<std::string(const Table&, const std::vector<json>&)>;  // "": not a headline row

// The columns of a number and of its interval.
struct Columns {
  std::string v, lo, hi;
};
Columns with_ci(const std::string& v) { return {v, v + "_ci_lo", v + "_ci_hi"}; }

// The rows of table `id` with a number and its interval, named by `name` ("": not a headline row).
void numbers(const Analysis& sub, const std::string& id, const RowName& name, double none, const Columns& c,
             std::vector<Quantity>& out) {
  const Table* t = table(sub, id);
  if (!t) return;
  const std::string &v = c.v, &lo = c.lo, &hi = c.hi;
  for (const auto& row : t->rows) {
    const std::string n = name(*t, row);
    if (n.empty() || !at(*t, row, v).is_number() || !at(*t, row, lo).is_number() || !at(*t, row, hi).is_number()) continue;
    out.push_back({n, none, at(*t, row, v).get<double>(), at(*t, row, lo).get<double>(), at(*t, row, hi).get<double>(), ""});
  }
}

// The first configuration of a ranking: per phase, the dearest and the cheapest per FLOP; the cheapest to
// reach the learning target.
void rankings(const Analysis& sub, std::vector<Quantity>& out) {
  if (const Table* t = table(sub, "per_flop")) {
    std::map<std::string, std::pair<std::string, std::string>> ends;  // phase -> dearest, cheapest
    for (const auto& row : t->rows) {
      auto& e = ends[cell_text(*t, row, "phase") + gpu_of(*t, row)];
      if (at(*t, row, "rank") == 1) e.first = cell_text(*t, row, "config");
      e.second = cell_text(*t, row, "config");  // ranked from the dearest: the last row is the cheapest
    }
    for (const auto& [phase, e] : ends) {
      out.push_back({"dearest configuration per FLOP (" + phase + ")", NAN, NAN, NAN, NAN, e.first});
      out.push_back({"cheapest configuration per FLOP (" + phase + ")", NAN, NAN, NAN, NAN, e.second});
    }
  }
  if (const Table* t = table(sub, "energy_to_target")) {
    double least = INFINITY;
    std::string cheapest;
    for (const auto& row : t->rows) {
      const json& e = at(*t, row, "energy_j_median");
      if (e.is_number() && e.get<double>() < least) least = e.get<double>(), cheapest = cell_text(*t, row, "config");
    }
    if (!cheapest.empty()) out.push_back({"cheapest configuration to reach the target validation mAP", NAN, NAN, NAN, NAN, cheapest});
  }
}

// The headline quantities of an analysis. The power gap reads no energy: it only goes in comparisons
// between GPUs (`with_power`), where it can differ.
std::vector<Quantity> headline_quantities(const Analysis& sub, bool with_power) {
  std::vector<Quantity> out;
  for (const auto& [pos, where] : std::vector<std::pair<std::string, std::string>>{{"low", "low end"}, {"mid", "middle"}, {"high", "high end"}}) {
    numbers(sub, "two_trends", [&](const Table& t, const std::vector<json>& row) {
      return "MLP/RNN over CNN/CRNN energy at equal FLOPs, " + where + " of the shared range (" + cell_text(t, row, "phase") +
             gpu_of(t, row) + ")";
    }, 1, with_ci("ratio_" + pos), out);
  }
  numbers(sub, "slopes", [](const Table& t, const std::vector<json>& row) {
    return "log-log slope of energy on FLOPs, " + cell_text(t, row, "family") + " (" + cell_text(t, row, "phase") +
           (distinct(t, "frames") > 1 ? ", " + cell_text(t, row, "frames") + " frames" : "") + gpu_of(t, row) + ")";
  }, 1, with_ci("slope"), out);
  numbers(sub, "correlations", [](const Table& t, const std::vector<json>& row) -> std::string {
    if (cell_text(t, row, "variable") != "GPU utilization %" || cell_text(t, row, "group") != "all") return "";
    return "Spearman of GPU utilization and energy (" + cell_text(t, row, "phase") + gpu_of(t, row) + ")";
  }, 0, with_ci("spearman"), out);
  numbers(sub, "software_choices", [&](const Table& t, const std::vector<json>& row) -> std::string {
    if (cell_text(t, row, "impl") == sub.reference_impl) return "";
    return "energy of " + cell_text(t, row, "impl") + " over " + sub.reference_impl + ", " + cell_text(t, row, "config") +
           " (" + cell_text(t, row, "phase") + gpu_of(t, row) + ")";
  }, 1, {"ratio_to_reference", "ratio_ci_lo", "ratio_ci_hi"}, out);
  if (with_power) {
    numbers(sub, "power_gap", [](const Table& t, const std::vector<json>& row) {
      return "training minus testing power, W (" + cell_text(t, row, "family") + gpu_of(t, row) + ")";
    }, 0, {"gap_w", "gap_ci_lo_w", "gap_ci_hi_w"}, out);
  }
  rankings(sub, out);
  return out;
}

// The words of one cross-check: what its analyses differ by and its three verdicts.
struct CrossCheck {
  std::string id, title, column, question;
  std::string every, none, specific;  // every interval on one side of no difference; every one across it; else
};

std::string verdict_of(const CrossCheck& c, const std::vector<Quantity>& values) {
  if (std::isnan(values.front().none)) {
    const bool same = std::all_of(values.begin(), values.end(), [&](const Quantity& q) { return q.text == values.front().text; });
    return same ? c.every : c.specific;
  }
  std::size_t above = 0, below = 0;
  for (const auto& q : values) above += q.lo > q.none, below += q.hi < q.none;
  return above == values.size() || below == values.size() ? c.every : above + below == 0 ? c.none : c.specific;
}

// The cross-check's finding: how many quantities hold, and the ones that do not with their values.
void add_cross_check_finding(Analysis& a, const CrossCheck& c, std::map<std::string, int> count,
                             const std::vector<std::string>& specific) {
  const int n = count[c.every] + count[c.none] + count[c.specific];
  std::string f = c.question + " Of " + std::to_string(n) + " headline quantities: " + c.every + " " +
                  std::to_string(count[c.every]) + ", " + c.none + " " + std::to_string(count[c.none]) + ", " + c.specific +
                  " " + std::to_string(count[c.specific]);
  const std::size_t shown = std::min<std::size_t>(specific.size(), 6);
  if (shown) f += ": " + join(std::vector<std::string>(specific.begin(), specific.begin() + static_cast<long>(shown)), " | ");
  if (specific.size() > shown) f += " | and " + std::to_string(specific.size() - shown) + " more";
  a.findings.push_back(f + " (" + c.id + " table).");
}

// The headline quantities of each analysis side by side, with whether they hold in every one.
void add_cross_check(Analysis& a, const CrossCheck& c, const std::vector<std::pair<std::string, const Analysis*>>& subs,
                     bool with_power) {
  std::map<std::string, std::vector<std::pair<std::string, Quantity>>> by_name;  // quantity -> (analysis, value)
  std::vector<std::string> order;  // the quantities in the order the analyses give them
  for (const auto& [label, sub] : subs) {
    for (auto& q : headline_quantities(*sub, with_power)) {
      if (!by_name.count(q.name)) order.push_back(q.name);
      by_name[q.name].emplace_back(label, std::move(q));
    }
  }
  Table t{c.id, c.title,
          "each analysis's own numbers; verdict: '" + c.every + "' when every interval lies on the same side of no "
              "difference (1 for a ratio or a slope, 0 for a gap or a correlation) or a ranking names the same "
              "configuration, '" + c.none + "' when every interval includes it, else '" + c.specific + "'",
          {"quantity", c.column, "value", "ci_lo", "ci_hi", "verdict"},
          {}};
  std::map<std::string, int> count;
  std::vector<std::string> specific;
  for (const auto& name : order) {
    const auto& list = by_name[name];
    if (list.size() < subs.size()) continue;  // not computable in every analysis
    std::vector<Quantity> values;
    for (const auto& [label, q] : list) values.push_back(q);
    const std::string verdict = verdict_of(c, values);
    ++count[verdict];
    std::vector<std::string> parts;
    for (const auto& [label, q] : list) {
      const bool named = std::isnan(q.none);
      t.rows.push_back({name, label, named ? json(q.text) : num(q.v), named ? json(nullptr) : num(q.lo),
                        named ? json(nullptr) : num(q.hi), verdict});
      parts.push_back(label + " " + (named ? q.text : fmt(q.v) + interval_text({q.lo, q.hi}, "%.3g")));
    }
    if (verdict == c.specific) specific.push_back(name + ": " + join(parts, "; "));
  }
  if (t.rows.empty()) return;
  a.tables.push_back(t);
  add_cross_check_finding(a, c, count, specific);
}

// A question whose answer belongs to one GPU (a fit, a correlation or a ranking over configurations): in a
// database of several GPUs it is asked of each GPU's points alone, so that no fit pools two GPUs. Its tables
// gain a gpu column, its findings and what it could not compute the GPU's name.
void per_gpu(Analysis& a, const std::function<void(Analysis&)>& question) {
  std::set<std::string> gpus;
  for (const auto& p : a.points) gpus.insert(p.gpu);
  if (gpus.size() < 2) return question(a);
  for (const auto& gpu : gpus) {
    Analysis sub;
    sub.energy_label = a.energy_label;
    for (const auto& p : a.points) {
      if (p.gpu == gpu) sub.points.push_back(p);
    }
    question(sub);
    for (const auto& t : sub.tables) {
      auto it = std::find_if(a.tables.begin(), a.tables.end(), [&](const Table& x) { return x.id == t.id; });
      if (it == a.tables.end()) {
        std::vector<std::string> columns = {"gpu"};
        columns.insert(columns.end(), t.columns.begin(), t.columns.end());
        it = a.tables.insert(a.tables.end(), Table{t.id, t.title, t.note, columns, {}});
      }
      for (auto row : t.rows) it->rows.push_back((row.insert(row.begin(), gpu), row));
    }
    for (const auto& f : sub.findings) a.findings.push_back(gpu + ": " + f);
    for (const auto& c : sub.cannot) a.cannot.push_back(gpu + ": " + c);
  }
}

// Which findings hold on every GPU: each GPU's own analysis, side by side.
void add_findings_by_gpu(Analysis& a, const std::vector<store::RunPhaseRow>& rows, AnalysisOptions options) {
  std::map<std::string, std::vector<store::RunPhaseRow>> by_gpu;
  for (const auto& r : rows) by_gpu[device_of(r)].push_back(r);
  if (by_gpu.size() < 2) return;
  options.cross_checks = false;
  std::vector<Analysis> subs;
  std::vector<std::pair<std::string, const Analysis*>> labelled;
  subs.reserve(by_gpu.size());
  for (const auto& [gpu, sub_rows] : by_gpu) labelled.emplace_back(gpu, &subs.emplace_back(analyze(sub_rows, options)));
  add_cross_check(a, {"by_gpu", "Findings on each GPU, and whether they hold on every one", "gpu", "On every GPU?",
                      "holds on every GPU", "no difference on any GPU", "hardware-specific"},
                  labelled, true);
}

// Which findings hold whatever idle baseline is taken off the GPU energy: the analysis under each baseline
// every run has (none always; the session's idle with a CUDA context; before it, from schema 9).
void add_findings_by_baseline(Analysis& a, const std::vector<store::RunPhaseRow>& rows, AnalysisOptions options) {
  if (a.estimated) return;
  options.cross_checks = false;
  std::vector<Analysis> subs;
  std::vector<std::pair<std::string, const Analysis*>> labelled;
  subs.reserve(baseline_choices().size());
  for (const auto& b : baseline_choices()) {
    if (b.baseline == a.baseline) {
      labelled.emplace_back(b.name, &a);
      continue;
    }
    options.baseline = b.baseline;
    const Analysis& sub = subs.emplace_back(analyze(rows, options));
    if (sub.baseline == b.baseline) labelled.emplace_back(b.name, &sub);  // else the runs have no such baseline
  }
  if (labelled.size() < 2) return;
  add_cross_check(a, {"by_baseline", "Findings under each idle baseline, and whether they hold under every one",
                      "baseline", "Under every idle baseline?", "holds under every baseline",
                      "no difference under any baseline", "depends on the baseline"},
                  labelled, false);
}

const std::vector<BaselineChoice>& baseline_choices() {
  static const std::vector<BaselineChoice> choices = {
      {Baseline::none, "gross", "no baseline (gross)", "GPU energy per epoch, J (NVML total-energy counter)"},
      {Baseline::session, "net", "session idle, CUDA context",
       "net GPU energy per epoch, J (NVML total-energy counter minus the session's idle power, measured with the "
       "study's CUDA context, x window length)"},
      {Baseline::no_context, "net-no-context", "idle before the CUDA context",
       "net GPU energy per epoch, J (NVML total-energy counter minus the idle power measured before the process held "
       "a CUDA context, x window length)"}};
  return choices;
}

const BaselineChoice& baseline_choice(Baseline b) {
  for (const auto& c : baseline_choices()) {
    if (c.baseline == b) return c;
  }
  throw Error("internal: a baseline without a choice");
}

Analysis analyze(const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options) {
  Analysis a;
  const EnergyUse use = choose_energy(rows, options, a);
  std::vector<WindowFacts> facts;
  facts.reserve(rows.size());
  for (const auto& r : rows) facts.push_back(r.phase.phase.empty() ? WindowFacts{} : window_facts(r.phase.window_json));
  const auto acc = aggregate(rows, facts, use, a);
  split_implementations(a);
  borrow_kernel_counts(a);
  measure_ieee_extra(a);
  if (a.points.empty()) {
    a.cannot.push_back(a.runs == 0 ? "no runs in the database: nothing to analyse"
                                   : "no finished run with a measured phase: nothing to analyse");
    return a;
  }
  const auto phases = phases_of(a);
  // One function per study question, each adding its table and findings.
  add_runs_summary(a, acc);
  per_gpu(a, [](Analysis& g) {
    add_correlations(g, phases_of(g));
    add_utilization_finding(g);
  });
  per_gpu(a, [](Analysis& g) { add_slopes(g, phases_of(g)); });
  per_gpu(a, [](Analysis& g) { add_two_trends(g, phases_of(g)); });
  per_gpu(a, add_power_gap);
  per_gpu(a, [](Analysis& g) { add_per_flop_ranking(g, phases_of(g)); });
  add_predictors(a, phases);
  add_scaling(a);
  mark_did_not_learn(a, options.learn_margin);
  add_pareto(a);
  add_hardware(a);
  add_software_choices(a, acc);
  add_stalls(a, acc, options.stall_factor);
  add_energy_to_target(a, rows, options, use);
  add_measurement_quality(a, rows, facts);
  if (options.cross_checks) {
    add_findings_by_gpu(a, rows, options);
    add_findings_by_baseline(a, rows, options);
  }
  if (a.estimated) {
    a.findings.insert(a.findings.begin(),
                      "Energies here are ESTIMATED (no GPU or RAPL sensor for some runs): the findings describe "
                      "CodeCarbon's CPU/RAM model, not measured energy.");
  }
  return a;
}

}  // namespace sedenergy::analysis
