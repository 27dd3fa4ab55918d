#include <gtest/gtest.h>

#include <algorithm>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/host.hpp"
#include "common/text.hpp"
#include "energy/cuda_device.hpp"
#include "energy/emissions.hpp"
#include "energy/meter.hpp"
#include "test_util.hpp"

using namespace sedenergy;
using namespace sedenergy::energy;

namespace {

// A fake NVML driver: GPUs drawing a constant power, whose energy counter steps every 100 ms.
struct FakeDriver {
  std::mutex mu;
  double watts = 200.0;
  double t0 = monotonic_s();
  int init_rc = kNvmlSuccess;
  int energy_rc = kNvmlSuccess;     // set to kNvmlErrorGpuIsLost to lose the device
  double counter_offset_j = 0;      // negative values simulate a counter reset
  unsigned gpus = 2;
  std::atomic<unsigned long long> reasons{0x1};  // GPU idle: not a slowdown
  bool gpm = false;                 // GPU 0 (handle 1) supports GPM when set
  std::atomic<int> gpm_samples{0};
  // Processes holding a context, by GPU index: (PID, SM utilization %); processes_rc fails the listing.
  std::map<unsigned, std::vector<std::pair<unsigned, unsigned>>> contexts;
  int processes_rc = kNvmlSuccess;

  std::shared_ptr<NvmlApi> api() {
    auto a = std::make_shared<NvmlApi>();
    a->init = [this] { return init_rc; };
    a->shutdown = [] { return kNvmlSuccess; };
    a->error_string = [](int rc) { return rc == kNvmlErrorGpuIsLost ? "GPU is lost" : "fake error"; };
    a->driver_version = [](char* buf, unsigned n) {
      std::strncpy(buf, "580.00-fake", n);
      return kNvmlSuccess;
    };
    a->device_count = [this](unsigned* n) {
      *n = gpus;
      return kNvmlSuccess;
    };
    a->handle_by_index = [](unsigned i, NvmlDevice* h) {
      *h = reinterpret_cast<NvmlDevice>(static_cast<std::uintptr_t>(i + 1));
      return kNvmlSuccess;
    };
    a->name = [](NvmlDevice, char* buf, unsigned n) {
      std::strncpy(buf, "Fake GPU", n);
      return kNvmlSuccess;
    };
    a->uuid = [](NvmlDevice h, char* buf, unsigned n) {
      std::snprintf(buf, n, "GPU-fake-%zu", reinterpret_cast<std::uintptr_t>(h));
      return kNvmlSuccess;
    };
    a->pci_info = [](NvmlDevice h, NvmlPciInfo* p) {
      std::snprintf(p->bus_id, sizeof p->bus_id, "00000000:%02zu:00.0", reinterpret_cast<std::uintptr_t>(h));
      return kNvmlSuccess;
    };
    a->total_energy_mj = [this](NvmlDevice, unsigned long long* mj) {
      std::lock_guard lock(mu);
      if (energy_rc != kNvmlSuccess) return energy_rc;
      double t = std::floor((monotonic_s() - t0) / 0.1) * 0.1;  // 100 ms steps
      *mj = static_cast<unsigned long long>(1000.0 * (1000.0 + counter_offset_j + watts * t));
      return kNvmlSuccess;
    };
    a->power_mw = [this](NvmlDevice, unsigned* mw) {
      *mw = static_cast<unsigned>(watts * 1000);
      return kNvmlSuccess;
    };
    a->field_values = [this](NvmlDevice, int n, NvmlFieldValue* f) {
      for (int i = 0; i < n; ++i) {
        f[i].nvml_return = kNvmlSuccess;
        f[i].value_type = 1;
        f[i].value.ui = static_cast<unsigned>(watts * 1000);
      }
      return kNvmlSuccess;
    };
    a->utilization = [](NvmlDevice, NvmlUtilization* u) {
      u->gpu = 50;
      u->memory = 20;
      return kNvmlSuccess;
    };
    a->memory = [](NvmlDevice, NvmlMemory* m) {
      m->total = 80'000'000'000ull;
      m->used = 1'000'000'000ull;
      m->free = m->total - m->used;
      return kNvmlSuccess;
    };
    a->clock_mhz = [](NvmlDevice, int, unsigned* v) {
      *v = 1980;
      return kNvmlSuccess;
    };
    a->temperature_c = [](NvmlDevice, int, unsigned* v) {
      *v = 40;
      return kNvmlSuccess;
    };
    a->power_limit_mw = [](NvmlDevice, unsigned* v) {
      *v = 700000;
      return kNvmlSuccess;
    };
    a->clock_event_reasons = [this](NvmlDevice, unsigned long long* r) {
      *r = reasons;
      return kNvmlSuccess;
    };
    a->compute_processes = [this](NvmlDevice h, unsigned* n, NvmlProcessInfo* out) {
      std::lock_guard lock(mu);
      if (processes_rc != kNvmlSuccess) return processes_rc;
      const auto& list = contexts[reinterpret_cast<std::uintptr_t>(h) - 1];
      if (list.size() > *n) {
        *n = static_cast<unsigned>(list.size());
        return kNvmlErrorInsufficientSize;
      }
      for (std::size_t i = 0; i < list.size(); ++i) out[i] = NvmlProcessInfo{list[i].first, 1u << 30, 0, 0};
      *n = static_cast<unsigned>(list.size());
      return kNvmlSuccess;
    };
    a->process_utilization = [this](NvmlDevice h, NvmlProcessUtilization* out, unsigned* n, unsigned long long since) {
      std::lock_guard lock(mu);
      const auto& list = contexts[reinterpret_cast<std::uintptr_t>(h) - 1];
      const auto stamp = static_cast<unsigned long long>(monotonic_s() * 1e6);
      if (list.empty() || stamp <= since) return kNvmlErrorNotFound;
      if (!out || *n < list.size()) {
        *n = static_cast<unsigned>(list.size());
        return kNvmlErrorInsufficientSize;
      }
      for (std::size_t i = 0; i < list.size(); ++i) out[i] = NvmlProcessUtilization{list[i].first, stamp, list[i].second, 0, 0, 0};
      *n = static_cast<unsigned>(list.size());
      return kNvmlSuccess;
    };
    if (gpm) {
      // GPM: each sample handle remembers how many samples were taken when it was filled; a metric's value
      // is its id plus 0.5 when the two samples are in order (so a swapped pair would show).
      a->gpm_query_support = [](NvmlDevice h, NvmlGpmSupport* s) {
        s->is_supported_device = h == reinterpret_cast<NvmlDevice>(1) ? 1 : 0;
        return s->version == 1 ? kNvmlSuccess : 2;
      };
      a->gpm_sample_alloc = [](NvmlGpmSample* s) {
        *s = new int(0);
        return kNvmlSuccess;
      };
      a->gpm_sample_free = [](NvmlGpmSample s) {
        delete static_cast<int*>(s);
        return kNvmlSuccess;
      };
      a->gpm_sample_get = [this](NvmlDevice, NvmlGpmSample s) {
        *static_cast<int*>(s) = ++gpm_samples;
        return kNvmlSuccess;
      };
      a->gpm_metrics_get = [](NvmlGpmMetricsGet* q) {
        const bool ordered = *static_cast<int*>(q->sample1) < *static_cast<int*>(q->sample2);
        for (unsigned i = 0; i < q->num_metrics; ++i) {
          q->metrics[i].nvml_return = kNvmlSuccess;
          q->metrics[i].value = q->metrics[i].metric_id + (ordered ? 0.5 : 0.0);
        }
        return q->version == 1 ? kNvmlSuccess : 2;
      };
    }
    return a;
  }
};

MeterOptions fake_options(FakeDriver& d, const std::string& rapl_root = "/nonexistent-powercap") {
  MeterOptions o;
  o.nvml_api = d.api();
  o.period_s = 0.02;
  o.rapl_root = rapl_root;
  return o;
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// One window of `seconds` on meter `m`: sampler started, the window measured, the sampler stopped.
WindowResult one_window(Meter& m, const std::string& name, double seconds) {
  m.start();
  auto w = m.begin(name);
  sleep_s(seconds);
  auto r = m.end(w);
  m.stop();
  return r;
}

const DomainEnergy* find(const WindowResult& r, const std::string& domain, const std::string& device_prefix = "") {
  for (const auto& d : r.domains)
    if (d.domain == domain && d.device.rfind(device_prefix, 0) == 0) return &d;
  return nullptr;
}

bool has_flag(const WindowResult& r, const std::string& fragment) {
  for (const auto& f : r.flags)
    if (f.find(fragment) != std::string::npos) return true;
  return false;
}

void write_rapl_zone(const std::filesystem::path& p, const std::string& name, double uj, double max_uj) {
  test::write_text(p / "name", name + "\n");
  test::write_text(p / "energy_uj", std::to_string(static_cast<long long>(uj)) + "\n");
  test::write_text(p / "max_energy_range_uj", std::to_string(static_cast<long long>(max_uj)) + "\n");
}

}  // namespace

TEST(Nvml, FakeDriverListsDevicesAndCapabilities) {
  FakeDriver d;
  Nvml nvml(d.api());
  ASSERT_TRUE(nvml.available());
  ASSERT_EQ(nvml.gpus().size(), 2u);
  EXPECT_EQ(nvml.driver_version(), "580.00-fake");
  EXPECT_TRUE(nvml.gpus()[0].has_energy_counter);
  EXPECT_TRUE(nvml.gpus()[0].has_instant_power);
  EXPECT_DOUBLE_EQ(nvml.gpus()[0].power_limit_w, 700.0);
  auto s = nvml.sample(nvml.gpus()[1]);
  EXPECT_DOUBLE_EQ(s.power_instant_w, 200.0);
  EXPECT_DOUBLE_EQ(s.util_gpu_pct, 50.0);
}

TEST(Nvml, InitFailureIsReportedNotThrown) {
  FakeDriver d;
  d.init_rc = 9;
  Meter m(fake_options(d));
  EXPECT_FALSE(m.has_gpu());
  auto sensors = m.sensors();
  ASSERT_FALSE(sensors.empty());
  EXPECT_EQ(sensors[0].name, "nvml");
  EXPECT_FALSE(sensors[0].available);
  EXPECT_NE(sensors[0].detail.find("nvmlInit failed"), std::string::npos);
}

// A job's CPU allocation from Slurm and from cgroup v2 and v1 trees (fake ones): the smallest limit wins,
// on the process's cgroup or any ancestor.
TEST(CpuAllocation, SlurmAndCgroupLimitsOnTheProcessOrItsAncestors) {
  auto dir = test::temp_dir();
  test::write_text(dir / "v2" / "self", "0::/job/step\n");
  test::write_text(dir / "v2" / "root" / "job" / "cpu.max", "400000 100000\n");
  test::write_text(dir / "v2" / "root" / "job" / "step" / "cpu.max", "max 100000\n");
  test::write_text(dir / "v2" / "root" / "job" / "step" / "cpuset.cpus.effective", "0-7\n");
  auto v2 = read_cpu_allocation(nullptr, (dir / "v2" / "self").string(), (dir / "v2" / "root").string());
  EXPECT_DOUBLE_EQ(v2.cpus, 4);
  EXPECT_EQ(v2.source, "cgroup cpu.max");
  auto slurm = read_cpu_allocation("2", (dir / "v2" / "self").string(), (dir / "v2" / "root").string());
  EXPECT_DOUBLE_EQ(slurm.cpus, 2);
  EXPECT_EQ(slurm.source, "SLURM_CPUS_ON_NODE");
  test::write_text(dir / "v1" / "self", "4:cpu,cpuacct:/slurm/job1\n3:cpuset:/slurm/job1\n1:name=systemd:/\n");
  test::write_text(dir / "v1" / "root" / "cpu,cpuacct" / "slurm" / "job1" / "cpu.cfs_quota_us", "300000\n");
  test::write_text(dir / "v1" / "root" / "cpu,cpuacct" / "slurm" / "job1" / "cpu.cfs_period_us", "100000\n");
  test::write_text(dir / "v1" / "root" / "cpuset" / "slurm" / "job1" / "cpuset.effective_cpus", "0-1,4\n");
  auto v1 = read_cpu_allocation(nullptr, (dir / "v1" / "self").string(), (dir / "v1" / "root").string());
  EXPECT_DOUBLE_EQ(v1.cpus, 3);
  EXPECT_EQ(v1.source, "cgroup cpu.cfs_quota_us");  // 3 CPUs by quota, and the cpuset has 3 too: the first stays
  auto none = read_cpu_allocation(nullptr, (dir / "missing").string(), (dir / "v2" / "root").string());
  EXPECT_EQ(none.cpus, 0);
  EXPECT_EQ(none.source, "");
}

// A meter in a job with half the host's CPUs gives CPU and RAM half the host's estimate, and says so.
TEST(Meter, CpuAndRamScaledByTheJobsShareOfTheHost) {
  const int cpus = read_host_info().cpu_count;
  ASSERT_GE(cpus, 2);
  auto dir = test::temp_dir();
  test::write_text(dir / "self", "0::/job\n");
  test::write_text(dir / "root" / "job" / "cpu.max", std::to_string(cpus * 50000) + " 100000\n");
  FakeDriver d;
  MeterOptions whole = fake_options(d), job = fake_options(d);
  job.proc_self_cgroup = (dir / "self").string();
  job.cgroup_root = (dir / "root").string();
  Meter a(whole), b(job);
  auto wa = a.begin("w");
  auto wb = b.begin("w");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto ra = a.end(wa), rb = b.end(wb);
  auto ram = [](const WindowResult& r) {
    for (const auto& dm : r.domains) {
      if (dm.domain == "ram") return dm;
    }
    return DomainEnergy{};
  };
  EXPECT_NEAR(ram(rb).mean_power_w, 0.5 * ram(ra).mean_power_w, 1e-9);
  EXPECT_NE(ram(rb).method.find("this job's " + format_number(cpus * 0.5) + " of " + std::to_string(cpus) +
                                " CPUs, from cgroup cpu.max"),
            std::string::npos)
      << ram(rb).method;
  EXPECT_EQ(ram(ra).method.find("this job's"), std::string::npos);
}

// The sample buffer keeps what open windows need and the last history_s, not the meter's whole life; a
// window still gets every sample inside it.
TEST(Meter, SampleBufferIsBoundedButOpenWindowsKeepTheirSamples) {
  FakeDriver d;
  MeterOptions o = fake_options(d);
  o.period_s = 0.01;
  o.history_s = 0.1;
  Meter m(o);
  m.start();
  auto w = m.begin("long");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const std::size_t while_open = m.samples_kept();
  std::vector<Sample> samples;
  auto r = m.end(w, &samples);
  EXPECT_GE(while_open, 20u);  // 0.4 s at 10 ms: all kept for the open window
  EXPECT_EQ(samples.size(), static_cast<std::size_t>(r.samples));
  EXPECT_GE(samples.front().t, w.t0());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_LE(m.samples_kept(), 20u);  // no open window: about history_s worth (0.1 s)
  m.stop();
}

TEST(Meter, CounterDeltaMatchesConstantPower) {
  FakeDriver d;
  Meter m(fake_options(d));
  ASSERT_EQ(m.gpus().size(), 2u);
  m.start();
  auto w = m.begin("work");
  sleep_s(1.0);
  auto r = m.end(w);
  const DomainEnergy* g = find(r, "gpu", "gpu0");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->method, "nvml total-energy counter delta");
  EXPECT_FALSE(g->estimated);
  // Two 100 ms steps of 200 W at most lost or gained at the window's ends.
  EXPECT_NEAR(g->energy_j, 200.0 * r.duration_s, 40.0 + 1e-9);
  EXPECT_NEAR(g->integral_energy_j, 200.0 * r.duration_s, 1e-6);
  EXPECT_GT(g->uncertainty_j, 0);
  EXPECT_NEAR(r.gpu_util_pct, 50.0, 1e-9);
  EXPECT_NEAR(r.mem_util_pct, 20.0, 1e-9);
  EXPECT_GT(r.samples, 10);
  EXPECT_NEAR(r.energy_j(energy::Domain::gpu), 2 * 200.0 * r.duration_s, 80.0);
  // Without RAPL, CPU and RAM are present and labelled estimated.
  ASSERT_NE(find(r, "cpu"), nullptr);
  EXPECT_TRUE(find(r, "cpu")->estimated);
  EXPECT_TRUE(find(r, "ram")->estimated);
  EXPECT_TRUE(has_flag(r, "cpu energy estimated"));
  auto j = r.to_json();
  EXPECT_EQ(j["domains"].size(), r.domains.size());
}

TEST(Meter, ShortWindowIsFlaggedAndNestedWindowsWork) {
  FakeDriver d;
  Meter m(fake_options(d));
  m.start();
  auto outer = m.begin("outer");
  auto inner = m.begin("inner");
  sleep_s(0.1);
  auto ri = m.end(inner);
  sleep_s(0.5);
  auto ro = m.end(outer);
  EXPECT_TRUE(has_flag(ri, "shorter than 5 counter steps"));
  EXPECT_FALSE(has_flag(ro, "shorter than 5 counter steps"));
  EXPECT_GT(ro.duration_s, ri.duration_s);
}

TEST(Meter, DeviceLostMidWindowFallsBackToPowerAndSaysSo) {
  FakeDriver d;
  Meter m(fake_options(d));
  m.start();
  auto w = m.begin("lost");
  sleep_s(0.5);
  d.energy_rc = kNvmlErrorGpuIsLost;
  auto r = m.end(w);
  const DomainEnergy* g = find(r, "gpu", "gpu0");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->method, "nvml instantaneous power x duration");
  EXPECT_NEAR(g->energy_j, 200.0 * r.duration_s, 1e-6);
  EXPECT_TRUE(has_flag(r, "GPU is lost"));
}

TEST(Meter, ThrottlingIsFlaggedAndIdleIsNot) {
  FakeDriver d;
  Meter m(fake_options(d));
  m.start();
  auto w = m.begin("calm");
  sleep_s(0.2);
  auto calm = m.end(w);
  EXPECT_FALSE(has_flag(calm, "throttled"));
  w = m.begin("hot");
  sleep_s(0.1);
  d.reasons = 0x4 | 0x1;  // software power cap
  sleep_s(0.2);
  auto hot = m.end(w);
  EXPECT_TRUE(has_flag(hot, "clocks throttled during the window (NVML reasons 0x4"));
}

TEST(Meter, CounterResetIsDetected) {
  FakeDriver d;
  Meter m(fake_options(d));
  m.start();
  auto w = m.begin("reset");
  sleep_s(0.3);
  d.counter_offset_j = -900;  // the counter restarted near zero
  auto r = m.end(w);
  EXPECT_TRUE(has_flag(r, "went backwards"));
  EXPECT_EQ(find(r, "gpu", "gpu0")->method, "nvml instantaneous power x duration");
}

TEST(Meter, SelectsGpusByIndexAndSyncsAtBoundaries) {
  FakeDriver d;
  auto o = fake_options(d);
  o.gpu_indices = {1};
  int syncs = 0;
  o.sync = [&] { ++syncs; };
  Meter m(o);
  ASSERT_EQ(m.gpus().size(), 1u);
  EXPECT_EQ(m.gpus()[0].index, 1u);
  auto w = m.begin("x");
  auto r = m.end(w);
  EXPECT_EQ(syncs, 2);
  EXPECT_NE(find(r, "gpu", "gpu1"), nullptr);
  EXPECT_EQ(find(r, "gpu", "gpu0"), nullptr);
}

TEST(Meter, SelectsGpusByUuidPrefix) {
  FakeDriver d;
  auto o = fake_options(d);
  o.gpu_uuids = {"GPU-fake-2"};  // the fake's second GPU (handles count from 1)
  Meter m(o);
  ASSERT_EQ(m.gpus().size(), 1u);
  EXPECT_EQ(m.gpus()[0].index, 1u);
  o.gpu_uuids = {"GPU-none"};
  EXPECT_TRUE(Meter(o).gpus().empty());
}

TEST(Meter, IdleBaselineGivesNetEnergy) {
  FakeDriver d;
  Meter m(fake_options(d));
  m.start();
  auto idle = m.measure_idle(0.5);
  EXPECT_NEAR(find(idle, "gpu", "gpu0")->mean_power_w, 200.0, 200.0 * 0.2 / 0.5 + 1e-9);
  d.watts = 300.0;
  auto w = m.begin("load");
  sleep_s(1.0);
  auto r = m.end(w);
  const DomainEnergy* g = find(r, "gpu", "gpu0");
  ASSERT_GE(g->idle_power_w, 0);
  EXPECT_NEAR(g->net_energy_j, g->energy_j - g->idle_power_w * r.duration_s, 1e-9);
  EXPECT_GT(g->net_energy_j, 0);
}

TEST(Rapl, FakeSysfsDomainsWrapAndErrors) {
  auto dir = test::temp_dir();
  write_rapl_zone(dir / "intel-rapl:0", "package-0", 1'000'000, 262'143'328'850);
  write_rapl_zone(dir / "intel-rapl:0" / "intel-rapl:0:0", "core", 500'000, 262'143'328'850);
  write_rapl_zone(dir / "intel-rapl:0" / "intel-rapl:0:1", "dram", 2'000'000, 65'712'999'613);
  Rapl rapl(dir.string());
  ASSERT_TRUE(rapl.available());
  ASSERT_EQ(rapl.domains().size(), 3u);
  EXPECT_EQ(rapl.domains()[0].name, "package-0");
  double j = 0;
  std::string err;
  ASSERT_TRUE(rapl.read_j(rapl.domains()[0], j, err));
  EXPECT_DOUBLE_EQ(j, 1.0);
  // Wraparound: 10 J before the maximum, then 5 J after zero.
  EXPECT_DOUBLE_EQ(Rapl::delta_j(100.0 - 10.0, 5.0, 100.0), 15.0);
  EXPECT_DOUBLE_EQ(Rapl::delta_j(3.0, 7.5, 100.0), 4.5);

  Rapl none((dir / "absent").string());
  EXPECT_FALSE(none.available());
  EXPECT_NE(none.why().find("no RAPL here"), std::string::npos);

  // An unreadable counter (here a folder where a file should be) is explained, not fatal.
  auto bad = test::temp_dir() / "bad";
  std::filesystem::create_directories(bad / "intel-rapl:0" / "energy_uj");
  test::write_text(bad / "intel-rapl:0" / "name", "package-0\n");
  test::write_text(bad / "intel-rapl:0" / "max_energy_range_uj", "1000\n");
  Rapl unreadable(bad.string());
  EXPECT_FALSE(unreadable.available());
  EXPECT_FALSE(unreadable.why().empty());
}

TEST(Meter, RaplReplacesEstimatesAndSurvivesAVanishingSensor) {
  auto dir = test::temp_dir();
  write_rapl_zone(dir / "intel-rapl:0", "package-0", 99'000'000, 100'000'000);  // 99 J of a 100 J range
  write_rapl_zone(dir / "intel-rapl:0" / "intel-rapl:0:1", "dram", 1'000'000, 100'000'000);
  FakeDriver d;
  auto o = fake_options(d, dir.string());
  Meter m(o);
  auto w = m.begin("rapl");
  // The package counter wraps: 99 J -> 100 J (wrap) -> 4 J, so 5 J were used; DRAM used 2 J.
  test::write_text(dir / "intel-rapl:0" / "energy_uj", "4000000\n");
  test::write_text(dir / "intel-rapl:0" / "intel-rapl:0:1" / "energy_uj", "3000000\n");
  auto r = m.end(w);
  const DomainEnergy* cpu = find(r, "cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_FALSE(cpu->estimated);
  EXPECT_EQ(cpu->method, "rapl energy counter delta");
  EXPECT_DOUBLE_EQ(cpu->energy_j, 5.0);
  EXPECT_DOUBLE_EQ(find(r, "ram")->energy_j, 2.0);
  EXPECT_FALSE(has_flag(r, "estimated"));

  auto w2 = m.begin("vanish");
  ASSERT_TRUE(remove_tree((dir / "intel-rapl:0" / "intel-rapl:0:1").string()));
  auto r2 = m.end(w2);
  EXPECT_TRUE(has_flag(r2, "rapl dram"));
  EXPECT_TRUE(find(r2, "ram")->estimated);  // falls back to the labelled estimate
}

// The sensor set: counters for package and DRAM, core listed but not added (it is inside the package),
// the estimates kept to stand in for an unreadable counter but listed only where no counter exists.
TEST(Sensors, MadeFromWhatTheHostHas) {
  auto dir = test::temp_dir();
  write_rapl_zone(dir / "intel-rapl:0", "package-0", 1'000'000, 100'000'000);
  write_rapl_zone(dir / "intel-rapl:0" / "intel-rapl:0:0", "core", 500'000, 100'000'000);
  Rapl rapl(dir.string());
  std::vector<GpuInfo> no_gpus;
  SensorSet set = make_sensors({nullptr, "no driver here", &no_gpus, 0.1, &rapl, cpu_power_model("x", 100), 16});
  std::vector<std::string> listed, used;
  for (const auto& s : set.listing) listed.push_back(s.name + (s.available ? "" : " (absent)"));
  for (const auto& s : set.sensors) used.push_back(s->info().name);
  EXPECT_EQ(listed, (std::vector<std::string>{"nvml (absent)", "rapl package-0", "rapl core", "ram model"}));
  EXPECT_EQ(used, (std::vector<std::string>{"rapl package-0", "cpu model", "ram model"}));
  EXPECT_EQ(set.listing[0].detail, "no driver here");

  // Each sensor read over a window by hand: 3 J from the package counter, RAM estimated at 6 W for 2 s.
  const double start = set.sensors[0]->begin_reading();
  EXPECT_DOUBLE_EQ(start, 1.0);
  test::write_text(dir / "intel-rapl:0" / "energy_uj", "4000000\n");
  const std::vector<Sample> samples;
  const CpuTimes t{};
  WindowResult r;
  auto pkg = set.sensors[0]->energy({start, samples, 2.0, t, t}, r);
  ASSERT_TRUE(pkg.has_value());
  EXPECT_DOUBLE_EQ(pkg->energy_j, 3.0);
  auto ram = set.sensors[2]->energy({std::nan(""), samples, 2.0, t, t}, r);
  EXPECT_TRUE(ram->estimated);
  EXPECT_DOUBLE_EQ(ram->energy_j, 2.0 * ram_power_w(16));
  // A counter unreadable at the window's start gives nothing and says why.
  EXPECT_FALSE(set.sensors[0]->energy({std::nan(""), samples, 2.0, t, t}, r).has_value());
  EXPECT_TRUE(has_flag(r, "rapl package-0: unreadable at window start"));
}

// Four workers measuring one host: each window gets a quarter of the host's CPU/RAM energy (RAPL and
// estimates alike), the GPU energy stays whole, and the method says so.
TEST(Meter, HostShareSplitsCpuAndRamEnergyBetweenWorkers) {
  auto dir = test::temp_dir();
  write_rapl_zone(dir / "intel-rapl:0", "package-0", 10'000'000, 100'000'000);
  FakeDriver d;
  auto o = fake_options(d, dir.string());
  o.host_share = 0.25;
  Meter m(o);
  auto w = m.begin("shared");
  test::write_text(dir / "intel-rapl:0" / "energy_uj", "18000000\n");  // 8 J used by the host
  auto r = m.end(w);
  EXPECT_DOUBLE_EQ(find(r, "cpu")->energy_j, 2.0);
  EXPECT_NE(find(r, "cpu")->method.find("x 0.25"), std::string::npos) << find(r, "cpu")->method;
  const DomainEnergy* ram = find(r, "ram");  // no RAPL dram zone: the estimate, shared too
  ASSERT_TRUE(ram->estimated);
  EXPECT_NEAR(ram->mean_power_w, 0.25 * ram_power_w(read_host_info().ram_total_gb), 1e-9);
  const DomainEnergy* gpu = find(r, "gpu", "gpu0");
  EXPECT_EQ(gpu->method.find("x 0.25"), std::string::npos);
  o.host_share = 0;
  EXPECT_THROW(Meter bad(o), InputError);
}

TEST(CpuModel, CodeCarbonFormula) {
  auto m = cpu_power_model("Some Unknown CPU");
  EXPECT_DOUBLE_EQ(m.tdp_w, 85.0);
  EXPECT_DOUBLE_EQ(m.power_w(0.0), 8.5);
  EXPECT_DOUBLE_EQ(m.power_w(1.0), 85.0);
  EXPECT_DOUBLE_EQ(m.power_w(0.5), 85.0 * (0.1 + 0.9 * 0.125));
  EXPECT_DOUBLE_EQ(cpu_power_model("Intel(R) Xeon(R) Platinum 8480+").tdp_w, 350.0);
  EXPECT_DOUBLE_EQ(cpu_power_model("x", 120).tdp_w, 120.0);
  EXPECT_DOUBLE_EQ(ram_power_w(16.0), 6.0);
}

TEST(Emissions, ExactCodeCarbonColumnsAndUnits) {
  const std::string expected =
      "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,"
      "cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,"
      "cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,"
      "longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
      "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";
  EXPECT_EQ(join(emissions_columns(), ","), expected);

  WindowResult w;
  w.duration_s = 3600;
  w.domains = {{"gpu", "gpu0 X", "nvml", false, 3.6e6, 1000, 1000},
               {"cpu", "host", "estimated", true, 1.8e6, 500, 500},
               {"ram", "host", "estimated", true, 0.36e6, 100, 100}};
  EmissionsContext ctx;
  ctx.carbon = carbon_intensity_for_country("fra");
  ctx.gpu_models = {"X"};
  auto row = emissions_row(w, ctx);
  ASSERT_EQ(row.size(), emissions_columns().size());
  auto col = [&](const std::string& name) {
    for (std::size_t i = 0; i < row.size(); ++i)
      if (emissions_columns()[i] == name) return row[i];
    return std::string("?");
  };
  EXPECT_EQ(col("gpu_energy"), "1");       // kWh
  EXPECT_EQ(col("cpu_energy"), "0.5");
  EXPECT_EQ(col("energy_consumed"), "1.6");
  EXPECT_EQ(col("emissions"), "0.107824");   // 1.6 kWh x 67.39 g/kWh (France, 2021) in kg
  EXPECT_EQ(col("gpu_power"), "1000");     // W
  EXPECT_EQ(col("country_iso_code"), "FRA");
  EXPECT_EQ(col("gpu_count"), "1");

  auto dir = test::temp_dir();
  auto csv = (dir / "emissions.csv").string();
  append_emissions_csv(csv, w, ctx);
  append_emissions_csv(csv, w, ctx);
  auto lines = split(test::read_text(csv), '\n');
  ASSERT_EQ(lines.size(), 4u);  // header, two rows, final newline
  EXPECT_EQ(lines[0], expected);
  test::write_text(dir / "other.csv", "a,b,c\n1,2,3\n");
  EXPECT_THROW(append_emissions_csv((dir / "other.csv").string(), w, ctx), InputError);
  EXPECT_EQ(test::read_text(dir / "other.csv"), "a,b,c\n1,2,3\n");  // left as it was
  // Our own file saved by other tools: a byte-order mark, CRLF line ends, no final newline. Rows still append.
  const std::string old_row = lines[1];
  test::write_text(dir / "edited.csv", "\xEF\xBB\xBF" + expected + "\r\n" + old_row);
  append_emissions_csv((dir / "edited.csv").string(), w, ctx);
  auto edited = split(test::read_text(dir / "edited.csv"), '\n');
  ASSERT_EQ(edited.size(), 4u);  // header, the old row, the new row on a line of its own, final newline
  EXPECT_EQ(edited[1], old_row);
  EXPECT_EQ(split(edited[2], ',').size(), emissions_columns().size());
  EXPECT_THROW(carbon_intensity_for_country("XYZ"), InputError);
  // Every country CodeCarbon knows, Canada among them (a DCASE example uses CAN); an unknown code is refused
  // with the closest known ones.
  EXPECT_DOUBLE_EQ(carbon_intensity_for_country("can").g_per_kwh, 128.461);
  EXPECT_EQ(carbon_intensity_for_country("CAN").country_name, "Canada");
  EXPECT_DOUBLE_EQ(carbon_intensity_for_country("ZWE").g_per_kwh, 392.279);
  try {
    carbon_intensity_for_country("FRN");
    ADD_FAILURE() << "FRN accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("closest known: FRA (France)"), std::string::npos) << e.what();
  }
  try {
    carbon_intensity_for_country("germany");
    ADD_FAILURE() << "a name accepted as a code";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("DEU (Germany)"), std::string::npos) << e.what();
  }
  ctx.pue = 1.5;  // the data centre's overhead multiplies the energy and the emissions, and is recorded
  auto with_pue = emissions_row(w, ctx);
  EXPECT_NE(std::find(with_pue.begin(), with_pue.end(), "1.5"), with_pue.end());
  EXPECT_THROW(carbon_intensity_value(-1), InputError);
}

// GPM metrics (Hopper): sampled between consecutive samples, averaged per window with clocks and temperature;
// a GPU without GPM has none, and says so.
TEST(Meter, GpmMetricsClocksAndTemperatureInTheWindow) {
  FakeDriver d;
  d.gpm = true;
  Meter m(fake_options(d));
  ASSERT_EQ(m.gpus().size(), 2u);
  EXPECT_TRUE(m.gpus()[0].has_gpm);
  EXPECT_FALSE(m.gpus()[1].has_gpm);
  auto sensors = m.sensors();
  EXPECT_NE(sensors[0].detail.find("; GPM metrics"), std::string::npos);
  EXPECT_NE(sensors[1].detail.find("no GPM metrics"), std::string::npos);
  m.start();
  auto w = m.begin("gpm");
  sleep_s(0.3);
  auto r = m.end(w);
  m.stop();
  ASSERT_GE(r.samples, 5);
  EXPECT_DOUBLE_EQ(r.gpu_activity.at("sm_util_pct"), 2.5);  // NVML_GPM_METRIC_SM_UTIL = 2
  EXPECT_DOUBLE_EQ(r.gpu_activity.at("dram_bw_util_pct"), 10.5);
  EXPECT_DOUBLE_EQ(r.gpu_activity.at("tensor_util_pct"), 5.5);
  EXPECT_DOUBLE_EQ(r.gpu_activity.at("sm_clock_mhz"), 1980);
  EXPECT_DOUBLE_EQ(r.gpu_activity.at("temperature_c_max"), 40);
  EXPECT_DOUBLE_EQ(r.to_json()["gpu_activity"]["fp16_util_pct"].get<double>(), 13.5);
  // Without GPM: clocks and temperature only.
  FakeDriver plain;
  Meter p(fake_options(plain));
  p.start();
  auto w2 = p.begin("plain");
  sleep_s(0.1);
  auto r2 = p.end(w2);
  EXPECT_EQ(r2.gpu_activity.count("sm_util_pct"), 0u);
  EXPECT_EQ(r2.gpu_activity.count("sm_clock_mhz"), 1u);
}

// CUDA and NVML number GPUs differently; the PCI bus id names the same GPU in both.
TEST(Meter, SelectsGpusByPciBusId) {
  EXPECT_EQ(normalize_pci_bus_id("00000000:1B:00.0"), "0000:1b:00.0");
  EXPECT_EQ(normalize_pci_bus_id("0000:1b:00.0"), "0000:1b:00.0");
  EXPECT_EQ(normalize_pci_bus_id("1b:00.0"), "0000:1b:00.0");
  EXPECT_EQ(normalize_pci_bus_id("GPU-1234"), "");
  FakeDriver d;
  auto o = fake_options(d);
  o.gpu_pci_bus_ids = {"0000:02:00.0"};  // the fake's second GPU (handle 2)
  Meter m(o);
  ASSERT_EQ(m.gpus().size(), 1u);
  EXPECT_EQ(m.gpus()[0].index, 1u);
  o.gpu_pci_bus_ids = {"0000:09:00.0"};
  EXPECT_TRUE(Meter(o).gpus().empty());
}

// Without a CUDA driver (this machine), CUDA_VISIBLE_DEVICES' entries are read in CUDA's order; an invalid
// entry ends the list as CUDA does, and an empty list means no GPU.
TEST(Meter, CudaVisibleDevicesSelectTheProgramsGpus) {
  MeterOptions mo;
  EXPECT_FALSE(select_cuda_visible(nullptr, -1, mo));
  if (const auto bus = cuda_pci_bus_id(0); !bus.empty()) {
    // A CUDA driver with a GPU (the GPU machine): the driver maps the entries, by PCI bus id.
    std::string note;
    ASSERT_TRUE(select_cuda_visible("0", -1, mo, &note));
    EXPECT_EQ(mo.gpu_pci_bus_ids, (std::vector<std::string>{bus}));
    EXPECT_NE(note.find("by PCI bus id: " + bus), std::string::npos) << note;
    GTEST_SKIP() << "reading the entries as NVML ids is the path of a machine without a CUDA driver";
  }
  std::string note;
  ASSERT_TRUE(select_cuda_visible("1,GPU-fake-1,x,0", -1, mo, &note));
  EXPECT_EQ(mo.gpu_indices, (std::vector<unsigned>{1}));
  EXPECT_EQ(mo.gpu_uuids, (std::vector<std::string>{"GPU-fake-1"}));
  EXPECT_NE(note.find("CUDA_VISIBLE_DEVICES=1,GPU-fake-1,x,0"), std::string::npos);
  MeterOptions one;
  ASSERT_TRUE(select_cuda_visible("3,1", 1, one));  // CUDA device 1 is NVML GPU 1 here
  EXPECT_EQ(one.gpu_indices, (std::vector<unsigned>{1}));
  MeterOptions none;
  ASSERT_TRUE(select_cuda_visible("-1", -1, none));
  EXPECT_FALSE(none.use_gpus);
  FakeDriver d;
  auto o = fake_options(d);
  ASSERT_TRUE(select_cuda_visible("1", -1, o));
  Meter m(o);
  ASSERT_EQ(m.gpus().size(), 1u);
  EXPECT_EQ(m.gpus()[0].index, 1u);
}

// Attribution: with gpus_by_process a window keeps the GPUs on which the owner's tree (here this test and a
// child of it) holds a context; a process outside the tree on a kept GPU is flagged with its SM share.
TEST(Meter, GpusByProcessKeepsTheProgramsGpusAndFlagsOthers) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  FakeDriver d;
  d.contexts[1] = {{static_cast<unsigned>(getpid()), 30}, {static_cast<unsigned>(child), 10}, {1, 60}};
  auto o = fake_options(d);
  o.owner_pid = getpid();
  o.gpus_by_process = true;
  o.process_check_s = 0.02;
  Meter m(o);
  auto r = one_window(m, "train", 0.3);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_EQ(r.energy_j(energy::Domain::gpu) > 0, true);
  ASSERT_NE(find(r, "gpu", "gpu1"), nullptr);
  EXPECT_EQ(find(r, "gpu", "gpu0"), nullptr);  // no context of the program there
  EXPECT_NE(r.gpu_selection.find("held a context (NVML running processes): gpu1"), std::string::npos) << r.gpu_selection;
  ASSERT_EQ(r.gpu_sharing.count("gpu1"), 1u);
  EXPECT_EQ(r.gpu_sharing["gpu1"].other_pids, (std::vector<unsigned>{1}));
  EXPECT_NEAR(r.gpu_sharing["gpu1"].other_sm_share, 0.6, 1e-9);  // 60 / (30 + 10 + 60)
  EXPECT_TRUE(has_flag(r, "gpu1: shared: 1 other process held a context during the window (60% of the SM"));
  EXPECT_EQ(m.gpus_in(r).size(), 1u);
  auto back = WindowResult::from_json(r.to_json());  // the record keeps it
  EXPECT_EQ(back.gpu_selection, r.gpu_selection);
  EXPECT_EQ(back.gpu_sharing["gpu1"].other_pids, (std::vector<unsigned>{1}));
  EXPECT_NEAR(back.gpu_sharing["gpu1"].other_sm_share, 0.6, 1e-9);
}

// Selected GPUs (not by process) stay measured; the program alone on them gives no sharing flag; NVML that
// cannot list processes leaves every GPU measured, flagged, when the choice was to be made by process.
TEST(Meter, SharingNeedsAnotherProcessAndAnUnknownListIsSaid) {
  FakeDriver d;
  d.contexts[0] = {{static_cast<unsigned>(getpid()), 50}};
  auto o = fake_options(d);
  o.owner_pid = getpid();
  o.process_check_s = 0.02;
  o.gpu_indices = {0, 1};
  o.gpu_selection = "--gpus 0,1";
  Meter m(o);
  auto r = one_window(m, "alone", 0.2);
  EXPECT_EQ(m.gpus_in(r).size(), 2u);
  EXPECT_TRUE(r.gpu_sharing.empty());
  EXPECT_FALSE(has_flag(r, "shared"));
  EXPECT_EQ(r.gpu_selection, "--gpus 0,1");

  d.processes_rc = kNvmlErrorNoPermission;
  o.gpus_by_process = true;
  o.gpu_indices.clear();
  Meter blind(o);
  r = one_window(blind, "blind", 0.2);
  EXPECT_EQ(blind.gpus_in(r).size(), 2u);
  EXPECT_TRUE(has_flag(r, "could not tell which GPUs the program used (listing gpu")) << r.to_json().dump(1);
  EXPECT_THROW(([&] {
                 auto bad = o;
                 bad.process_check_s = 0;
                 Meter x(bad);
               })(),
               InputError);
}

// measure's choice of GPUs: Slurm's allocation (NVML indices) when CUDA_VISIBLE_DEVICES cannot be mapped,
// CUDA_VISIBLE_DEVICES' entries, else by process. A bad Slurm list is refused by name.
TEST(Meter, ProgramGpusFromSlurmCudaOrProcesses) {
  std::map<std::string, std::string> vars;
  auto env = [&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  MeterOptions by_process;
  EXPECT_NE(select_program_gpus(by_process, env).find("held a context"), std::string::npos);
  EXPECT_TRUE(by_process.gpus_by_process);
  vars = {{"SLURM_JOB_GPUS", "2,3"}, {"CUDA_VISIBLE_DEVICES", "0,1"}};
  if (const auto bus = cuda_pci_bus_id(0); !bus.empty()) {
    // A CUDA driver with a GPU (the GPU machine) maps CUDA_VISIBLE_DEVICES itself, ahead of Slurm's list.
    MeterOptions mapped;
    EXPECT_NE(select_program_gpus(mapped, env).find("by PCI bus id: " + bus), std::string::npos);
    ASSERT_FALSE(mapped.gpu_pci_bus_ids.empty());
    EXPECT_EQ(mapped.gpu_pci_bus_ids.front(), bus);
    GTEST_SKIP() << "Slurm's list and unmapped entries are the path of a machine without a CUDA driver";
  }
  MeterOptions slurm;
  EXPECT_EQ(select_program_gpus(slurm, env), "the GPUs Slurm gave this job: SLURM_JOB_GPUS=2,3 (NVML indices)");
  EXPECT_EQ(slurm.gpu_indices, (std::vector<unsigned>{2, 3}));
  EXPECT_FALSE(slurm.gpus_by_process);
  vars = {{"SLURM_STEP_GPUS", "1"}, {"SLURM_JOB_GPUS", "2,3"}};
  MeterOptions step;
  select_program_gpus(step, env);
  EXPECT_EQ(step.gpu_indices, (std::vector<unsigned>{1}));  // the step's own GPUs first
  vars = {{"CUDA_VISIBLE_DEVICES", "1"}};
  MeterOptions cuda;
  EXPECT_NE(select_program_gpus(cuda, env).find("CUDA_VISIBLE_DEVICES=1"), std::string::npos);
  EXPECT_EQ(cuda.gpu_indices, (std::vector<unsigned>{1}));
  vars = {{"SLURM_JOB_GPUS", "gpu:a100:2"}};
  MeterOptions bad;
  EXPECT_THROW(select_program_gpus(bad, env), InputError);
}

// The process tree from /proc: a real child is in this process's tree, init is not; a command name with
// spaces and parentheses does not confuse the parent's field.
TEST(ProcessTree, ChildrenAreInTheTreeAndOddCommandNamesParse) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  EXPECT_EQ(parent_pid(child), getpid());
  EXPECT_TRUE(in_process_tree(child, getpid()));
  EXPECT_TRUE(in_process_tree(getpid(), getpid()));
  EXPECT_FALSE(in_process_tree(1, getpid()));
  EXPECT_FALSE(in_process_tree(getpid(), child));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(parent_pid(child), 0);  // gone
  auto dir = test::temp_dir();
  test::write_text(dir / "77" / "stat", "77 (a b) c) (d) S 42 77 77 0 -1\n");
  EXPECT_EQ(parent_pid(77, dir.string()), 42);
  test::write_text(dir / "42" / "stat", "42 (init-like) S 1 42 42\n");
  EXPECT_TRUE(in_process_tree(77, 42, dir.string()));
  EXPECT_FALSE(in_process_tree(77, 5, dir.string()));
}

// Another process's CPU seconds (the Python loop's worker, issue 33): utime + stime in clock ticks from its
// stat, whatever its command name; a real busy child's grow; 0 for a process that is gone.
TEST(ProcessTree, AnotherProcessCpuSecondsComeFromItsStat) {
  auto dir = test::temp_dir();
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  test::write_text(dir / "77" / "stat", "77 (py (worker)) R 42 77 77 0 -1 4194304 10 0 0 0 " +
                                            std::to_string(static_cast<int>(3 * tick)) + " " +
                                            std::to_string(static_cast<int>(tick / 2)) + " 0 0 20 0 1 0 99\n");
  EXPECT_NEAR(process_cpu_seconds(77, dir.string()), 3.5, 1e-9);
  EXPECT_EQ(process_cpu_seconds(78, dir.string()), 0);
  const pid_t child = fork();
  if (child == 0) {
    for (volatile long i = 0;; ++i) {
    }
  }
  const double t0 = monotonic_s();
  while (process_cpu_seconds(child) < 0.2 && monotonic_s() - t0 < 20) usleep(20000);
  EXPECT_GE(process_cpu_seconds(child), 0.2);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(process_cpu_seconds(child), 0);
}

// A claim's holder: a process identity ("host:pid:start") stays "may be running" while the process lives,
// and not once it has ended, even if its PID is used again (another start time); another host's cannot
// be judged from here and is left alone.
TEST(ProcessTree, AnEndedProcessIdentityIsNotRunning) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  const std::string id = process_identity(child);
  EXPECT_TRUE(process_may_be_running(id)) << id;
  EXPECT_TRUE(process_may_be_running(process_identity(getpid())));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_FALSE(process_may_be_running(id)) << id;
  const std::string mine = process_identity(getpid());
  const std::string reused = mine.substr(0, mine.rfind(':')) + ":1";  // this PID, another start time
  EXPECT_FALSE(process_may_be_running(reused));
  EXPECT_TRUE(process_may_be_running("some-other-host.example:" + std::to_string(getpid()) + ":1"));
  EXPECT_TRUE(process_may_be_running("worker-3"));  // not an identity: a multi-GPU worker's name
}

// Inside a container NVML's PIDs are the host's: none is this program's, none is in /proc here. The GPUs
// holding such PIDs are measured and the record says that sharing cannot be judged (never "no GPU used").
TEST(Meter, PidsOfAnotherNamespaceKeepTheirGpusAndSaySo) {
  auto dir = test::temp_dir();  // an empty /proc: every PID is foreign to it
  FakeDriver d;
  d.contexts[1] = {{4242, 90}};
  auto o = fake_options(d);
  o.owner_pid = getpid();
  o.gpus_by_process = true;
  o.process_check_s = 0.02;
  o.proc_root = dir.string();
  Meter m(o);
  auto r = one_window(m, "container", 0.2);
  ASSERT_EQ(m.gpus_in(r).size(), 1u);
  EXPECT_EQ(m.gpus_in(r)[0].index, 1u);
  EXPECT_TRUE(r.gpu_sharing.empty());
  EXPECT_TRUE(has_flag(r, "NVML reports PIDs that are not in this PID namespace")) << r.to_json().dump(1);
}

TEST(Records, WindowTotalsAddEachDomainOverItsDevicesWithTheirMethods) {
  using energy::Domain;
  energy::WindowResult w;
  w.domains = {
      {"gpu", "gpu0 NVIDIA H100 80GB HBM3", "nvml total-energy counter delta", false, 100, 250, 300, 99, 2, 60, 40},
      {"gpu", "gpu1 NVIDIA H100 80GB HBM3", "nvml total-energy counter delta", false, 50, 125, 150, 51, -1, -1, -1},
      {"cpu", "package-0", "estimated: CodeCarbon's model", true, 30, 15, 15, -1, -1, -1, -1},
      {"ram", "host", "estimated: 3 W per 8 GB", true, 6, 3, 3, -1, -1, -1, -1}};
  const auto t = energy::totals(w);
  EXPECT_DOUBLE_EQ(t.energy_j, 186);
  EXPECT_DOUBLE_EQ(t.of(Domain::gpu), 150);
  EXPECT_DOUBLE_EQ(t.of(Domain::cpu), 30);
  EXPECT_DOUBLE_EQ(t.of(Domain::ram), 6);
  EXPECT_EQ(t.method(Domain::gpu), "nvml total-energy counter delta");  // two GPUs, one method: said once
  EXPECT_TRUE(t.measured(Domain::gpu));
  EXPECT_DOUBLE_EQ(t.power_w(Domain::gpu), 375);
  EXPECT_DOUBLE_EQ(t.power_w(Domain::cpu), 15);
  EXPECT_DOUBLE_EQ(t.gpu_uncertainty_j, 2);      // only gpu0's reading gives one
  EXPECT_DOUBLE_EQ(t.net_gpu_energy_j, 40);      // only gpu0 had an idle baseline
  EXPECT_TRUE(t.estimated);
  EXPECT_EQ(t.gpu_names, "NVIDIA H100 80GB HBM3, NVIDIA H100 80GB HBM3");
  EXPECT_DOUBLE_EQ(w.energy_j(Domain::gpu), t.of(Domain::gpu));
  const auto none = energy::totals(energy::WindowResult{});
  EXPECT_FALSE(none.measured(Domain::gpu));
  EXPECT_LT(none.net_gpu_energy_j, 0);
}

TEST(Records, AFlagsKindIsDecidedInOnePlace) {
  using energy::FlagKind;
  EXPECT_EQ(energy::estimate_flag(energy::Domain::cpu, "no RAPL"), "cpu energy estimated (no RAPL)");
  EXPECT_EQ(energy::flag_kind(energy::estimate_flag(energy::Domain::ram, "no RAPL dram domain")), FlagKind::estimate);
  EXPECT_EQ(energy::flag_kind("cpu energy estimated (no RAPL)"), FlagKind::estimate);  // as older files stored it
  EXPECT_EQ(energy::flag_kind("gpu0: clocks throttled during the window"), FlagKind::validity);
  EXPECT_EQ(energy::flag_kind("window shorter than 5 counter steps: energy is badly quantised"), FlagKind::validity);
}

// --train-threads and the workers of --devices: which CPUs each gets.
TEST(Host, CpuSharesAndTheLastCpus) {
  const std::vector<int> cpus = {0, 1, 2, 3, 4, 5, 6, 8, 9};
  EXPECT_EQ(cpu_share(cpus, 0, 2), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(cpu_share(cpus, 1, 2), (std::vector<int>{4, 5, 6, 8}));  // the remainder (9) left out
  EXPECT_EQ(cpu_share(cpus, 0, 1), cpus);
  EXPECT_EQ(cpu_share({0, 1}, 3, 4), (std::vector<int>{1}));  // more workers than CPUs: at least one each
  EXPECT_EQ(last_cpus(cpus, 2), (std::vector<int>{8, 9}));
  EXPECT_EQ(last_cpus(cpus, 20), cpus);
  EXPECT_EQ(cpu_list_text(cpus), "0-6,8-9");
  EXPECT_EQ(cpu_list_text({3}), "3");
  const auto mine = allowed_cpus();  // this process: at least one, each once, ascending
  ASSERT_FALSE(mine.empty());
  EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
}
