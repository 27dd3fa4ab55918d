#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/number_checks.hpp"
#include "common/error.hpp"
#include "common/host.hpp"
#include "energy/meter.hpp"

namespace sedenergy::cli {
namespace {

// Median interval between changes of a counter, polled for `seconds`; < 0 when it never changed.
template <typename Read>
double update_period_s(Read read, double seconds, double& step) {
  double last = 0, t_last_change = -1;
  std::vector<double> intervals, steps;
  if (!read(last)) return -1;
  const double t_end = monotonic_s() + seconds;
  while (monotonic_s() < t_end) {
    double v = 0;
    if (!read(v)) return -1;
    if (v != last) {
      double t = monotonic_s();
      if (t_last_change >= 0) intervals.push_back(t - t_last_change);
      steps.push_back(v - last);
      t_last_change = t;
      last = v;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (intervals.empty()) return -1;
  std::sort(intervals.begin(), intervals.end());
  std::sort(steps.begin(), steps.end());
  step = steps[steps.size() / 2];
  return intervals[intervals.size() / 2];
}

}  // namespace

void setup_sensors(CLI::App& app, int& exit_code) {
  auto probe_s = std::make_shared<double>(2.0);
  auto rapl_root = std::make_shared<std::string>("/sys/class/powercap");
  auto* sub = app.add_subcommand("sensors",
                                 "List every energy sensor found, its state, and its counter's update period "
                                 "measured on the spot.\nExample: sedenergy sensors --probe 3");
  sub->add_option("--probe", *probe_s, "seconds spent measuring each counter's update period (0: skip)")
      ->check(finite_in(0, 60))
      ->capture_default_str();
  sub->add_option("--rapl-root", *rapl_root, "powercap sysfs root")->capture_default_str();
  sub->callback([=, &exit_code] {
    std::error_code ec;
    if (sub->count("--rapl-root") && !std::filesystem::is_directory(*rapl_root, ec)) {
      throw InputError("--rapl-root: '" + *rapl_root + "' " +
                       (std::filesystem::exists(*rapl_root, ec) ? "is not a folder" : "does not exist") +
                       " (give the powercap root, /sys/class/powercap)");
    }
    energy::MeterOptions mo;
    mo.rapl_root = *rapl_root;
    energy::Meter meter(mo);
    auto host = read_host_info();
    std::cout << "host: " << host.hostname << ", " << host.cpu_model << " (" << host.cpu_count << " CPUs), "
              << std::setprecision(3) << host.ram_total_gb << " GB RAM\n";
    for (const auto& s : meter.sensors()) {
      std::cout << std::left << std::setw(18) << s.name << std::setw(14)
                << (s.available ? (s.estimated ? "estimate" : "measured") : "unavailable") << s.detail << "\n";
    }
    if (*probe_s > 0) {
      std::string err;
      auto api = energy::load_nvml(err);
      if (api) {
        energy::Nvml nvml(api);
        for (const auto& g : nvml.gpus()) {
          if (!g.has_energy_counter) continue;
          double step = 0;
          double period = update_period_s([&](double& v) { return nvml.energy_j(g, v, err); }, *probe_s, step);
          std::cout << "nvml gpu" << g.index << " energy counter: "
                    << (period > 0 ? "updates every " + std::to_string(period * 1000) + " ms, median step " +
                                         std::to_string(step) + " J"
                                   : std::string("did not change in the probe")) << "\n";
        }
      }
      energy::Rapl rapl(*rapl_root);
      for (const auto& d : rapl.domains()) {
        double step = 0;
        double period = update_period_s([&](double& v) { return rapl.read_j(d, v, err); }, *probe_s, step);
        std::cout << "rapl " << d.name << " counter: "
                  << (period > 0 ? "updates every " + std::to_string(period * 1000) + " ms"
                                 : std::string("did not change in the probe")) << "\n";
      }
    }
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
