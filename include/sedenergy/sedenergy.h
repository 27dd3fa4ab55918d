/* sedenergy C API: measure the energy of any code with named windows.
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
 * and r.estimated says so. All functions return 0 on success and a negative value on error.
 */
#ifndef SEDENERGY_SEDENERGY_H
#define SEDENERGY_SEDENERGY_H

#include <stddef.h>

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

/* Opens a meter with a sampler period in seconds (0 for the default 100 ms). NULL on error. */
sed_meter* sed_meter_open(double period_s, char* error, size_t error_size);
/* Starts a window; returns its id (>= 0) or a negative value. */
int sed_window_begin(sed_meter* meter, const char* name);
/* Ends window `id` and fills `out`. */
int sed_window_end(sed_meter* meter, int id, sed_window_result* out);
/* The last ended window as JSON (valid until the next call on this meter), or NULL. */
const char* sed_last_window_json(sed_meter* meter);
void sed_meter_close(sed_meter* meter);

#ifdef __cplusplus
}
#endif

#endif /* SEDENERGY_SEDENERGY_H */
