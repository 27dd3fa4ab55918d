// Each table's columns, declared once: the records' fields, their SQL types, what NULL reads as in rows of
// older schemas, and the schema version that added them. CREATE, INSERT, SELECT and merge derive from these.
#include "store/sql.hpp"

namespace sedenergy::store::detail {

// The tables without a record type; sessions, runs, phases and user_windows come from their column lists.
const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims(
  grp TEXT NOT NULL, item TEXT NOT NULL, worker TEXT, claimed_at TEXT, PRIMARY KEY(grp, item));
)sql";

const char* const kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS runs_by_session ON runs(session_id);
CREATE INDEX IF NOT EXISTS phases_by_run ON phases(run_id);
CREATE INDEX IF NOT EXISTS user_windows_by_run ON user_windows(run_uuid);
)sql";

const std::vector<Column<SessionRecord>>& session_columns() {
  using R = SessionRecord;
  static const std::vector<Column<R>> cols = {
      col<R, &R::started_at>("started_at", "TEXT NOT NULL"), managed<R>("finished_at", "TEXT", false),
      col<R, &R::command>("command", "TEXT"),               col<R, &R::hostname>("hostname", "TEXT"),
      col<R, &R::os>("os", "TEXT"),                         col<R, &R::cpu_model>("cpu_model", "TEXT"),
      col<R, &R::cpu_count>("cpu_count", "INTEGER"),        col<R, &R::ram_gb>("ram_gb", "REAL"),
      col<R, &R::gpu_name>("gpu_name", "TEXT"),             col<R, &R::gpu_driver>("gpu_driver", "TEXT"),
      col<R, &R::libtorch_version>("libtorch_version", "TEXT"),
      col<R, &R::sedenergy_version>("sedenergy_version", "TEXT"),
      col<R, &R::git_revision>("git_revision", "TEXT"),     col<R, &R::device>("device", "TEXT"),
      col<R, &R::grid>("grid", "TEXT"),                     col<R, &R::dataset>("dataset", "TEXT"),
      col<R, &R::features>("features", "TEXT"),             col<R, &R::config_json>("config_json", "TEXT"),
      col<R, &R::idle_json>("idle_json", "TEXT"),
      col<R, &R::hardware_json>("hardware_json", "TEXT", "''", 7)};
  return cols;
}

const std::vector<Column<RunRecord>>& run_columns() {
  using R = RunRecord;
  using M = TestMetrics;
  using W = PhaseWork;
  static const std::vector<Column<R>> cols = {
      managed<R>("session_id", "INTEGER NOT NULL REFERENCES sessions(id)", true),
      col<R, &R::config>("config", "TEXT NOT NULL"),
      col<R, &R::family>("family", "TEXT NOT NULL"),
      col<R, &R::spec_json>("spec_json", "TEXT", "''"),
      col<R, &R::status>("status", "TEXT NOT NULL"),
      col<R, &R::error>("error", "TEXT"),
      col<R, &R::params>("params", "INTEGER"),
      col2<R, &R::train_work, &W::flops_per_step>("train_flops_per_step", "REAL"),
      col2<R, &R::test_work, &W::flops_per_step>("test_flops_per_step", "REAL"),
      col2<R, &R::train_work, &W::flops_per_epoch>("train_flops_per_epoch", "REAL"),
      col2<R, &R::test_work, &W::flops_per_epoch>("test_flops_per_epoch", "REAL"),
      col<R, &R::batch>("batch", "INTEGER"),
      col<R, &R::clips>("clips", "INTEGER"),
      col<R, &R::steps_per_epoch>("steps_per_epoch", "INTEGER"),
      col<R, &R::started_at>("started_at", "TEXT"),
      col<R, &R::finished_at>("finished_at", "TEXT"),
      col<R, &R::variant>("variant", "TEXT", nullptr, 2),
      col<R, &R::repetition>("repetition", "INTEGER DEFAULT 1", "1", 2),
      col<R, &R::fraction>("fraction", "REAL DEFAULT 1", "1", 2),
      col<R, &R::epochs_per_unit>("epochs_per_unit", "INTEGER DEFAULT 1", "1", 2),
      col<R, &R::frames>("frames", "INTEGER", "0", 2),
      col<R, &R::loss>("loss", "TEXT", nullptr, 2),
      col2<R, &R::metrics, &M::accuracy>("accuracy", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::label_accuracy>("label_accuracy", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::f1_macro>("f1_macro", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::map>("map", "REAL", "-1", 2),
      col2<R, &R::metrics, &M::per_class_json>("metrics_json", "TEXT", "''", 2),
      col2<R, &R::metrics, &M::map_chance>("map_chance", "REAL", "-1", 8),
      col2<R, &R::train_work, &W::traffic_bytes_per_step>("train_traffic_bytes_per_step", "REAL", "-1", 4),
      col2<R, &R::test_work, &W::traffic_bytes_per_step>("test_traffic_bytes_per_step", "REAL", "-1", 4),
      col<R, &R::impl>("impl", "TEXT", "''", 5),
      col2<R, &R::train_work, &W::kernels_per_step>("train_kernels_per_step", "INTEGER", "-1", 5),
      col2<R, &R::test_work, &W::kernels_per_step>("test_kernels_per_step", "INTEGER", "-1", 5),
      col<R, &R::retry_of>("retry_of", "INTEGER DEFAULT 0", "0", 7),
      col<R, &R::retry_reason>("retry_reason", "TEXT", "''", 7),
      col<R, &R::learning_json>("learning_json", "TEXT", "''", 9),
      col2<R, &R::train_work, &W::matrix_flops>("train_matrix_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::test_work, &W::matrix_flops>("test_matrix_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::train_work, &W::single_channel_conv_flops>("train_single_channel_conv_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::test_work, &W::single_channel_conv_flops>("test_single_channel_conv_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::train_work, &W::conv_flops>("train_conv_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::test_work, &W::conv_flops>("test_conv_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::train_work, &W::serial_recurrent_flops>("train_serial_recurrent_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::test_work, &W::serial_recurrent_flops>("test_serial_recurrent_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::train_work, &W::cublas_matrix_flops>("train_cublas_matrix_flops_per_step", "REAL", "-1", 10),
      col2<R, &R::test_work, &W::cublas_matrix_flops>("test_cublas_matrix_flops_per_step", "REAL", "-1", 10)};
  return cols;
}

const std::vector<Column<PhaseRecord>>& phase_columns() {
  using R = PhaseRecord;
  static const std::vector<Column<R>> cols = {
      managed<R>("run_id", "INTEGER NOT NULL REFERENCES runs(id)", true),
      col<R, &R::phase>("phase", "TEXT NOT NULL"),          col<R, &R::epochs>("epochs", "INTEGER"),
      col<R, &R::window_s>("window_s", "REAL"),             col<R, &R::duration_s>("duration_s", "REAL"),
      col<R, &R::energy_j>("energy_j", "REAL"),             col<R, &R::gpu_energy_j>("gpu_energy_j", "REAL"),
      col<R, &R::cpu_energy_j>("cpu_energy_j", "REAL"),     col<R, &R::ram_energy_j>("ram_energy_j", "REAL"),
      col<R, &R::net_gpu_energy_j>("net_gpu_energy_j", "REAL"),
      col<R, &R::uncertainty_j>("uncertainty_j", "REAL"),   col<R, &R::gpu_method>("gpu_method", "TEXT"),
      col<R, &R::cpu_method>("cpu_method", "TEXT"),         col<R, &R::ram_method>("ram_method", "TEXT"),
      col<R, &R::estimated>("estimated", "INTEGER"),        col<R, &R::gpu_power_w>("gpu_power_w", "REAL"),
      col<R, &R::gpu_util_pct>("gpu_util_pct", "REAL"),     col<R, &R::mem_util_pct>("mem_util_pct", "REAL"),
      col<R, &R::cpu_load>("cpu_load", "REAL"),             col<R, &R::loss>("loss", "REAL"),
      col<R, &R::flags>("flags", "TEXT"),                   col<R, &R::window_json>("window_json", "TEXT"),
      col<R, &R::epoch_times_json>("epoch_times_json", "TEXT", "''", 6),
      col<R, &R::own_cpu_s>("own_cpu_s", "REAL", "-1", 6),
      col<R, &R::other_cpu_load>("other_cpu_load", "REAL", "-1", 6)};
  return cols;
}

const std::vector<Column<UserWindowRecord>>& user_columns() {
  using R = UserWindowRecord;
  static const std::vector<Column<R>> cols = {
      col<R, &R::run_uuid>("run_uuid", "TEXT"),             col<R, &R::source>("source", "TEXT"),
      col<R, &R::project_name>("project_name", "TEXT"),     col<R, &R::experiment_id>("experiment_id", "TEXT"),
      col<R, &R::command>("command", "TEXT"),               col<R, &R::name>("name", "TEXT"),
      col<R, &R::started_at>("started_at", "TEXT"),         col<R, &R::duration_s>("duration_s", "REAL"),
      col<R, &R::energy_j>("energy_j", "REAL"),             col<R, &R::gpu_energy_j>("gpu_energy_j", "REAL"),
      col<R, &R::cpu_energy_j>("cpu_energy_j", "REAL"),     col<R, &R::ram_energy_j>("ram_energy_j", "REAL"),
      col<R, &R::net_gpu_energy_j>("net_gpu_energy_j", "REAL"),
      col<R, &R::gpu_method>("gpu_method", "TEXT"),         col<R, &R::cpu_method>("cpu_method", "TEXT"),
      col<R, &R::ram_method>("ram_method", "TEXT"),         col<R, &R::estimated>("estimated", "INTEGER"),
      col<R, &R::gpu_util_pct>("gpu_util_pct", "REAL"),     col<R, &R::cpu_load>("cpu_load", "REAL"),
      col<R, &R::flags>("flags", "TEXT"),                   col<R, &R::hostname>("hostname", "TEXT"),
      col<R, &R::gpu_name>("gpu_name", "TEXT"),             col<R, &R::window_json>("window_json", "TEXT")};
  return cols;
}

}  // namespace sedenergy::store::detail
