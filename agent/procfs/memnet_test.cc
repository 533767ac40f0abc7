// Parsers of the memory/network/disk collectors: /proc/net files, mdstat, mountinfo and
// rtnetlink messages. Checks node_exporter's acceptance rules and that truncated or garbage
// input fails cleanly instead of crashing.

#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/procfs/mdstat.h"
#include "agent/procfs/mountinfo.h"
#include "agent/procfs/net.h"
#include "agent/procfs/rtnetlink.h"
#include "tests/support/shared.h"

namespace agent::procfs {
namespace {

std::string Fixture(const std::string& rel) {
  std::ifstream in(tests::SharedDir() + "/peer/node_exporter/fixtures/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(NetStatTest, PairsAndSnmp6) {
  std::vector<NetStatEntry> e;
  ASSERT_TRUE(ParseNetStatPairs("TcpExt: A B\nTcpExt: 1 2\nIpExt: C\nIpExt: 3\n", e).ok());
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[1].protocol, "TcpExt");
  EXPECT_EQ(e[1].name, "B");
  EXPECT_EQ(e[1].value, "2");
  EXPECT_FALSE(ParseNetStatPairs("TcpExt: A B\nTcpExt: 1\n", e).ok());  // count mismatch
  EXPECT_FALSE(ParseNetStatPairs("TcpExt: A B\n", e).ok());             // no value line
  e.clear();
  ParseSnmp6("Ip6InOctets 460\nUdpLite6InErrors   0\nnosix 1\nshort\n", e);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].protocol, "UdpLite6");
  EXPECT_EQ(e[1].name, "InErrors");
}

TEST(SockstatTest, FixtureAndErrors) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/proc/net/sockstat");
  Sockstat s;
  ASSERT_TRUE(ParseSockstat(Fixture("proc/net/sockstat"), s).ok());
  ASSERT_TRUE(s.used.has_value());
  EXPECT_EQ(*s.used, 229);
  ASSERT_EQ(s.protocols[0].name, "TCP");
  EXPECT_EQ(s.protocols[0].inuse, 4);
  EXPECT_EQ(*s.protocols[0].mem, 1);
  EXPECT_FALSE(s.protocols[2].mem.has_value());  // UDPLITE: inuse only
  EXPECT_FALSE(ParseSockstat("TCP: inuse 4 orphan\n", s).ok());
  EXPECT_FALSE(ParseSockstat("TCP: inuse x\n", s).ok());
  EXPECT_FALSE(ParseSockstat("TCP:\n", s).ok());
}

TEST(NetDevTest, Parse) {
  std::vector<NetDevLine> d;
  std::string text =
      "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n"
      "    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
  ASSERT_TRUE(ParseNetDev(text, d).ok());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].name, "lo");
  EXPECT_EQ(d[0].values[15], 16u);
  EXPECT_FALSE(ParseNetDev("h\nh\nlo: 1 2 3\n", d).ok());
  EXPECT_FALSE(ParseNetDev("h\nh\nno colon here\n", d).ok());
}

TEST(ArpTest, FixtureAndErrors) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/proc/net/arp");
  std::vector<std::string_view> dev;
  std::string text = Fixture("proc/net/arp");
  ASSERT_TRUE(ParseArp(text, dev).ok());
  EXPECT_EQ(dev.size(), 7u);
  EXPECT_EQ(dev[0], "eth0");
  EXPECT_FALSE(ParseArp("1.2.3.4 0x1 0x2 zz:zz:zz:zz:zz:zz * eth0\n", dev).ok());
  EXPECT_FALSE(ParseArp("1.2.3.4 0x1 0x2\n", dev).ok());
}

TEST(UdpQueuesTest, Fixture) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/proc/net/udp");
  uint64_t tx, rx;
  ASSERT_TRUE(ParseUdpQueues(Fixture("proc/net/udp"), tx, rx).ok());
  EXPECT_EQ(tx, 0x15u);
  EXPECT_EQ(rx, 0u);
  EXPECT_FALSE(ParseUdpQueues("header\n 0: a b c\n", tx, rx).ok());
}

TEST(MdStatTest, Fixture) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/proc/mdstat");
  std::string text = Fixture("proc/mdstat");
  std::vector<MdStat> md;
  ASSERT_TRUE(ParseMdStat(text, md).ok());
  auto find = [&](std::string_view n) -> const MdStat& {
    for (const auto& m : md) {
      if (m.name == n) return m;
    }
    static MdStat none;
    ADD_FAILURE() << "no " << n;
    return none;
  };
  EXPECT_EQ(find("md3").disks_total, 8);
  EXPECT_EQ(find("md3").disks_spare, 2);
  EXPECT_EQ(find("md6").activity_state, "recovering");
  EXPECT_EQ(find("md6").blocks_synced, 16775552);
  EXPECT_EQ(find("md6").disks_down, 1);
  EXPECT_EQ(find("md201").activity_state, "checking");
  EXPECT_EQ(find("md9").blocks_synced, 0);   // resync=DELAYED
  EXPECT_EQ(find("md101").disks_active, 3);  // raid0: members counted on the device line
  EXPECT_EQ(find("md219").activity_state, "inactive");
  EXPECT_EQ(find("md219").disks_spare, 3);
  EXPECT_EQ(md.size(), 17u);

  // Every truncation either parses or fails cleanly.
  for (size_t n = 0; n <= text.size(); ++n) (void)ParseMdStat(text.substr(0, n), md);
  EXPECT_FALSE(ParseMdStat("md0 : active raid1 sda[0]\n      x blocks\n\n\n", md).ok());
}

TEST(MountInfoTest, Line) {
  std::vector<std::string_view> f;
  MountInfo mi;
  ASSERT_TRUE(
      ParseMountInfoLine(
          "28 27 0:25 / /mnt/a\\040b ro,nosuid shared:1 master:2 - tmpfs none rw,size=4k", mi, f)
          .ok());
  EXPECT_EQ(mi.mount_point, "/mnt/a\\040b");
  EXPECT_EQ(mi.fs_type, "tmpfs");
  EXPECT_EQ(mi.source, "none");
  EXPECT_EQ(mi.minor, 25u);
  EXPECT_TRUE(HasMountOption(mi.options, "ro"));
  EXPECT_FALSE(HasMountOption(mi.super_options, "ro"));
  EXPECT_FALSE(HasMountOption("rorelatime,rw", "ro"));
  EXPECT_FALSE(ParseMountInfoLine("1 2 3:4 / /", mi, f).ok());
  EXPECT_FALSE(ParseMountInfoLine("1 2 3:4 / / rw x y z w", mi, f).ok());  // no separator
  EXPECT_FALSE(ParseMountInfoLine("1 2 34 / / rw - a b c", mi, f).ok());   // bad major:minor
}

// Builds one netlink message with an ifinfomsg and the given attributes.
void AppendLink(std::string& buf, int index, const char* name, const void* stats, size_t len,
                uint16_t stats_type) {
  std::string msg(NLMSG_SPACE(sizeof(struct ifinfomsg)), '\0');
  auto add_attr = [&](uint16_t type, const void* data, size_t n) {
    size_t off = msg.size();
    msg.resize(off + RTA_SPACE(n), '\0');
    auto* a = reinterpret_cast<struct rtattr*>(&msg[off]);
    a->rta_type = type;
    a->rta_len = static_cast<uint16_t>(RTA_LENGTH(n));
    std::memcpy(RTA_DATA(a), data, n);
  };
  add_attr(IFLA_IFNAME, name, std::strlen(name) + 1);
  add_attr(stats_type, stats, len);
  auto* h = reinterpret_cast<struct nlmsghdr*>(msg.data());
  h->nlmsg_len = static_cast<uint32_t>(msg.size());
  h->nlmsg_type = RTM_NEWLINK;
  auto* ifi = reinterpret_cast<struct ifinfomsg*>(NLMSG_DATA(h));
  ifi->ifi_index = index;
  buf += msg;
}

TEST(RtnetlinkTest, ParseLinks) {
  std::string buf;
  uint64_t s64[kLinkStatCount];
  for (int i = 0; i < kLinkStatCount; ++i) s64[i] = 100 + i;
  AppendLink(buf, 1, "lo", s64, sizeof s64, IFLA_STATS64);
  uint32_t s32[23];  // an older kernel's shorter struct, without rx_nohandler
  for (int i = 0; i < 23; ++i) s32[i] = 200 + i;
  AppendLink(buf, 2, "eth0", s32, sizeof s32, IFLA_STATS);
  struct nlmsghdr done = {};
  done.nlmsg_len = NLMSG_LENGTH(0);
  done.nlmsg_type = NLMSG_DONE;
  buf.append(reinterpret_cast<const char*>(&done), sizeof done);

  std::vector<Link> links;
  bool finished = false;
  ASSERT_TRUE(ParseLinkMessages(buf.data(), buf.size(), links, finished).ok());
  EXPECT_TRUE(finished);
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].name(), "lo");
  EXPECT_EQ(links[0].stats[kRxNoHandler], 100u + kRxNoHandler);
  EXPECT_EQ(links[1].name(), "eth0");
  EXPECT_EQ(links[1].index, 2);
  EXPECT_EQ(links[1].stats[kTxCompressed], 222u);
  EXPECT_EQ(links[1].stats[kRxNoHandler], 0u);

  // Truncated buffers fail (or stop) without reading past the end.
  for (size_t n = 0; n < buf.size(); ++n) {
    std::vector<Link> l;
    bool d = false;
    (void)ParseLinkMessages(buf.data(), n, l, d);
  }
}

}  // namespace
}  // namespace agent::procfs
