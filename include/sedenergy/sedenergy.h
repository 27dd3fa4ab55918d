/* sedenergy C API (libsedenergy): measure the energy of any code with named windows.
 *
 *   char err[256];
 *   sed_meter* m = sed_meter_open(0.1, err, sizeof err);   // 100 ms sampler
 *   int w = sed_window_begin(m, "train");
 *   ... work ...
 *   sed_window_result r;
 *   sed_window_end(m, w, &r);
 *   sed_meter_close(m);
 *
 * Energy comes from NVML (GPU) and RAPL (CPU, DRAM) where present; otherwise CPU and RAM are estimated
 * and r.estimated says so. Functions returning int give 0 (or an id >= 0) on success and a negative value
 * on error; functions returning a pointer give NULL on error. After an error, sed_last_error() says why
 * (per thread). Strings returned as `char*` are the caller's: free them with sed_string_free.
 *
 * The JSON functions are the API the Python package uses (python/sedenergy): the record of a window has
 * every domain with its method, uncertainty, estimated flag, idle and net energy, the utilization, GPM
 * metrics, validity flags and (optionally) the sampler's timeline.
 *
 * Link with `pkg-config --cflags --libs sedenergy`, or CMake's `find_package(sedenergy)` and the target
 * `sedenergy::sedenergy`.
 */
#ifndef SEDENERGY_SEDENERGY_H
#define SEDENERGY_SEDENERGY_H

#include <stddef.h>

#if defined(__GNUC__)
#define SED_API __attribute__((visibility("default")))
#else
#define SED_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sed_meter sed_meter;

typedef struct {
  double duration_s;
  double energy_j;      /* all domains */
  double gpu_energy_j;
  double cpu_energy_j;
  double ram_energy_j;
  double gpu_utilization_pct; /* -1 without a GPU */
  int estimated;              /* 1 when any domain is an estimate */
  int gpu_count;
} sed_window_result;

/* The library's version ("0.1.0"), for checking that the header and the loaded library agree. */
SED_API const char* sed_version(void);
/* Why the last call on this thread failed ("" when none did). */
SED_API const char* sed_last_error(void);
SED_API void sed_string_free(char* text);

/* Opens a meter with a sampler period in seconds (0 for the default 100 ms). NULL on error. */
SED_API sed_meter* sed_meter_open(double period_s, char* error, size_t error_size);
/* Opens a meter from options as a JSON object (NULL or "{}": defaults). Keys:
 *   period_s       sampler period (default 0.1, at least 0.01)
 *   gpus           "all" (default), "none", or a list of NVML indices (0) or UUID prefixes ("GPU-8f2a")
 *   cuda_devices   a list of this process's CUDA ordinals (CodeCarbon's gpu_ids), mapped by PCI bus id
 *   idle_s         seconds of idle baseline measured now; later windows get idle and net energy (default 0)
 *   timeline       windows' JSON carries the sampler's samples (default true)
 *   activity, gpm  read utilization/clocks and Hopper GPM metrics in each sample (default true)
 *   cpu_tdp_w      the CPU model's TDP when RAPL is absent (default: from the CPU table)
 *   host_share     share of the host's CPU/RAM energy given to this meter, in (0, 1] (default 1)
 *   rapl_root, proc_stat   other roots for sysfs / procfs (tests)
 * Unknown keys, wrong types and GPUs that are not there are errors (sed_last_error names them). */
SED_API sed_meter* sed_meter_open_json(const char* options_json);
/* The meter as JSON: sensors (with why one is unavailable), selected GPUs, idle baseline, host. */
SED_API char* sed_meter_info_json(sed_meter* meter);
/* Starts a window; returns its id (>= 0) or a negative value. Thread-safe; windows may nest and overlap. */
SED_API int sed_window_begin(sed_meter* meter, const char* name);
/* Ends window `id` and fills `out`. */
SED_API int sed_window_end(sed_meter* meter, int id, sed_window_result* out);
/* Ends window `id` and returns its whole record as JSON (free with sed_string_free). */
SED_API char* sed_window_end_json(sed_meter* meter, int id);
/* Window `id` so far as JSON, the window left open (free with sed_string_free): a long run's record until now. */
SED_API char* sed_window_read_json(sed_meter* meter, int id);
/* The last ended window as JSON (valid until the next call on this meter), or NULL. */
SED_API const char* sed_last_window_json(sed_meter* meter);
SED_API void sed_meter_close(sed_meter* meter);

/* Appends one CodeCarbon-compatible row (38 columns, header written once, file locked while appending)
 * for a window record (JSON from sed_window_end_json) to `csv_path`. context_json: project_name,
 * experiment_id, run_id, country_iso_code or carbon_intensity_g_per_kwh, pue, python_version,
 * tracking_mode, gpu_models. Returns 0, or a negative value with nothing written. */
SED_API int sed_emissions_append(const char* csv_path, const char* window_json, const char* context_json);
/* As sed_emissions_append, but the row of the context's run_id already in the file (written by an earlier call
 * for the same run: a tracker's flush) is replaced in place instead of a second row appended. */
SED_API int sed_emissions_update(const char* csv_path, const char* window_json, const char* context_json);
/* The row sed_emissions_append would write, as JSON {"columns": [...CodeCarbon's order], "row": {column: text}}
 * (free with sed_string_free); NULL on error. */
SED_API char* sed_emissions_row_json(const char* window_json, const char* context_json);
/* Records a window in a results database (created if missing; table user_windows), which
 * `sedenergy report` turns into a report of the user's runs. run_json: run_uuid, source, project_name,
 * experiment_id, command. Returns the row id (> 0) or a negative value. */
SED_API long long sed_store_window(const char* db_path, const char* run_json, const char* window_json);

#ifdef __cplusplus
}
#endif

#endif /* SEDENERGY_SEDENERGY_H */
