// The JSON columns read back, each by its one typed reader here (nowhere else parses them). A value that is
// absent or damaged reads as empty: a report of a damaged file says less, it does not stop.
#pragma once
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/absent.hpp"

namespace sedenergy::store {

// sessions.hardware_json: HardwareProbes::from_json (store.hpp), defined with these readers.

// sessions.config_json: the learning target the session fixed before its runs (study --target-map);
// kAbsent when none (0 or not recorded).
double read_target_map(const std::string& config_json);

// runs.spec_json: the input shape the run ran at (0: not recorded) and its implementation spelled as it ran,
// "auto" resolved ("": not recorded); none when the value is damaged.
struct SpecRecord {
  int mels = 0, frames = 0;
  std::string impl;
};
std::optional<SpecRecord> read_spec_record(const std::string& spec_json);

// phases.epoch_times_json: each epoch's seconds (schema 6).
std::vector<double> read_epoch_times(const std::string& epoch_times_json);

// runs.learning_json: a learning run's curve, cumulative per epoch (schema 9).
struct LearningEpoch {
  double validation_map = NAN, seconds = NAN, gpu_energy_j = NAN, energy_j = NAN;
};
struct LearningCurve {
  int best_epoch = 0;
  std::vector<LearningEpoch> epochs;
};
std::optional<LearningCurve> read_learning(const std::string& learning_json);

// phases.window_json and user_windows.window_json: what is read of a window record (energy::WindowResult's
// JSON, with the Python package's rank and the sampler's timeline).
struct StoredDomain {
  std::string domain, device;
  double energy_j = 0, integral_energy_j = -1, idle_power_w = -1;
};
struct StoredRank {  // the rank of a distributed job that recorded the window (python/sedenergy/distributed.py)
  std::string job_id, node;
  int rank = 0, world_size = 1;
};
struct StoredSample {
  double t_s = 0, cpu_load = 0;
  std::vector<std::pair<double, double>> gpus;  // per GPU: power (W), utilization (%); NaN where not read
};
struct StoredWindow {
  double duration_s = 0;
  std::map<std::string, double> gpu_activity;  // GPM and utilization means
  std::vector<StoredDomain> domains;
  std::optional<StoredRank> rank;
  std::vector<StoredSample> timeline;
  double activity(const std::string& key) const;  // -1 when absent
};
std::optional<StoredWindow> read_window(const std::string& window_json);
std::optional<StoredWindow> read_window_from(const nlohmann::json& record);  // read_window_record's value, read
// The record as it is (null when absent or damaged): for a report that carries it whole.
nlohmann::json read_window_record(const std::string& window_json);

}  // namespace sedenergy::store
