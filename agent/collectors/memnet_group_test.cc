// Tests of the memory/network/disk collectors (meminfo, netstat, sockstat, diskstats, netdev,
// conntrack, arp, udp_queues, mdadm, filesystem, textfile) on small trees written per test, plus
// the textfile fixtures through the registered collector and the real encoder. The e2e parity
// test covers node_exporter's fixture tree; these cover flags, errors and edges.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "agent/collector.h"
#include "tests/support/shared.h"

namespace agent {
namespace {

namespace fs = std::filesystem;

class MemnetGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("lookout-memnet-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    ctx_.paths.procfs = root_ + "/proc";
    ctx_.paths.sysfs = root_ + "/sys";
    ctx_.paths.rootfs = root_;
    ctx_.paths.udev_data = root_ + "/udev";
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const std::string& rel, const std::string& content) {
    fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }

  // Creates collector `name` with its flag defaults, then `flags` on top (list flags append).
  Result<std::unique_ptr<Collector>> Make(
      const std::string& name, std::vector<std::pair<std::string, std::string>> flags = {}) {
    for (const CollectorInfo& c : AllCollectors()) {
      if (c.name != name) continue;
      CollectorContext ctx = ctx_;
      for (const FlagSpec& f : c.flags) {
        if (f.kind != FlagSpec::Kind::kList) ctx.flags.Set(f.name, f.default_value);
      }
      for (auto& [k, v] : flags) {
        bool list = false;
        for (const FlagSpec& f : c.flags)
          list = list || (f.name == k && f.kind == FlagSpec::Kind::kList);
        if (list) {
          ctx.flags.Append(k, v);
        } else {
          ctx.flags.Set(k, v);
        }
      }
      return c.make(ctx);
    }
    return Status::NotFound("no collector " + name);
  }

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

  // Sample lines only.
  static std::string Samples(const std::string& text) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != '#') out += line + "\n";
    }
    return out;
  }

  std::string root_;
  CollectorContext ctx_;
};

TEST_F(MemnetGroupTest, MeminfoConvertsKilobytes) {
  Write("proc/meminfo",
        "MemTotal:       100 kB\nHugePages_Total:       3\nUnknownKey:  5 kB\n"
        "Active(anon):    2 kB\n");
  auto c = Make("meminfo");
  ASSERT_TRUE(c.ok());
  Status st;
  std::string out = Samples(Scrape(**c, &st));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out,
            "node_memory_Active_anon_bytes 2048\n"
            "node_memory_HugePages_Total 3\n"
            "node_memory_MemTotal_bytes 102400\n");
  Write("proc/meminfo", "MemTotal: 100 MB\n");
  Scrape(**c, &st);
  EXPECT_FALSE(st.ok());
  Write("proc/meminfo", "MemTotal: lots kB\n");
  Scrape(**c, &st);
  EXPECT_FALSE(st.ok());
}

TEST_F(MemnetGroupTest, NetstatFieldsFlagAndOptionalSnmp6) {
  Write("proc/net/netstat", "TcpExt: ListenDrops Other\nTcpExt: 3 4\n");
  Write("proc/net/snmp", "Udp: InDatagrams NoPorts\nUdp: 5 6\n");
  auto c = Make("netstat");
  ASSERT_TRUE(c.ok());
  Status st;
  std::string out = Samples(Scrape(**c, &st));
  ASSERT_TRUE(st.ok()) << st.ToString();  // no snmp6: IPv6 disabled
  EXPECT_EQ(out,
            "node_netstat_TcpExt_ListenDrops 3\n"
            "node_netstat_Udp_InDatagrams 5\n"
            "node_netstat_Udp_NoPorts 6\n");
  auto all = Make("netstat", {{"collector.netstat.fields", "^TcpExt_Other$"}});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Samples(Scrape(**all)), "node_netstat_TcpExt_Other 4\n");
  EXPECT_FALSE(Make("netstat", {{"collector.netstat.fields", "(("}}).ok());
  Write("proc/net/snmp", "Udp: InDatagrams\nUdp: x\n");  // unparsable even though filtered out
  Scrape(**all, &st);
  EXPECT_FALSE(st.ok());
}

TEST_F(MemnetGroupTest, DiskstatsFiltersAndUdev) {
  Write("proc/diskstats",
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
        "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11\n"
        "   7       0 loop0 1 2 3 4 5 6 7 8 9 10 11\n"
        "   9       0 short 1 2 3\n");
  Write("udev/b8:0",
        "S:disk/by-id/x\nE:ID_MODEL=Disk\nE:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=bad\n");
  auto c = Make("diskstats");
  ASSERT_TRUE(c.ok());
  Status st;
  std::string out = Samples(Scrape(**c, &st));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(
      out.find("node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"Disk\",path=\"\","
               "revision=\"\",rotational=\"0\",serial=\"\",wwn=\"\"} 1\n"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("node_disk_read_bytes_total{device=\"sda\"} 1536\n"), std::string::npos);
  EXPECT_EQ(out.find("sda1"), std::string::npos);  // default device-exclude
  EXPECT_EQ(out.find("loop0"), std::string::npos);
  EXPECT_EQ(out.find("short"), std::string::npos);          // fewer than 14 fields
  EXPECT_EQ(out.find("rotation_rate"), std::string::npos);  // unparsable udev value skipped
  EXPECT_EQ(out.find("discard"), std::string::npos);        // 11 counters only

  EXPECT_FALSE(Make("diskstats", {{"collector.diskstats.device-include", "sda"}}).ok());
  auto inc = Make("diskstats", {{"collector.diskstats.device-include", "^sda1$"},
                                {"collector.diskstats.device-exclude", ""}});
  ASSERT_TRUE(inc.ok());
  out = Samples(Scrape(**inc));
  EXPECT_NE(out.find("sda1"), std::string::npos);
  EXPECT_EQ(out.find("\"sda\""), std::string::npos);

  Write("proc/diskstats", "   8       0 sda 1 2 x 4 5 6 7 8 9 10 11\n");
  Scrape(**c, &st);
  EXPECT_FALSE(st.ok());
}

TEST_F(MemnetGroupTest, NetdevProcAndFilters) {
  Write("proc/net/dev",
        "Inter-|   Receive\n face |bytes\n"
        "    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
        "  eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
  auto c = Make("netdev", {{"collector.netdev.netlink", "false"},
                           {"collector.netdev.device-exclude", "^eth"}});
  ASSERT_TRUE(c.ok());
  std::string out = Samples(Scrape(**c));
  EXPECT_NE(out.find("node_network_receive_errs_total{device=\"lo\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("node_network_transmit_colls_total{device=\"lo\"} 14\n"), std::string::npos);
  EXPECT_EQ(out.find("eth0"), std::string::npos);
  EXPECT_EQ(out.find("nohandler"), std::string::npos);  // netlink only

  auto detailed = Make("netdev", {{"collector.netdev.netlink", "false"},
                                  {"collector.netdev.enable-detailed-metrics", "true"}});
  ASSERT_TRUE(detailed.ok());
  EXPECT_NE(Samples(Scrape(**detailed)).find("node_network_receive_errors_total{device=\"lo\"} 3"),
            std::string::npos);

  Write("sys/class/net/lo/ifalias", "loopback\n");
  auto alias = Make("netdev", {{"collector.netdev.netlink", "false"},
                               {"collector.netdev.label-ifalias", "true"}});
  ASSERT_TRUE(alias.ok());
  out = Samples(Scrape(**alias));
  EXPECT_NE(out.find("node_network_receive_bytes_total{device=\"lo\",ifalias=\"loopback\"} 1"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("node_network_receive_bytes_total{device=\"eth0\"} 0"), std::string::npos);

  EXPECT_FALSE(Make("netdev", {{"collector.netdev.device-include", "a"},
                               {"collector.netdev.device-exclude", "b"}})
                   .ok());
}

TEST_F(MemnetGroupTest, ArpProcFileAndFilter) {
  Write("proc/net/arp",
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "10.0.0.1    0x1         0x2         aa:bb:cc:dd:ee:ff     *        eth0\n"
        "10.0.0.2    0x1         0x2         aa:bb:cc:dd:ee:00     *        eth0\n"
        "10.0.0.3    0x1         0x2         aa:bb:cc:dd:ee:01     *        wlan0\n");
  auto c =
      Make("arp", {{"collector.arp.netlink", "false"}, {"collector.arp.device-exclude", "wlan"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Samples(Scrape(**c)), "node_arp_entries{device=\"eth0\"} 2\n");
}

TEST_F(MemnetGroupTest, ConntrackAndUdpQueuesReportNoData) {
  auto ct = Make("conntrack");
  ASSERT_TRUE(ct.ok());
  Status st;
  Scrape(**ct, &st);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  auto udp = Make("udp_queues");
  ASSERT_TRUE(udp.ok());
  Scrape(**udp, &st);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  Write(
      "proc/net/udp6",
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
      "inode\n"
      "   0: 00000000:0016 00000000:0000 07 00000010:00000020 00:00000000 00000000     0        0 "
      "2740 1\n");
  std::string out = Samples(Scrape(**udp, &st));
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out,
            "node_udp_queues{ip=\"v6\",queue=\"rx\"} 32\n"
            "node_udp_queues{ip=\"v6\",queue=\"tx\"} 16\n");
}

TEST_F(MemnetGroupTest, MdadmWithoutMdstatIsNoData) {
  auto c = Make("mdadm");
  ASSERT_TRUE(c.ok());
  Status st;
  Scrape(**c, &st);
  EXPECT_TRUE(st.IsNotFound());
  Write("proc/mdstat", "Personalities : [raid1]\nunused devices: <none>\n");
  Write("sys/block/md0/md/level", "raid5\n");
  Write("sys/block/md0/md/raid_disks", "3\n");
  Write("sys/block/md0/md/degraded", "1\n");
  std::string out = Samples(Scrape(**c, &st));
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "node_md_degraded{device=\"md0\"} 1\nnode_md_raid_disks{device=\"md0\"} 3\n");
}

TEST_F(MemnetGroupTest, FilesystemStatsMountsUnderRootfs) {
  fs::create_directories(root_ + "/data");
  Write("proc/1/mountinfo",
        "1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
        "2 1 8:2 / /data ro,relatime shared:1 - ext4 /dev/sda2 rw\n"
        "3 1 0:5 / /missing rw - xfs /dev/sdb1 rw\n"
        "4 1 0:6 / /proc rw - proc proc rw\n"
        "5 1 0:7 / /sys/x rw - tmpfs tmpfs rw\n"
        "6 1 0:8 / /run rw - overlay overlay rw\n");
  auto c = Make("filesystem");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status st;
  std::string out = Samples(Scrape(**c, &st));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(out.find("node_filesystem_readonly{device=\"/dev/sda2\",device_error=\"\","
                     "fstype=\"ext4\",mountpoint=\"/data\"} 1\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("node_filesystem_mount_info{device=\"/dev/sda2\",major=\"8\",minor=\"2\","
                     "mountpoint=\"/data\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("node_filesystem_device_error{device=\"/dev/sdb1\",device_error=\"no such "
                     "file or directory\",fstype=\"xfs\",mountpoint=\"/missing\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(out.find("size_bytes{device=\"/dev/sdb1\""), std::string::npos);
  EXPECT_EQ(out.find("/proc"), std::string::npos);  // default mount-points-exclude
  EXPECT_EQ(out.find("/sys/x"), std::string::npos);
  EXPECT_EQ(out.find("overlay"), std::string::npos);  // default fs-types-exclude

  // An include alone drops the default exclude.
  auto inc = Make("filesystem", {{"collector.filesystem.mount-points-include", "^/sys/x$"}});
  ASSERT_TRUE(inc.ok()) << inc.status().ToString();
  out = Samples(Scrape(**inc));
  EXPECT_NE(out.find("mountpoint=\"/sys/x\""), std::string::npos);
  EXPECT_EQ(out.find("mountpoint=\"/data\""), std::string::npos);
  EXPECT_FALSE(Make("filesystem", {{"collector.filesystem.mount-timeout", "soon"}}).ok());
  EXPECT_FALSE(Make("filesystem", {{"collector.filesystem.mount-points-include", "a"},
                                   {"collector.filesystem.mount-points-exclude", "b"}})
                   .ok());

  Write("proc/1/mountinfo", "1 0 8:1 / / rw\n");
  Scrape(**c, &st);
  EXPECT_FALSE(st.ok());
}

// The scalar textfile fixtures through the registered collector and the real encoder.
TEST_F(MemnetGroupTest, TextfileFixturesThroughEncoder) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/textfile");
  std::string base = tests::SharedDir() + "/peer/node_exporter";
  auto cwd = fs::current_path();
  fs::current_path(base);
  for (const char* name :
       {"two_metric_files", "inconsistent_metrics", "metrics_merge_same_help",
        "metrics_merge_no_help", "metrics_merge_empty_help", "metrics_merge_different_help",
        "no_metric_files", "nonexistent_path", "client_side_timestamp"}) {
    auto c = Make("textfile",
                  {{"collector.textfile.directory", std::string("fixtures/textfile/") + name}});
    ASSERT_TRUE(c.ok());
    Status st;
    std::string got = Scrape(**c, &st);
    EXPECT_TRUE(st.ok());
    std::ifstream in(std::string("fixtures/textfile/") + name + ".out");
    std::stringstream want;
    want << in.rdbuf();
    // Our HELP texts for node_textfile_* are our own, and real mtimes replace node_exporter's
    // test value of 1.
    auto normalize = [](const std::string& s) {
      std::string out;
      std::istringstream is(s);
      std::string line;
      static const std::regex mtime("^(node_textfile_mtime_seconds\\{.*\\}) .*$");
      while (std::getline(is, line)) {
        if (line.rfind("# HELP node_textfile_", 0) == 0) continue;
        out += std::regex_replace(line, mtime, "$1 1") + "\n";
      }
      return out;
    };
    EXPECT_EQ(normalize(got), normalize(want.str())) << name;
  }
  fs::current_path(cwd);
}

}  // namespace
}  // namespace agent
