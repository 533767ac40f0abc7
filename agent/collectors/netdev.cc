// netdev: node_network_<stat>_total{device} counters per network interface, from rtnetlink link
// statistics (the default, --collector.netdev.netlink) or /proc/net/dev
// (--no-collector.netdev.netlink), plus node_network_address_info with
// --collector.netdev.address-info.
//
// As node_exporter 1.12: without --collector.netdev.enable-detailed-metrics the netlink counters
// are folded into the /proc/net/dev names the kernel prints (receive_drop includes missed
// errors, receive_frame the length/over/crc errors, transmit_carrier the aborted/heartbeat/window
// errors). receive_nohandler exists only with netlink. --collector.netdev.label-ifalias adds an
// "ifalias" label to the interfaces found under /sys/class/net.

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <bit>
#include <cstring>
#include <string>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"
#include "agent/procfs/net.h"
#include "agent/procfs/rtnetlink.h"

namespace agent {
namespace {

constexpr char kIncludeFlag[] = "collector.netdev.device-include";
constexpr char kExcludeFlag[] = "collector.netdev.device-exclude";
constexpr char kOldIncludeFlag[] = "collector.netdev.device-whitelist";
constexpr char kOldExcludeFlag[] = "collector.netdev.device-blacklist";
constexpr char kAddressInfoFlag[] = "collector.netdev.address-info";
constexpr char kDetailedFlag[] = "collector.netdev.enable-detailed-metrics";
constexpr char kNetlinkFlag[] = "collector.netdev.netlink";
constexpr char kIfAliasFlag[] = "collector.netdev.label-ifalias";

using procfs::LinkStat;

struct Options {
  procfs::RegexFilter filter;
  bool address_info = false;
  bool detailed = false;
  bool netlink = true;
  bool ifalias = false;
};

// Go's net.IP scope classification used by node_exporter.
std::string_view Scope(const struct sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const struct sockaddr_in*>(sa)->sin_addr.s_addr);
    if ((a >> 24) == 127) return "link-local";                      // loopback
    if ((a >> 16) == 0xa9fe) return "link-local";                   // 169.254/16
    if ((a >> 8) == 0xe00000) return "link-local";                  // 224.0.0/24
    if (a == 0 || (a >> 28) == 0xe || a == 0xffffffffu) return "";  // unspecified,
    return "global";                                                // mcast, bcast
  }
  const uint8_t* b = reinterpret_cast<const struct sockaddr_in6*>(sa)->sin6_addr.s6_addr;
  static const uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const uint8_t kZero[16] = {};
  if (std::memcmp(b, kLoopback, 16) == 0) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xff && (b[1] & 0x0f) == 0x02) return "link-local";
  if (b[0] == 0xff && (b[1] & 0x0f) == 0x01) return "interface-local";
  if (b[0] == 0xff || std::memcmp(b, kZero, 16) == 0) return "";
  return "global";
}

int PrefixLength(const struct sockaddr* mask) {
  if (mask == nullptr) return 0;
  const uint8_t* b;
  size_t n;
  if (mask->sa_family == AF_INET) {
    b = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const struct sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else {
    b = reinterpret_cast<const struct sockaddr_in6*>(mask)->sin6_addr.s6_addr;
    n = 16;
  }
  // Go's IPMask.Size: the count of leading ones, or 0 for a non-canonical mask.
  int ones = 0;
  size_t i = 0;
  for (; i < n && b[i] == 0xff; ++i) ones += 8;
  if (i < n) {
    int lead = std::countl_one(b[i]);
    if (static_cast<uint8_t>(b[i] << lead) != 0) return 0;
    ones += lead;
    for (++i; i < n; ++i) {
      if (b[i] != 0) return 0;
    }
  }
  return ones;
}

class NetdevCollector : public Collector {
 public:
  NetdevCollector(const CollectorContext& ctx, Options opts)
      : proc_path_(ctx.paths.Proc("net/dev")),
        class_net_(ctx.paths.Sys("class/net")),
        opts_(std::move(opts)) {}

  Status Update(MetricSet& out) override {
    if (opts_.ifalias) LOOKOUT_RETURN_IF_ERROR(LoadAliases());
    if (opts_.netlink) {
      LOOKOUT_RETURN_IF_ERROR(procfs::DumpLinks(links_, nl_buf_).Annotate("netlink link dump"));
      for (const procfs::Link& l : links_) {
        if (opts_.filter.Ignored(l.name()) || !l.has_stats) continue;
        EmitNetlink(out, l);
      }
    } else {
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(proc_path_, buf_));
      LOOKOUT_RETURN_IF_ERROR(procfs::ParseNetDev(buf_, dev_lines_).Annotate(proc_path_));
      for (const procfs::NetDevLine& d : dev_lines_) {
        if (opts_.filter.Ignored(d.name)) continue;
        EmitProc(out, d);
      }
    }
    if (opts_.address_info) return AddressInfo(out);
    return Status::Ok();
  }

 private:
  void Emit(MetricSet& out, std::string_view device, std::string_view key, uint64_t v) {
    name_.assign("node_network_").append(key).append("_total");
    help_.assign("Interface counter ").append(key).append(".");
    const std::string* alias = nullptr;
    if (opts_.ifalias) {
      for (size_t i = 0; i < alias_count_; ++i) {
        if (aliases_[i].first == device) {
          alias = &aliases_[i].second;
          break;
        }
      }
    }
    if (alias != nullptr) {
      out.Counter(name_, help_, static_cast<double>(v), {{"device", device}, {"ifalias", *alias}});
    } else {
      out.Counter(name_, help_, static_cast<double>(v), {{"device", device}});
    }
  }

  void EmitNetlink(MetricSet& out, const procfs::Link& l) {
    const uint64_t* s = l.stats;
    std::string_view dev = l.name();
    Emit(out, dev, "receive_packets", s[procfs::kRxPackets]);
    Emit(out, dev, "transmit_packets", s[procfs::kTxPackets]);
    Emit(out, dev, "receive_bytes", s[procfs::kRxBytes]);
    Emit(out, dev, "transmit_bytes", s[procfs::kTxBytes]);
    Emit(out, dev, "receive_compressed", s[procfs::kRxCompressed]);
    Emit(out, dev, "transmit_compressed", s[procfs::kTxCompressed]);
    Emit(out, dev, "receive_nohandler", s[procfs::kRxNoHandler]);
    if (opts_.detailed) {
      static constexpr std::pair<LinkStat, std::string_view> kRaw[] = {
          {procfs::kRxErrors, "receive_errors"},
          {procfs::kTxErrors, "transmit_errors"},
          {procfs::kRxDropped, "receive_dropped"},
          {procfs::kTxDropped, "transmit_dropped"},
          {procfs::kMulticast, "multicast"},
          {procfs::kCollisions, "collisions"},
          {procfs::kRxLengthErrors, "receive_length_errors"},
          {procfs::kRxOverErrors, "receive_over_errors"},
          {procfs::kRxCrcErrors, "receive_crc_errors"},
          {procfs::kRxFrameErrors, "receive_frame_errors"},
          {procfs::kRxFifoErrors, "receive_fifo_errors"},
          {procfs::kRxMissedErrors, "receive_missed_errors"},
          {procfs::kTxAbortedErrors, "transmit_aborted_errors"},
          {procfs::kTxCarrierErrors, "transmit_carrier_errors"},
          {procfs::kTxFifoErrors, "transmit_fifo_errors"},
          {procfs::kTxHeartbeatErrors, "transmit_heartbeat_errors"},
          {procfs::kTxWindowErrors, "transmit_window_errors"},
      };
      for (const auto& [stat, key] : kRaw) Emit(out, dev, key, s[stat]);
      return;
    }
    Emit(out, dev, "receive_errs", s[procfs::kRxErrors]);
    Emit(out, dev, "receive_drop", s[procfs::kRxDropped] + s[procfs::kRxMissedErrors]);
    Emit(out, dev, "receive_fifo", s[procfs::kRxFifoErrors]);
    Emit(out, dev, "receive_frame",
         s[procfs::kRxFrameErrors] + s[procfs::kRxLengthErrors] + s[procfs::kRxOverErrors] +
             s[procfs::kRxCrcErrors]);
    Emit(out, dev, "receive_multicast", s[procfs::kMulticast]);
    Emit(out, dev, "transmit_errs", s[procfs::kTxErrors]);
    Emit(out, dev, "transmit_drop", s[procfs::kTxDropped]);
    Emit(out, dev, "transmit_fifo", s[procfs::kTxFifoErrors]);
    Emit(out, dev, "transmit_colls", s[procfs::kCollisions]);
    Emit(out, dev, "transmit_carrier",
         s[procfs::kTxCarrierErrors] + s[procfs::kTxAbortedErrors] + s[procfs::kTxHeartbeatErrors] +
             s[procfs::kTxWindowErrors]);
  }

  void EmitProc(MetricSet& out, const procfs::NetDevLine& d) {
    static constexpr std::string_view kNames[16] = {
        "receive_bytes",  "receive_packets",  "receive_errs",       "receive_drop",
        "receive_fifo",   "receive_frame",    "receive_compressed", "receive_multicast",
        "transmit_bytes", "transmit_packets", "transmit_errs",      "transmit_drop",
        "transmit_fifo",  "transmit_colls",   "transmit_carrier",   "transmit_compressed"};
    for (size_t i = 0; i < 16; ++i) {
      std::string_view key = kNames[i];
      if (opts_.detailed) {
        if (i == 2) key = "receive_errors";
        if (i == 3) key = "receive_dropped";
        if (i == 10) key = "transmit_errors";
        if (i == 11) key = "transmit_dropped";
      }
      Emit(out, d.name, key, d.values[i]);
    }
  }

  // Reads the ifalias attribute of every interface under /sys/class/net.
  Status LoadAliases() {
    alias_count_ = 0;
    auto names = procfs::ListDir(class_net_);
    if (!names.ok()) return names.status().Annotate("netdev ifalias labels");
    for (const std::string& n : *names) {
      if (alias_count_ == aliases_.size()) aliases_.emplace_back();
      auto& [dev, alias] = aliases_[alias_count_++];
      dev.assign(n);
      alias.clear();
      auto v = procfs::ReadAttr(class_net_ + "/" + n + "/ifalias", attr_buf_);
      if (v.ok()) alias.assign(*v);
    }
    return Status::Ok();
  }

  Status AddressInfo(MetricSet& out) {
    struct ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
      return Status::FromErrno(errno, "could not get network interfaces");
    }
    char addr[INET6_ADDRSTRLEN];
    char mask[8];
    for (struct ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr) continue;
      int family = a->ifa_addr->sa_family;
      if (family != AF_INET && family != AF_INET6) continue;
      const void* raw =
          family == AF_INET
              ? static_cast<const void*>(
                    &reinterpret_cast<const struct sockaddr_in*>(a->ifa_addr)->sin_addr)
              : static_cast<const void*>(
                    &reinterpret_cast<const struct sockaddr_in6*>(a->ifa_addr)->sin6_addr);
      if (::inet_ntop(family, raw, addr, sizeof addr) == nullptr) continue;
      std::snprintf(mask, sizeof mask, "%d", PrefixLength(a->ifa_netmask));
      out.Gauge("node_network_address_info", "An address assigned to a network interface.", 1,
                {{"device", a->ifa_name},
                 {"address", addr},
                 {"netmask", mask},
                 {"scope", Scope(a->ifa_addr)}});
    }
    ::freeifaddrs(list);
    return Status::Ok();
  }

  std::string proc_path_, class_net_;
  Options opts_;
  std::string buf_, nl_buf_, attr_buf_;
  std::vector<procfs::NetDevLine> dev_lines_;
  std::vector<procfs::Link> links_;
  std::vector<std::pair<std::string, std::string>> aliases_;
  size_t alias_count_ = 0;
  std::string name_, help_;
};

Result<Options> ParseOptions(const FlagValues& f) {
  std::string include = f.Get(kIncludeFlag), exclude = f.Get(kExcludeFlag);
  std::string old_include = f.Get(kOldIncludeFlag), old_exclude = f.Get(kOldExcludeFlag);
  if (!old_include.empty()) {
    if (!include.empty()) {
      return Status::InvalidArgument(
          "--collector.netdev.device-whitelist and --collector.netdev.device-include are "
          "mutually exclusive");
    }
    include = old_include;
  }
  if (!old_exclude.empty()) {
    if (!exclude.empty()) {
      return Status::InvalidArgument(
          "--collector.netdev.device-blacklist and --collector.netdev.device-exclude are "
          "mutually exclusive");
    }
    exclude = old_exclude;
  }
  if (!include.empty() && !exclude.empty()) {
    return Status::InvalidArgument(
        "--collector.netdev.device-exclude and --collector.netdev.device-include are mutually "
        "exclusive");
  }
  auto filter = procfs::RegexFilter::Make(exclude, include);
  if (!filter.ok()) return filter.status().Annotate("netdev device filter");
  Options o;
  o.filter = std::move(filter).value();
  o.address_info = f.GetBool(kAddressInfoFlag);
  o.detailed = f.GetBool(kDetailedFlag);
  o.netlink = f.GetBool(kNetlinkFlag);
  o.ifalias = f.GetBool(kIfAliasFlag);
  return o;
}

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "netdev",
    .default_enabled = true,
    .flags =
        {
            {kIncludeFlag,
             "Regexp of net devices to include (mutually exclusive to device-exclude).", "",
             FlagSpec::Kind::kString},
            {kExcludeFlag,
             "Regexp of net devices to exclude (mutually exclusive to device-include).", "",
             FlagSpec::Kind::kString},
            {kOldIncludeFlag, "DEPRECATED: use collector.netdev.device-include.", "",
             FlagSpec::Kind::kString},
            {kOldExcludeFlag, "DEPRECATED: use collector.netdev.device-exclude.", "",
             FlagSpec::Kind::kString},
            {kAddressInfoFlag, "Export node_network_address_info for every interface address.",
             "false", FlagSpec::Kind::kBool},
            {kDetailedFlag,
             "Export the raw kernel counters (different, incompatible metric names).", "false",
             FlagSpec::Kind::kBool},
            {kNetlinkFlag, "Read interface statistics over rtnetlink rather than /proc/net/dev.",
             "true", FlagSpec::Kind::kBool},
            {kIfAliasFlag, "Add the interface's ifalias as a label.", "false",
             FlagSpec::Kind::kBool},
        },
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto opts = ParseOptions(ctx.flags);
      if (!opts.ok()) return opts.status();
      return std::unique_ptr<Collector>(
          std::make_unique<NetdevCollector>(ctx, std::move(opts).value()));
    },
});

}  // namespace agent
