// Parity of lookout-agent with node_exporter on node_exporter's own e2e fixtures
// (shared/peer/node_exporter/README.md): same paths, upstream's e2e flags that our --help lists,
// the same line filter, then a family-by-family comparison of TYPE and sample lines.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/process.h"
#include "tests/support/shared.h"
#include "tests/support/ttar.h"

namespace tests {
namespace {

namespace fs = std::filesystem;

struct Family {
  std::string type_line;
  std::vector<std::string> samples;
};

// Families keyed by name, from an exposition, after upstream's e2e line filter.
std::map<std::string, Family> ParseFamilies(const std::string& text) {
  static const std::regex kSkip(
      "^(go_|node_exporter_build_info|lookout_agent_build_info|node_scrape_collector_duration_seconds|process_|"
      "node_textfile_mtime_seconds|node_time_(zone|seconds)|node_network_(receive|transmit)_"
      "(bytes|packets)_total)");
  std::map<std::string, Family> fams;
  std::istringstream in(text);
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream ls(line.substr(7));
      ls >> current;
      fams[current].type_line = line;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    if (std::regex_search(line, kSkip)) continue;
    fams[current].samples.push_back(line);
  }
  // Drop families left without samples (metadata-only after the filter).
  for (auto it = fams.begin(); it != fams.end();) {
    it = it->second.samples.empty() ? fams.erase(it) : std::next(it);
  }
  return fams;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Upstream's e2e flags (README, step 2). The sysfs and udev trees are unpacked under
// tmp/collector/fixtures and given relative to tmp, the agent's working directory, because
// some labels (rapl's path) carry the --path.sysfs value as upstream passed it.
std::vector<std::string> UpstreamFlags(const std::string& fx, const std::string&) {
  std::vector<std::string> f = {
      "--path.rootfs=" + fx, "--path.procfs=" + fx + "/proc",
      "--path.sysfs=collector/fixtures/sys", "--path.udev.data=collector/fixtures/udev/data"};
  for (const char* c :
       {"arp", "bcache", "bcachefs", "bonding", "btrfs", "buddyinfo", "cgroups", "conntrack", "cpu",
        "cpufreq", "cpu_vulnerabilities", "diskstats", "dmi", "drbd", "edac", "entropy",
        "fibrechannel", "filefd", "hwmon", "infiniband", "interrupts", "ipvs", "kernel_hung", "ksmd",
        "lnstat", "loadavg", "mdadm", "meminfo", "meminfo_numa", "mountstats", "netdev", "netstat",
        "nfs", "nfsd", "pcidevice", "pressure", "processes", "qdisc", "rapl", "schedstat",
        "slabinfo", "sockstat", "softirqs", "stat", "sysctl", "textfile", "thermal_zone",
        "udp_queues", "vmstat", "watchdog", "wifi", "xfrm", "xfs", "zfs", "zoneinfo"}) {
    f.push_back(std::string("--collector.") + c);
  }
  for (const char* c : {"selinux", "filesystem", "timex", "uname"}) {
    f.push_back(std::string("--no-collector.") + c);
  }
  for (const std::string& s : std::vector<std::string>{
           "--collector.cpu.info",
           "--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$",
           "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$",
           "--collector.arp.device-exclude=nope", "--no-collector.arp.netlink",
           "--collector.bcache.priorityStats",
           "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)",
           "--collector.netclass.ignore-invalid-speed",
           "--collector.netclass.ignored-devices=(dmz|int)",
           "--collector.netdev.device-include=lo", "--collector.qdisc.device-include=(wlan0|eth0)",
           "--collector.qdisc.fixtures=" + fx + "/qdisc/", "--collector.stat.softirq",
           "--collector.sysctl.include-info=kernel.seccomp.actions_avail",
           "--collector.sysctl.include=fs.file-nr",
           "--collector.sysctl.include=fs.file-nr:total,current,max",
           "--collector.sysctl.include=kernel.threads-max",
           "--collector.textfile.directory=" + fx + "/textfile/two_metric_files/",
           "--collector.wifi.fixtures=" + fx + "/wifi"}) {
    f.push_back(s);
  }
  return f;
}

TEST(AgentE2E, ParityWithNodeExporterFixtures) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/e2e-output.txt");
  std::string fx = SharedDir() + "/peer/node_exporter/fixtures";
  std::string tmp = fs::temp_directory_path() / ("lookout-e2e-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  ASSERT_TRUE(ExtractTtar(fx + "/sys.ttar", tmp + "/collector/fixtures").ok());
  ASSERT_TRUE(ExtractTtar(fx + "/udev.ttar", tmp + "/collector/fixtures").ok());
  std::string agent = fs::absolute(BuildDir() + "/agent/lookout-agent").string();

  // Keep only the flags our --help lists (as upstream's script drops unsupported ones).
  RunResult help = RunCommand({agent, "--help"}, std::chrono::seconds(10));
  ASSERT_EQ(help.exit_code, 0) << help.err;
  std::vector<std::string> argv = {agent, "--once"};
  std::vector<std::string> dropped;
  for (const std::string& flag : UpstreamFlags(fx, tmp)) {
    std::string name = flag.substr(0, flag.find('='));
    std::string positive = name.rfind("--no-", 0) == 0 ? "--" + name.substr(5) : name;
    std::regex listed("(^|[\\s,])(" + std::regex_replace(name, std::regex("[.]"), "\\.") +
                      ")([\\s,={\\[]|$)");
    if (std::regex_search(help.out, listed)) {
      argv.push_back(flag);
    } else {
      dropped.push_back(name);
    }
  }
  RunResult run = RunCommand(argv, std::chrono::seconds(60), tmp);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  auto expected = ParseFamilies(ReadAll(fx + "/e2e-output.txt"));
  auto got = ParseFamilies(run.out);
  int identical = 0, different = 0, missing = 0;
  std::vector<std::string> diffs, missing_names, extra;
  for (const auto& [name, exp] : expected) {
    if (name.rfind("node_scrape_collector_", 0) == 0) continue;  // checked below
    auto it = got.find(name);
    if (it == got.end()) {
      ++missing;
      missing_names.push_back(name);
      continue;
    }
    if (it->second.type_line == exp.type_line && it->second.samples == exp.samples) {
      ++identical;
      continue;
    }
    ++different;
    std::ostringstream d;
    d << name << ":\n  expected " << exp.type_line << "\n  got      " << it->second.type_line;
    size_t n = std::max(exp.samples.size(), it->second.samples.size());
    int shown = 0;
    for (size_t i = 0; i < n && shown < 6; ++i) {
      std::string e = i < exp.samples.size() ? exp.samples[i] : "(none)";
      std::string g = i < it->second.samples.size() ? it->second.samples[i] : "(none)";
      if (e != g) {
        d << "\n  - " << e << "\n  + " << g;
        ++shown;
      }
    }
    diffs.push_back(d.str());
  }
  for (const auto& [name, fam] : got) {
    if (!expected.count(name) && name.rfind("node_scrape_collector_", 0) != 0) extra.push_back(name);
  }
  // Every collector we ran succeeded on the fixtures, as it does for node_exporter.
  std::vector<std::string> failed_collectors;
  for (const std::string& s : got["node_scrape_collector_success"].samples) {
    if (s.size() > 2 && s.substr(s.size() - 2) == " 0") failed_collectors.push_back(s);
  }

  std::printf("dropped upstream flags (not in --help): %zu\n", dropped.size());
  for (const auto& m : missing_names) std::printf("missing: %s\n", m.c_str());
  for (const auto& e : extra) std::printf("extra (not in expected output): %s\n", e.c_str());
  for (const auto& d : diffs) std::printf("different: %s\n", d.c_str());
  std::printf("identical %d, different %d, missing %d\n", identical, different, missing);
  EXPECT_TRUE(failed_collectors.empty()) << ::testing::PrintToString(failed_collectors);
  EXPECT_EQ(different, 0) << "families of implemented collectors differ";
  EXPECT_TRUE(extra.empty()) << "families node_exporter does not produce on the fixtures";
  const int floor = std::getenv("LOOKOUT_E2E_FLOOR") ? std::atoi(std::getenv("LOOKOUT_E2E_FLOOR")) : 500;
  EXPECT_GE(identical, floor);
  fs::remove_all(tmp);
}

// The textfile collector on each of node_exporter's textfile fixtures gives the samples of the
// fixture's expected output (<dir>.out); HELP texts are our own, mtimes and scrape timings vary.
TEST(AgentE2E, TextfileFixturesMatchExpectedOutput) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/textfile");
  std::string dir = SharedDir() + "/peer/node_exporter/fixtures/textfile";
  std::string agent = fs::absolute(BuildDir() + "/agent/lookout-agent").string();
  auto filter = [](const std::string& text) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) {
      if (line.rfind("# HELP", 0) == 0 || line.find("node_scrape_collector") != std::string::npos ||
          line.find("node_textfile_mtime_seconds") != std::string::npos) {
        continue;
      }
      out += line + "\n";
    }
    return out;
  };
  int compared = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".out") continue;
    std::string name = e.path().stem().string();
    std::string arg = dir + "/" + name;
    if (name == "glob_extra_dimension") arg = dir + "/*_extra_dimension";
    if (name == "nonexistent_path") arg = dir + "/nonexistent_path";
    RunResult r = RunCommand({agent, "--once", "--collector.disable-defaults", "--collector.textfile",
                              "--web.disable-exporter-metrics", "--collector.textfile.directory=" + arg},
                             std::chrono::seconds(20), dir);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(filter(r.out), filter(ReadAll(e.path().string()))) << name;
    ++compared;
  }
  EXPECT_GE(compared, 15);
}

}  // namespace
}  // namespace tests
