/* Measures a CPU workload with the sedenergy C API and prints the window. Built and run by the tests. */
#include <math.h>
#include <stdio.h>

#include "sedenergy/sedenergy.h"

int main(void) {
  char err[256];
  sed_meter* m = sed_meter_open(0.05, err, sizeof err);
  if (!m) {
    fprintf(stderr, "cannot open meter: %s\n", err);
    return 1;
  }
  int w = sed_window_begin(m, "busy-loop");
  volatile double acc = 0;
  for (long i = 1; i < 30000000; ++i) acc += sin((double)i) / (double)i;
  sed_window_result r;
  if (sed_window_end(m, w, &r) != 0) {
    fprintf(stderr, "window failed\n");
    return 1;
  }
  printf("duration_s=%.3f energy_j=%.3f cpu_j=%.3f gpu_j=%.3f ram_j=%.3f estimated=%d gpus=%d acc=%.3f\n",
         r.duration_s, r.energy_j, r.cpu_energy_j, r.gpu_energy_j, r.ram_energy_j, r.estimated, r.gpu_count, acc);
  printf("%s\n", sed_last_window_json(m));
  sed_meter_close(m);
  return r.duration_s > 0 && r.energy_j > 0 ? 0 : 1;
}
