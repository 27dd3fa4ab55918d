// Results store: one SQLite file per study (or merged), with a schema version. Each finished run
// (a configuration's train and test phases) is written in one transaction, so a crash never leaves a
// half-written run. A quantity not measured or not recorded holds kAbsent (common/absent.hpp).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/absent.hpp"

struct sqlite3;

namespace sedenergy::store {

inline constexpr int kSchemaVersion = 10;  // 2: repetitions, study knobs, test metrics, claims; 3: user windows;
                                          // 4: DRAM traffic per step with each run; 5: implementation, kernels per step;
                                          // 6: per-epoch times and host load per phase; 7: stall re-runs,
                                          // hardware probes per session; 8: the test set's chance mAP;
                                          // 9: the learning curve of a learning run (--early-stop);
                                          // 10: each phase's FLOPs per step by kind of work

// The hardware constants a study measures at its session's start (runner/probes.hpp), kept in
// sessions.hardware_json: what the predictor's time terms use. -1: not measured.
struct HardwareProbes {
  double launch_s = kAbsent;        // seconds per eager one-element kernel, launched back to back
  double matmul_flops_s = kAbsent;  // FLOP/s of a square fp32 matrix product (LibTorch's default precision)
  double copy_bytes_s = kAbsent;    // bytes read plus written per second by a device-to-device copy
  double idle_no_context_w = kAbsent;  // GPU power while idle before this process held a CUDA context (NVML)
  // What a FLOP of a batch-8 matrix product costs on this GPU in IEEE float32 and on TF32 tensor cores,
  // measured by a microbenchmark outside the grid (runner/probes.hpp): GPU energy (NVML counter, gross) and
  // seconds per FLOP. The analysis prices an IEEE FLOP beyond a TF32 one from them (ieee_extra_j_per_flop).
  double ieee_j_per_flop = kAbsent, tf32_j_per_flop = kAbsent;
  double ieee_s_per_flop = kAbsent, tf32_s_per_flop = kAbsent;
  // The energy an IEEE FLOP costs beyond a TF32 one above `baseline_w` (0: gross); NaN when not measured.
  double ieee_extra_j_per_flop(double baseline_w) const;
  bool measured() const { return launch_s > 0 && matmul_flops_s > 0 && copy_bytes_s > 0; }
  std::string to_json() const;                            // with the method of each number
  static HardwareProbes from_json(const std::string& text);  // -1 where absent or unreadable
};

struct SessionRecord {
  std::string started_at;
  std::string command;
  std::string hostname, os, cpu_model;
  int cpu_count = 0;
  double ram_gb = 0;
  std::string gpu_name, gpu_driver;
  std::string libtorch_version, sedenergy_version, git_revision;
  std::string device, grid, dataset, features;
  std::string config_json;  // every option of the session
  std::string idle_json;    // idle baseline window
  std::string hardware_json;  // the hardware probes (runner/probes.hpp) at the session's start; "" before schema 7
};

struct PhaseRecord {
  std::string phase;  // train, test
  int epochs = 0;     // epochs inside the measurement window
  double window_s = 0;
  // Per epoch (window totals divided by epochs).
  double duration_s = 0;
  double energy_j = 0, gpu_energy_j = 0, cpu_energy_j = 0, ram_energy_j = 0;
  double net_gpu_energy_j = kAbsent;
  double uncertainty_j = kAbsent;
  std::string gpu_method, cpu_method, ram_method;
  bool estimated = false;  // any domain estimated
  double gpu_power_w = 0, gpu_util_pct = kAbsent, mem_util_pct = kAbsent, cpu_load = 0;
  double loss = kAbsent;
  std::string flags;        // "; "-separated validity flags
  std::string window_json;  // the full window record
  // Host stalls: each epoch's seconds inside the window (JSON list, the GPU synchronised at each end), the
  // CPU seconds the study process (and its Python loop's worker) used in the window, and the CPU load of every other process on the
  // host (share of all CPUs); -1 / "" before schema 6.
  std::string epoch_times_json;
  double own_cpu_s = kAbsent, other_cpu_load = kAbsent;
};

// What one phase of a run costs by the accounting: FLOPs per step and per epoch, the DRAM traffic lower bound
// per step (ESTIMATED; < 0: not recorded, before schema 4), the kernels one step launches, counted on a
// captured CUDA graph (measured; < 0: not counted), and a step's FLOPs by the kind of work that runs them
// (compute::WorkSplit; < 0: not recorded, before schema 10).
struct PhaseWork {
  double flops_per_step = 0, flops_per_epoch = 0;
  double traffic_bytes_per_step = kAbsent;
  int kernels_per_step = -1;
  double matrix_flops = kAbsent, single_channel_conv_flops = kAbsent, conv_flops = kAbsent, serial_recurrent_flops = kAbsent;
  double cublas_matrix_flops = kAbsent;  // the part of matrix_flops run through cuBLAS
  bool has_split() const { return matrix_flops >= 0; }
};

// Test-set quality of the trained model (after the measured phases, outside the windows).
struct TestMetrics {
  double accuracy = kAbsent;      // clip level, all 10 labels right (threshold 0.5)
  double label_accuracy = kAbsent;  // per label, averaged
  double f1_macro = kAbsent;
  double map = kAbsent;           // mean average precision over classes with a positive
  double map_chance = kAbsent;    // the same for a model that gives every clip the same scores; -1 before schema 8
  std::string per_class_json;  // {"f1": [...], "ap": [...]}
};

struct RunRecord {
  std::int64_t session_id = 0;
  std::string config, family, spec_json;
  // One work item of a study: a configuration with its knobs (the variant) and its repetition.
  std::string variant;  // config plus any non-default knob, e.g. "mlp:1x512 [fraction 0.5, epochs 2]"
  int repetition = 1;
  double fraction = 1;  // of the training set
  int epochs_per_unit = 1;  // epochs trained from the same start inside each measured unit
  int frames = 0;
  std::string loss = "bce-softmax";
  TestMetrics metrics;
  std::string status = "ok";  // ok, failed, interrupted (windows cut short by a stop request; redone by --resume)
  std::string error;
  long long params = 0;
  PhaseWork train_work, test_work;  // the accounting of each phase: kept for a failed run too
  const PhaseWork& work_of(const std::string& phase) const { return phase == "train" ? train_work : test_work; }
  // How it ran (models/implementation.hpp: a preset's name or optimizer/graphs/precision/data); "default" for runs
  // from before schema 5.
  std::string impl;
  int batch = 0, clips = 0, steps_per_epoch = 0;
  std::string started_at, finished_at;
  // A re-run of a host-stalled repetition: the repetition it measures again (0: not a re-run) and why.
  int retry_of = 0;
  std::string retry_reason;
  // A learning run (--early-stop): {"seed", "patience", "max_epochs", "best_epoch", "stopped", "curve": [{"epoch",
  // "validation_map", "seconds", "gpu_energy_j", "energy_j"}]} with cumulative time and energy; "" otherwise.
  std::string learning_json;
  std::vector<PhaseRecord> phases;
};

// Where and on what a session's runs ran, as its rows read it: the device, GPU and host, the hardware probes,
// the data (SessionRecord::dataset), the learning target the session fixed before its runs, the code.
struct RunSite {
  std::string device, gpu_name, hostname;
  HardwareProbes hardware;
  std::string dataset;
  double target_map = kAbsent;
  std::string code_version;  // SessionRecord::git_revision
};

// A run with one of its phases, as reports read it: a view of the run (shared by its phases) and of its
// session's site (shared by the session's runs), with the phase's measurement and accounting.
struct RunPhaseRow {
  std::int64_t run_id = 0;
  std::shared_ptr<const RunRecord> run;
  std::shared_ptr<const RunSite> site;
  PhaseRecord phase;  // phase "" : a run with no measured phase (it failed before one)
  const PhaseWork& work() const { return run->work_of(phase.phase); }
};

// One measurement window of a user's own program (the Python meter, tracker or Lightning callback, or
// `measure`): the run it belongs to, the window's name (a phase such as "fit" or "test", a task) and its
// energy per domain, with the whole window record as JSON (methods, flags, idle, timeline).
struct UserWindowRecord {
  std::string run_uuid, source, project_name, experiment_id, command;
  std::string name, started_at;
  double duration_s = 0;
  double energy_j = 0, gpu_energy_j = 0, cpu_energy_j = 0, ram_energy_j = 0;
  double net_gpu_energy_j = kAbsent;  // < 0: no idle baseline
  std::string gpu_method, cpu_method, ram_method;
  bool estimated = false;
  double gpu_util_pct = kAbsent, cpu_load = 0;
  std::string flags;  // "; "-separated
  std::string hostname, gpu_name;
  std::string window_json;
};

// What makes two records one measurement across files, for merge (which skips the second) and report (which
// reads it once) alike: a session is its start time, host, options and device; a run, its session's identity,
// variant and repetition; a user window (or a CodeCarbon row), its run, name and start time.
std::string run_identity(const std::string& session_identity, const std::string& variant, int repetition);
std::string user_window_identity(const UserWindowRecord& w);

class Store {
 public:
  enum class Access {
    kReadWrite,  // opens or creates the database; migrates an older schema in place
    kRead,       // reads an existing one without writing to it: an older schema is migrated in a private
                 // temporary copy, and a file that is not a sedenergy database is refused by name
  };
  // Refuses newer schemas with an InputError that names the file.
  explicit Store(const std::string& path, Access access = Access::kReadWrite);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }  // the file actually open (path(), or a migrated copy)
  int schema_version() const;
  std::int64_t begin_session(const SessionRecord& s);
  void finish_session(std::int64_t id);
  std::int64_t add_run(const RunRecord& r);  // one transaction, then copied from the WAL into the file
  // Copies what the write-ahead log holds into the database file, so the file alone has every finished
  // run (a job killed now, or only results.db brought back, loses nothing). Best effort: a reader in
  // the way leaves the rest for the next call, and SQLite's own close does it too.
  void checkpoint() const;
  // Leaves the database one file in rollback-journal mode, when no other connection has it open (true), so
  // it can be copied or committed alone and a report's read-only connection leaves no -wal and -shm files
  // next to it; the next writer puts it back in WAL mode. Best effort: with another connection, false.
  bool settle() const;
  std::vector<RunPhaseRow> rows(std::optional<std::int64_t> session = std::nullopt) const;
  std::vector<SessionRecord> sessions() const;
  std::map<std::int64_t, std::string> session_identities() const;  // by session id (see run_identity)
  int run_count() const;  // finished runs (ok or failed): an interrupted one is not counted
  std::int64_t add_user_window(const UserWindowRecord& w);
  std::vector<UserWindowRecord> user_windows() const;  // in the order they were recorded
  // Copies another results database in (sessions, runs, phases) in one transaction. A session already
  // present (same start time, host and options) is matched, and its runs already present are skipped, so
  // merging the same shard twice adds nothing. Returns the number of runs added.
  int merge_from(const std::string& other_path);
  // Work items ("variant#repetition") with a finished run (ok or failed) in these sessions.
  std::set<std::string> finished_items(const std::vector<std::int64_t>& sessions) const;
  // Every session with exactly these options, GPU model and code version (all workers of a multi-GPU study),
  // oldest first: runs measured on another GPU or by another commit are never continued or pooled with these.
  std::vector<std::int64_t> matching_sessions(const SessionRecord& like) const;
  // Claims a work item for one worker of a group (the processes sharing one session); true when this
  // call got it. Atomic across processes. An item another worker holds is taken over when
  // `may_take_over(holder)` says so (its process has ended and the item is unfinished).
  bool claim(const std::string& group, const std::string& item, const std::string& worker,
             const std::function<bool(const std::string& holder)>& may_take_over = {});
  // --resume: the latest session with these options (`earlier`: all of them, oldest first), or a new one
  // when there is none, decided in one transaction so studies started together continue one session.
  std::int64_t continue_or_begin_session(const SessionRecord& s, std::vector<std::int64_t>& earlier);

 private:
  void exec(const std::string& sql) const;
  void transaction(const std::function<void()>& body);  // BEGIN IMMEDIATE ... COMMIT, rolled back on a throw
  void migrate(int from);
  void open_read_write();
  bool open_in_place_for_reading();  // false: needs a migrated copy (the connection is left open)
  void connect(int sqlite_flags);    // opens file_, or throws naming path_
  void close();
  bool has_meta_table() const;
  bool has_any_table() const;
  void refuse_newer(int version) const;
  std::string path_, file_;
  std::string temp_dir_;  // the migrated copy's folder, removed with the store
  sqlite3* db_ = nullptr;
};

}  // namespace sedenergy::store
