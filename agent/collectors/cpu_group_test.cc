// Tests of the CPU-side collectors (stat, cpu, cpufreq, schedstat, softnet, pressure, vmstat,
// entropy, filefd, time, os, ksmd, cpu_vulnerabilities, softirqs, interrupts) on small trees
// written per test. The e2e parity test covers node_exporter's fixtures; these cover the edges.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/collector.h"

namespace agent {
namespace {

namespace fs = std::filesystem;

class CpuGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("lookout-cpu-group-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    ctx_.paths.procfs = root_ + "/proc";
    ctx_.paths.sysfs = root_ + "/sys";
    ctx_.paths.rootfs = root_;
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const std::string& rel, const std::string& content) {
    fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }

  // Creates collector `name` with its flag defaults, then `flags` (name=value) on top.
  std::unique_ptr<Collector> Make(const std::string& name,
                                  std::vector<std::pair<std::string, std::string>> flags = {}) {
    for (const CollectorInfo& c : AllCollectors()) {
      if (c.name != name) continue;
      CollectorContext ctx = ctx_;
      for (const FlagSpec& f : c.flags) {
        if (f.kind != FlagSpec::Kind::kList) ctx.flags.Set(f.name, f.default_value);
      }
      for (auto& [k, v] : flags) ctx.flags.Set(k, v);
      auto made = c.make(ctx);
      EXPECT_TRUE(made.ok()) << made.status().ToString();
      return made.ok() ? std::move(made).value() : nullptr;
    }
    ADD_FAILURE() << "no collector " << name;
    return nullptr;
  }

  // Runs one pass; returns the exposition and sets `st`.
  std::string Scrape(Collector& c, Status* st = nullptr) {
    MetricSet set;
    Status s = c.Update(set);
    if (st != nullptr) *st = s;
    std::string out;
    common::metrics::Encoder enc;
    const MetricSet* sets[] = {&set};
    enc.Encode(sets, out);
    return out;
  }

  static bool Has(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
  }

  std::string root_;
  CollectorContext ctx_;
};

TEST_F(CpuGroupTest, CpuCountersNeverGoBackwardsAndResetOnHotplug) {
  auto c = Make("cpu");
  ASSERT_NE(c, nullptr);
  Write("proc/stat", "cpu0 100 0 0 100000 0 0 0 0 0 0\n");
  std::string out = Scrape(*c);
  EXPECT_TRUE(Has(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1000")) << out;
  // Idle back by one second, user back a little: both keep their old values.
  Write("proc/stat", "cpu0 90 0 0 99900 0 0 0 0 0 0\n");
  out = Scrape(*c);
  EXPECT_TRUE(Has(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1000")) << out;
  EXPECT_TRUE(Has(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 1")) << out;
  // Idle back by more than three seconds: a hot-plugged CPU, counters start over.
  Write("proc/stat", "cpu0 5 0 0 500 0 0 0 0 0 0\n");
  out = Scrape(*c);
  EXPECT_TRUE(Has(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 5")) << out;
  EXPECT_TRUE(Has(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 0.05")) << out;
  EXPECT_TRUE(Has(out, "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0")) << out;
}

TEST_F(CpuGroupTest, CpuThrottlesOncePerCoreAndPackage) {
  Write("proc/stat", "cpu0 1 1 1 1 1 1 1 1 1 1\n");
  for (int cpu : {0, 1, 2}) {
    std::string d = "sys/devices/system/cpu/cpu" + std::to_string(cpu);
    Write(d + "/topology/physical_package_id", "0\n");
    Write(d + "/topology/core_id", cpu == 2 ? "1\n" : "0\n");  // cpu0/cpu1 are siblings
    Write(d + "/thermal_throttle/package_throttle_count", std::to_string(10 + cpu) + "\n");
    if (cpu != 2) {
      Write(d + "/thermal_throttle/core_throttle_count", std::to_string(cpu + 1) + "\n");
    }
  }
  Write("sys/devices/system/cpu/cpu3/topology/core_id", "3\n");  // no package id: skipped
  auto c = Make("cpu", {{"collector.cpu.guest", "false"}});
  ASSERT_NE(c, nullptr);
  Status st;
  std::string out = Scrape(*c, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Has(out, "node_cpu_package_throttles_total{package=\"0\"} 10")) << out;
  EXPECT_TRUE(Has(out, "node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 1")) << out;
  EXPECT_EQ(out.find("core=\"1\""), std::string::npos) << out;
  EXPECT_EQ(out.find("node_cpu_guest_seconds_total"), std::string::npos) << out;
  EXPECT_EQ(out.find("node_cpu_online"), std::string::npos) << out;  // no cpu0/online
}

TEST_F(CpuGroupTest, CpuInfoFiltersAndBadRegex) {
  Write("proc/stat", "cpu0 1 1 1 1 1 1 1 1 1 1\n");
  Write("proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: V\ncpu MHz\t\t: 1000.5\nphysical id\t: 0\ncore id\t\t: 0\n"
        "flags\t\t: fpu aes avx2 avx512f\nbugs\t\t: mds\npower management:\n\n"
        "processor\t: 1\ncpu MHz\t\t: 2000\nphysical id\t: 0\ncore id\t\t: 1\nflags\t\t: sse\n");
  auto c = Make("cpu", {{"collector.cpu.info.flags-include", "^avx.?$"}});
  ASSERT_NE(c, nullptr);
  Status st;
  std::string out = Scrape(*c, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Has(out, "node_cpu_flag_info{flag=\"avx2\"} 1")) << out;
  EXPECT_EQ(out.find("avx512f"), std::string::npos) << out;
  EXPECT_EQ(out.find("node_cpu_bug_info"), std::string::npos) << out;  // no bugs filter
  EXPECT_TRUE(Has(out, "node_cpu_frequency_hertz{core=\"0\",cpu=\"0\",package=\"0\"} 1.0005e+09"))
      << out;
  EXPECT_TRUE(Has(out, "node_cpu_frequency_hertz{core=\"1\",cpu=\"1\",package=\"0\"} 2e+09"))
      << out;

  for (const CollectorInfo& info : AllCollectors()) {
    if (info.name != "cpu") continue;
    CollectorContext ctx = ctx_;
    ctx.flags.Set("collector.cpu.info.bugs-include", "(");
    EXPECT_FALSE(info.make(ctx).ok());
  }
  Write("proc/cpuinfo", "vendor_id : V\n");
  Scrape(*c, &st);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
}

TEST_F(CpuGroupTest, CpufreqSkipsCpusWithoutDriverAndNeedsOfflineFile) {
  auto c = Make("cpufreq");
  ASSERT_NE(c, nullptr);
  std::string d = "sys/devices/system/cpu/cpu0/cpufreq/";
  Write(d + "scaling_cur_freq", "800000\n");
  Write(d + "cpuinfo_max_freq", "3000000\n");
  Write(d + "scaling_available_governors", "performance powersave\n");
  Write(d + "scaling_governor", "performance\n");
  for (const char* f : {"scaling_driver", "related_cpus", "scaling_setspeed"}) Write(d + f, "x\n");
  Write("sys/devices/system/cpu/cpu1/topology/core_id", "0\n");
  Write("sys/devices/system/cpu/cpu2/cpufreq/scaling_cur_freq", "1\n");
  Status st;
  Scrape(*c, &st);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();   // no "offline" file
  Write("sys/devices/system/cpu/offline", "2\n");  // cpu2 is offline
  std::string out = Scrape(*c, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Has(out, "node_cpu_scaling_frequency_hertz{cpu=\"0\"} 8e+08")) << out;
  EXPECT_TRUE(Has(out, "node_cpu_frequency_max_hertz{cpu=\"0\"} 3e+09")) << out;
  EXPECT_TRUE(Has(out, "node_cpu_scaling_governor{cpu=\"0\",governor=\"performance\"} 1")) << out;
  EXPECT_TRUE(Has(out, "node_cpu_scaling_governor{cpu=\"0\",governor=\"powersave\"} 0")) << out;
  EXPECT_EQ(out.find("cpu=\"2\""), std::string::npos) << out;
  Write(d + "scaling_min_freq", "garbage\n");
  Scrape(*c, &st);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
}

TEST_F(CpuGroupTest, PressureResources) {
  auto c = Make("pressure");
  ASSERT_NE(c, nullptr);
  Status st;
  Scrape(*c, &st);
  EXPECT_FALSE(st.ok());  // no PSI at all
  Write("proc/pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\n");
  Write("proc/pressure/irq", "full avg10=0.00 avg60=0.00 avg300=0.00 total=8494\n");
  std::string out = Scrape(*c, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Has(out, "node_pressure_cpu_waiting_seconds_total 14.036781000000001")) << out;
  EXPECT_TRUE(Has(out, "node_pressure_irq_stalled_seconds_total 0.008494")) << out;
  Write("proc/pressure/io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n");  // no "full"
  Scrape(*c, &st);
  EXPECT_FALSE(st.ok());
  Write("proc/pressure/io", "some avg10=x avg60=0.00 avg300=0.00 total=1\n");
  Scrape(*c, &st);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
}

TEST_F(CpuGroupTest, SoftnetIndexColumnAndWidth) {
  auto c = Make("softnet");
  ASSERT_NE(c, nullptr);
  Write("proc/net/softnet_stat",
        "0000000a 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000003 "
        "00000004 00000005 00000006 00000007\n");
  Status st;
  std::string out = Scrape(*c, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Has(out, "node_softnet_processed_total{cpu=\"7\"} 10")) << out;
  EXPECT_TRUE(Has(out, "node_softnet_backlog_len{cpu=\"7\"} 6")) << out;
  Write("proc/net/softnet_stat", "0000000a 00000001\n");
  Scrape(*c, &st);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
}

TEST_F(CpuGroupTest, InterruptsFiltersAndZeros) {
  Write("proc/interrupts",
        "           CPU0       CPU1\n"
        "  0:         18          0  IR-IO-APIC    2-edge      timer\n"
        " 16:          1          2  IR-IO-APIC   16-fasteoi   ehci_hcd:usb1, mmc0\n"
        "NMI:          0          5   Non-maskable interrupts\n"
        "ERR:          0\n");
  auto c = Make("interrupts", {{"collector.interrupts.include-zeros", "false"},
                               {"collector.interrupts.name-exclude", "^0;"}});
  ASSERT_NE(c, nullptr);
  Status st;
  std::string out = Scrape(*c, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Has(out,
                  "node_interrupts_total{cpu=\"1\",devices=\"16-fasteoi ehci_hcd:usb1, mmc0\","
                  "info=\"IR-IO-APIC\",type=\"16\"} 2"))
      << out;
  // NMI on cpu1 only: the zero on cpu0 is dropped.
  size_t nmi = out.find("type=\"NMI\"");
  ASSERT_NE(nmi, std::string::npos) << out;
  EXPECT_EQ(out.find("type=\"NMI\"", nmi + 1), std::string::npos) << out;
  EXPECT_NE(out.find("info=\"Non-maskable interrupts\",type=\"NMI\"} 5"), std::string::npos);
  EXPECT_EQ(out.find("type=\"0\""), std::string::npos) << out;  // excluded
  EXPECT_EQ(out.find("ERR"), std::string::npos);
}

TEST_F(CpuGroupTest, OsReleaseQuotingAndFallback) {
  auto c = Make("os");
  ASSERT_NE(c, nullptr);
  Status st;
  Scrape(*c, &st);
  EXPECT_FALSE(st.ok());  // neither file
  Write("usr/lib/os-release",
        "# comment\nNAME='Some OS'\nID=some\nID_LIKE=other\nVERSION_ID=\"2023.10.1\"\n"
        "PRETTY_NAME=\"Some \\\"OS\\\" 2023\"\nSUPPORT_END=2030-01-02\n");
  std::string out = Scrape(*c, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(out.find("pretty_name=\"Some \\\"OS\\\" 2023\""), std::string::npos) << out;
  EXPECT_TRUE(Has(out, "node_os_version{id=\"some\",id_like=\"other\",name=\"Some OS\"} 2023.1"))
      << out;
  EXPECT_TRUE(Has(out, "node_os_support_end_timestamp_seconds 1.8935424e+09")) << out;
  Write("etc/os-release", "NAME=\"unterminated\n");  // etc wins over usr/lib
  Scrape(*c, &st);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
}

TEST_F(CpuGroupTest, VmstatFieldsAndKsmdOptionalFiles) {
  Write("proc/vmstat", "nr_free_pages 5\npgfault 7\noom_kill 1\npgmajfault 2\n");
  auto v = Make("vmstat", {{"collector.vmstat.fields", "^pg"}});
  ASSERT_NE(v, nullptr);
  std::string out = Scrape(*v);
  EXPECT_TRUE(Has(out, "node_vmstat_pgfault 7")) << out;
  EXPECT_TRUE(Has(out, "node_vmstat_pgmajfault 2")) << out;
  EXPECT_EQ(out.find("oom_kill"), std::string::npos) << out;

  Write("sys/kernel/mm/ksm/run", "1\n");
  Write("sys/kernel/mm/ksm/general_profit", "-4096\n");
  Write("sys/kernel/mm/ksm/sleep_millisecs", "20\n");
  auto k = Make("ksmd");
  ASSERT_NE(k, nullptr);
  Status st;
  out = Scrape(*k, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Has(out, "node_ksmd_general_profit_bytes -4096")) << out;
  EXPECT_TRUE(Has(out, "node_ksmd_sleep_seconds 0.02")) << out;
}

// Truncated, empty or garbage files fail the collector with a Status and never crash it.
TEST_F(CpuGroupTest, GarbageFilesFailCleanly) {
  struct Case {
    const char* collector;
    const char* file;
    const char* must_fail;  // content that fails the collector; nullptr: a missing file
  };
  const Case cases[] = {
      {"stat", "proc/stat", "ctxt 1x\n"},
      {"schedstat", "proc/schedstat", nullptr},
      {"softnet", "proc/net/softnet_stat", "x y z\n"},
      {"vmstat", "proc/vmstat", "pgfault\n"},
      {"entropy", "proc/sys/kernel/random/entropy_avail", "x\n"},
      {"filefd", "proc/sys/fs/file-nr", "1 2\n"},
      {"softirqs", "proc/softirqs", ""},
      {"interrupts", "proc/interrupts", ""},
      {"cpu_vulnerabilities", "sys/devices/system/cpu/vulnerabilities/mds", "Weird\n"},
      {"ksmd", "sys/kernel/mm/ksm/run", "x\n"},
  };
  for (const Case& k : cases) {
    auto c = Make(k.collector);
    ASSERT_NE(c, nullptr);
    for (const char* garbage : {"\x01\x02\xff garbage: 1 x y\n", "cpu0 1 x\nvmstat\n", "HI: 1 a\n",
                                "   CPU0\n 5: x y\n", "1\t2\n", "\n\n", ""}) {
      Write(k.file, garbage);
      Status st;
      Scrape(*c, &st);  // must not crash; the result depends on the content
    }
    Status st;
    if (k.must_fail != nullptr) {
      Write(k.file, k.must_fail);
    } else {
      fs::remove(fs::path(root_) / k.file);
    }
    Scrape(*c, &st);
    EXPECT_FALSE(st.ok()) << k.collector;
  }
}

}  // namespace
}  // namespace agent
