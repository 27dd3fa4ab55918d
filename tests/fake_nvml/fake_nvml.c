/* A stand-in for libnvidia-ml.so.1, for tests of the CLI on machines without an NVIDIA driver: loaded by
 * `sedenergy` through LD_LIBRARY_PATH, exactly as the real driver would be (dlopen, the same symbols).
 * Two GPUs, each drawing 100 W from the moment NVML is initialised (a total-energy counter in mJ).
 * The processes holding a context are read from the file named by FAKE_NVML_PROCESSES, one line each:
 * "<gpu index> <pid> <SM utilization %>"; only PIDs still alive are listed, as a real driver forgets a
 * process's context when it exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void* nvmlDevice_t;
typedef struct {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id, compute_instance_id;
} process_info;
typedef struct {
  unsigned int pid;
  unsigned long long timestamp_us;
  unsigned int sm, mem, enc, dec;
} process_utilization;
typedef struct {
  char legacy[16];
  unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
} pci_info;
typedef struct {
  unsigned int field_id, scope_id;
  long long timestamp, latency_usec;
  int value_type, nvml_return;
  union {
    double d;
    unsigned int ui;
    unsigned long long ull;
  } value;
} field_value;

enum { kSuccess = 0, kInvalidArgument = 2, kNotSupported = 3, kNotFound = 6, kInsufficientSize = 7 };
enum { kGpus = 2 };
static double g_t0;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
static int gpu_of(nvmlDevice_t d) { return (int)(size_t)d - 1; }

/* Reads the live processes of one GPU from the file; returns how many (at most `cap` stored). */
static unsigned read_processes(int gpu, unsigned* pids, unsigned* sm, unsigned cap) {
  const char* path = getenv("FAKE_NVML_PROCESSES");
  FILE* f = path ? fopen(path, "r") : NULL;
  unsigned n = 0;
  int g;
  unsigned pid, util;
  while (f && fscanf(f, "%d %u %u", &g, &pid, &util) == 3) {
    if (g != gpu || kill((pid_t)pid, 0) != 0) continue;
    if (n < cap) {
      pids[n] = pid;
      sm[n] = util;
    }
    ++n;
  }
  if (f) fclose(f);
  return n;
}

int nvmlInit_v2(void) {
  g_t0 = now_s();
  return kSuccess;
}
int nvmlShutdown(void) { return kSuccess; }
const char* nvmlErrorString(int rc) { return rc == kNotSupported ? "Not Supported" : "fake NVML error"; }
int nvmlSystemGetDriverVersion(char* buf, unsigned n) {
  snprintf(buf, n, "999.0-fake");
  return kSuccess;
}
int nvmlDeviceGetCount_v2(unsigned* n) {
  *n = kGpus;
  return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t* d) {
  if (i >= kGpus) return kInvalidArgument;
  *d = (nvmlDevice_t)(size_t)(i + 1);
  return kSuccess;
}
int nvmlDeviceGetName(nvmlDevice_t d, char* buf, unsigned n) {
  (void)d;
  snprintf(buf, n, "Fake NVML GPU");
  return kSuccess;
}
int nvmlDeviceGetUUID(nvmlDevice_t d, char* buf, unsigned n) {
  snprintf(buf, n, "GPU-fake-%d", gpu_of(d));
  return kSuccess;
}
int nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, pci_info* p) {
  memset(p, 0, sizeof *p);
  snprintf(p->bus_id, sizeof p->bus_id, "00000000:%02d:00.0", 0x10 + gpu_of(d));
  return kSuccess;
}
int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long* mj) {
  (void)d;
  *mj = (unsigned long long)(1e6 + 100.0 * 1000.0 * (now_s() - g_t0));
  return kSuccess;
}
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned* mw) {
  (void)d;
  *mw = 100000;
  return kSuccess;
}
int nvmlDeviceGetFieldValues(nvmlDevice_t d, int n, field_value* f) {
  (void)d;
  for (int i = 0; i < n; ++i) {
    f[i].nvml_return = kSuccess;
    f[i].value_type = 1;
    f[i].value.ui = 100000;
  }
  return kSuccess;
}
int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, unsigned* u) {
  (void)d;
  u[0] = 50;
  u[1] = 10;
  return kSuccess;
}
int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, unsigned long long* m) {
  (void)d;
  m[0] = 80000000000ull;
  m[2] = 1000000000ull;
  m[1] = m[0] - m[2];
  return kSuccess;
}
int nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned* v) {
  (void)d;
  *v = type == 1 ? 1980 : 2619;
  return kSuccess;
}
int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned* v) {
  (void)d;
  (void)sensor;
  *v = 40;
  return kSuccess;
}
int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned* mw) {
  (void)d;
  *mw = 700000;
  return kSuccess;
}
int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned* count, process_info* infos) {
  unsigned pids[64], sm[64];
  const unsigned n = read_processes(gpu_of(d), pids, sm, 64);
  if (n > *count) {
    *count = n;
    return kInsufficientSize;
  }
  for (unsigned i = 0; i < n; ++i) {
    memset(&infos[i], 0, sizeof infos[i]);
    infos[i].pid = pids[i];
  }
  *count = n;
  return kSuccess;
}
int nvmlDeviceGetProcessUtilization(nvmlDevice_t d, process_utilization* out, unsigned* count,
                                    unsigned long long since_us) {
  unsigned pids[64], sm[64];
  const unsigned n = read_processes(gpu_of(d), pids, sm, 64);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const unsigned long long stamp = ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
  if (n == 0 || stamp <= since_us) return kNotFound;
  if (!out || *count < n) {
    *count = n;
    return kInsufficientSize;
  }
  for (unsigned i = 0; i < n; ++i) {
    memset(&out[i], 0, sizeof out[i]);
    out[i].pid = pids[i];
    out[i].timestamp_us = stamp;
    out[i].sm = sm[i];
  }
  *count = n;
  return kSuccess;
}
