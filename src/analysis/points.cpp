// The runs' phases as points: which energy is read (gross, above an idle baseline, or estimated), the
// repetitions of each variant aggregated, the reference implementation, kernel counts and the measured cost of
// IEEE float32.
#include "analysis/questions.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "analysis/stats.hpp"
#include "common/absent.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "energy/records.hpp"
#include "models/implementation.hpp"
#include "models/spec.hpp"
#include "store/json_columns.hpp"

namespace sedenergy::analysis {

namespace {
bool real_flag(const std::string& f) { return !f.empty() && energy::flag_kind(f) == energy::FlagKind::validity; }

// The accounting of a stored run, from its spec and input shape as it ran (none: a spec this version
// cannot parse).
std::optional<compute::ModelCount> accounting_of(const store::RunPhaseRow& r) {
  const store::RunRecord& run = *r.run;
  const auto shape = store::read_spec_record(run.spec_json);
  if (!shape) return std::nullopt;
  try {
    const int mels = shape->mels > 0 ? shape->mels : 128;
    const int frames = shape->frames > 0 ? shape->frames : (run.frames > 0 ? run.frames : 64);
    return compute::count(models::parse_spec(run.config), models::InputShape{std::max(1, run.batch), mels, frames});
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// FLOPs per epoch by kind of work: a step's split as the run recorded it (or, for runs stored before schema 10,
// as the accounting gives it from their spec), scaled to the FLOPs per epoch the run recorded.
std::optional<compute::WorkSplit> work_per_epoch(const store::RunPhaseRow& r, const std::optional<compute::ModelCount>& c) {
  const store::PhaseWork& work = r.work();
  compute::WorkSplit w;
  double step = work.flops_per_step;
  if (work.has_split()) {
    w = {work.matrix_flops, work.single_channel_conv_flops, work.conv_flops, work.serial_recurrent_flops,
         work.cublas_matrix_flops};
  } else if (c) {
    const bool train = r.phase.phase == "train";
    w = compute::work_split(*c, train);
    step = train ? c->train_step_flops() : c->test_step_flops();
  } else {
    return std::nullopt;
  }
  if (!(step > 0)) return std::nullopt;
  const double scale = work.flops_per_epoch / step;
  for (double* v : {&w.matrix, &w.single_channel_conv, &w.conv, &w.serial_recurrent, &w.cublas_matrix}) *v *= scale;
  return w;
}

// Traffic per epoch: the run's recorded DRAM traffic per step x steps (from the FLOP totals). Runs stored
// before schema 4 recorded none: the accounting gives it from their spec, as it did when they ran (NaN
// where this version cannot count the spec).
double traffic_per_epoch(const store::RunPhaseRow& r, const std::optional<compute::ModelCount>& c) {
  double per_step = r.work().traffic_bytes_per_step;
  if (per_step < 0 && c) {
    const auto t = compute::dram_traffic(*c);
    per_step = r.phase.phase == "train" ? t.train_step_bytes : t.test_step_bytes;
  }
  if (per_step < 0) return NAN;
  const auto& work = r.work();
  return work.flops_per_step > 0 ? per_step * (work.flops_per_epoch / work.flops_per_step) : 0.0;
}

}  // namespace

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
    case Baseline::no_context: return r.site->hardware.idle_no_context_w > 0 ? r.site->hardware.idle_no_context_w : NAN;
  }
  return NAN;
}

// GPU energy above the baseline over `seconds` (never below zero, as the meter's net energy).
double above_baseline(double gross_j, double watts, double seconds) { return std::max(0.0, gross_j - watts * seconds); }

// Which energy the analysis uses, chosen from what every run has; counts the runs on the way.
EnergyUse choose_energy(const std::vector<store::RunPhaseRow>& rows, const AnalysisOptions& options, Analysis& a) {
  std::set<std::int64_t> runs_seen;
  bool all_gpu = true, any_ok = false, all_baseline = true;
  for (const auto& r : rows) {
    if (r.run->status == "interrupted") continue;  // cut short by a stop request and redone: not a result
    if (runs_seen.insert(r.run_id).second) {
      ++a.runs;
      (r.run->status == "ok" ? a.runs_ok : a.runs_failed)++;
    }
    if (r.run->status == "ok" && !r.phase.phase.empty()) {
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

namespace {
// What a run's device is called in points and tables: its GPU's name, or "cpu".
constexpr const char* kCpuDevice = "cpu";

}  // namespace

std::string device_of(const store::RunPhaseRow& r) { return r.site->gpu_name.empty() ? kCpuDevice : r.site->gpu_name; }

// Repetitions of each variant and phase (per GPU and input length) gathered, then summarised into points.
std::map<std::string, Acc> aggregate(const std::vector<store::RunPhaseRow>& rows, const std::vector<WindowFacts>& facts,
                                     const EnergyUse& use, Analysis& a) {
  std::map<std::string, Acc> acc;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const store::RunRecord& run = *r.run;
    const store::PhaseWork& work = r.work();
    if (run.status != "ok" || r.phase.phase.empty()) continue;
    const std::string key = r.site->gpu_name + "|" + run.variant + "|" + std::to_string(run.frames) + "|" + r.phase.phase;
    auto& g = acc[key];
    g.rows.push_back(&r);
    if (g.e.empty()) {
      g.p.config = run.config;
      g.p.variant = run.variant;
      g.p.family = run.family;
      g.p.phase = r.phase.phase;
      g.p.gpu = device_of(r);
      g.p.frames = run.frames;
      g.p.fraction = run.fraction;
      g.p.epochs_per_unit = run.epochs_per_unit;
      g.p.clips = run.clips;
      g.p.flops = work.flops_per_epoch;
      g.p.params = static_cast<double>(run.params);
      // Counted again from the spec only for runs stored before the split (schema 10) or the traffic (4).
      const bool recorded = work.has_split() && work.traffic_bytes_per_step >= 0;
      const auto counted = recorded ? std::nullopt : accounting_of(r);
      g.p.traffic_bytes = traffic_per_epoch(r, counted);
      g.p.work = work_per_epoch(r, counted);
      g.p.impl = run.impl;
      const auto spec = store::read_spec_record(run.spec_json);
      g.p.ran_as = spec ? spec->impl : "";
      g.p.steps = work.flops_per_step > 0 ? work.flops_per_epoch / work.flops_per_step : 0;
      g.p.hardware = r.site->hardware;
      g.p.baseline_w = use.gpu ? baseline_watts(r, use.baseline) : NAN;
    }
    if (work.kernels_per_step >= 0) g.p.kernels_per_step = work.kernels_per_step;
    g.e.push_back(use.of(r));
    g.d.push_back(r.phase.duration_s);
    g.w.push_back(r.phase.gpu_power_w > 0 ? r.phase.gpu_power_w
                                          : (r.phase.duration_s > 0 ? r.phase.energy_j / r.phase.duration_s : NAN));
    if (r.phase.gpu_util_pct >= 0) g.gu.push_back(r.phase.gpu_util_pct);
    if (r.phase.mem_util_pct >= 0) g.mu.push_back(r.phase.mem_util_pct);
    if (facts[i].sm_util >= 0) g.sm.push_back(facts[i].sm_util);
    if (facts[i].dram_bw >= 0) g.bw.push_back(facts[i].dram_bw);
    if (run.metrics.map >= 0) g.map.push_back(run.metrics.map);
    if (run.metrics.map_chance >= 0) g.map_chance.push_back(run.metrics.map_chance);
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

namespace {
// Whether a run's recorded implementation ran in the Python loop; false for runs from before the loop existed
// or whose spelling this version cannot read.
bool ran_in_python(const store::RunRecord& run) {
  const auto spec = store::read_spec_record(run.spec_json);
  if (!spec || spec->impl.empty()) return false;
  try {
    return models::parse_implementation(spec->impl, "auto", "impl").python;
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

std::optional<std::vector<store::RunPhaseRow>> loops_named_apart(const std::vector<store::RunPhaseRow>& rows,
                                                                std::string& note) {
  std::vector<bool> python;  // a row's run ran in Python: read once, a spec_json parse each
  python.reserve(rows.size());
  std::map<std::string, std::set<bool>> loops;  // implementation name -> ran in Python?
  for (const auto& r : rows) {
    python.push_back(ran_in_python(*r.run));
    loops[r.run->impl].insert(python.back());
  }
  std::set<std::string> mixed;
  for (const auto& [impl, kinds] : loops) {
    if (kinds.size() > 1) mixed.insert(impl);
  }
  if (mixed.empty()) return std::nullopt;
  std::vector<store::RunPhaseRow> out = rows;
  std::map<const store::RunRecord*, std::shared_ptr<const store::RunRecord>> renamed;  // one copy a run
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& r = out[i];
    if (!mixed.count(r.run->impl) || python[i]) continue;
    auto& copy = renamed[r.run.get()];
    if (!copy) {
      auto run = std::make_shared<store::RunRecord>(*r.run);
      const bool knob = run->variant == models::variant_name(run->config, run->fraction, run->epochs_per_unit, run->impl);
      run->impl += kCppLoopSuffix;
      if (knob) run->variant = models::variant_name(run->config, run->fraction, run->epochs_per_unit, run->impl);
      copy = run;
    }
    r.run = copy;
  }
  note = "Runs named " + join(std::vector<std::string>(mixed.begin(), mixed.end()), ", ") +
         " ran in two loops here (sedenergy's C++ loop, as the name meant until 2026-12-07, and the Python loop it "
         "means since): the C++ loop's " + std::to_string(renamed.size()) + " runs are read as '<name>" +
         kCppLoopSuffix + "', apart from the Python loop's.";
  return out;
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
                      num(or_nan(p.gpu_util)), num(p.flops), num(p.params), num(or_nan(p.map))});
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

namespace {
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
// Each read as its run recorded it: what "auto" meant depends on the code version that ran it.
bool precision_pair(const Point& fp32, const Point& tf32) {
  if (!(ieee_matrix_flops(fp32) > 0) || ieee_matrix_flops(tf32) != 0) return false;
  const auto as_ran = [](const Point& p) {
    return models::parse_implementation(p.ran_as.empty() ? p.impl : p.ran_as, "auto", "impl").resolved();
  };
  auto a = as_ran(fp32), b = as_ran(tf32);
  a.precision = b.precision;
  return a.spelled() == b.spelled();
}

}  // namespace

// The cost its session's microbenchmark measured (store::HardwareProbes), above the point's baseline; none
// for sessions before it, on a CPU, or where the baseline's power is not known.
std::optional<Point::IeeeCost> probed_ieee_cost(const Point& p) {
  const double j = p.hardware.ieee_extra_j_per_flop(p.baseline_w);
  if (!std::isfinite(j)) return std::nullopt;
  return Point::IeeeCost{j, "", fmt(j, "%.2g") + " J (microbenchmark outside the grid: batch-8 matrix products at both "
                                                 "precisions, at the session's start on " + p.gpu + ")"};
}

// Per phase and compute die, the energy an IEEE float32 matrix FLOP costs beyond a TF32 one. Measured by the
// session's microbenchmark where it ran (issue 33: outside the grid, so no predicted configuration prices
// itself); else where a configuration ran at both precisions: the difference of its energies over its IEEE
// FLOPs, every point on that die getting each configuration's, the one with the most IEEE FLOPs first, with its
// source and family.
void measure_ieee_extra(Analysis& a) {
  std::map<std::string, std::vector<const Point*>> by;  // comparison_key -> the configuration's implementations
  for (const auto* list : {&a.points, &a.other_impl_points}) {
    for (const auto& p : *list) by[comparison_key(p)].push_back(&p);
  }
  using Pair = std::pair<const Point*, const Point*>;
  std::map<std::pair<std::string, std::string>, std::vector<Pair>> pairs;  // (phase, die)
  for (const auto& [key, impls] : by) {
    for (const Point* f : impls) {
      for (const Point* t : impls) {
        if (precision_pair(*f, *t)) pairs[{f->phase, compute_die(f->gpu)}].push_back({f, t});
      }
    }
  }
  std::map<std::pair<std::string, std::string>, std::vector<Point::IeeeCost>> costs;
  for (auto& [where, list] : pairs) {
    std::stable_sort(list.begin(), list.end(), [](const Pair& x, const Pair& y) {
      return ieee_matrix_flops(*x.first) > ieee_matrix_flops(*y.first);
    });
    for (const auto& [f, t] : list) {
      const double j = (f->energy_j - t->energy_j) / ieee_matrix_flops(*f);
      costs[where].push_back({j, f->family, fmt(j, "%.2g") + " J (" + without_impl(*f) + " on " + f->gpu + ": " +
                                                f->impl + " against " + t->impl + ")"});
    }
  }
  for (auto* list : {&a.points, &a.other_impl_points}) {
    for (auto& p : *list) {
      const auto it = costs.find({p.phase, compute_die(p.gpu)});
      if (const auto probed = probed_ieee_cost(p)) p.ieee_costs = {*probed};
      else if (it != costs.end()) p.ieee_costs = it->second;
    }
  }
}

// The first IEEE float32 cost of `p` measured on a configuration of none of the `excluded` families.
const Point::IeeeCost* ieee_cost_without(const Point& p, const std::set<std::string>& excluded) {
  for (const auto& c : p.ieee_costs) {
    if (!excluded.count(c.family)) return &c;
  }
  return nullptr;
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

}  // namespace sedenergy::analysis
