// arp: node_arp_entries{device}, the IPv4 neighbour (ARP) entries per interface.
//
// By default the table is read over rtnetlink (RTM_GETNEIGH, AF_INET), skipping NUD_NOARP
// entries as /proc/net/arp does; --no-collector.arp.netlink reads /proc/net/arp instead.
// --collector.arp.device-include / device-exclude filter the devices.

#include <linux/neighbour.h>
#include <sys/socket.h>

#include <string>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"
#include "agent/procfs/net.h"
#include "agent/procfs/rtnetlink.h"

namespace agent {
namespace {

constexpr char kIncludeFlag[] = "collector.arp.device-include";
constexpr char kExcludeFlag[] = "collector.arp.device-exclude";
constexpr char kNetlinkFlag[] = "collector.arp.netlink";

class ArpCollector : public Collector {
 public:
  ArpCollector(const CollectorContext& ctx, procfs::RegexFilter filter, bool netlink)
      : path_(ctx.paths.Proc("net/arp")), filter_(std::move(filter)), netlink_(netlink) {}

  Status Update(MetricSet& out) override {
    counts_.clear();
    if (netlink_) {
      LOOKOUT_RETURN_IF_ERROR(
          procfs::DumpNeighbors(AF_INET, neighbors_, nl_buf_).Annotate("netlink neighbour dump"));
      LOOKOUT_RETURN_IF_ERROR(procfs::DumpLinks(links_, nl_buf_).Annotate("netlink link dump"));
      for (const procfs::Neighbor& n : neighbors_) {
        if (n.state & NUD_NOARP) continue;
        std::string_view name;
        for (const procfs::Link& l : links_) {
          if (l.index == n.ifindex) {
            name = l.name();
            break;
          }
        }
        if (name.empty()) continue;  // the interface went away between the two dumps
        Count(name);
      }
    } else {
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
      LOOKOUT_RETURN_IF_ERROR(procfs::ParseArp(buf_, devices_).Annotate(path_));
      for (std::string_view d : devices_) Count(d);
    }
    for (const auto& [device, n] : counts_) {
      if (filter_.Ignored(device)) continue;
      out.Gauge("node_arp_entries", "IPv4 neighbour (ARP) table entries per interface.",
                static_cast<double>(n), {{"device", device}});
    }
    return Status::Ok();
  }

 private:
  // counts_ holds views into buf_ or links_, valid until the next Update.
  void Count(std::string_view device) {
    for (auto& [d, n] : counts_) {
      if (d == device) {
        ++n;
        return;
      }
    }
    counts_.emplace_back(device, 1);
  }

  std::string path_;
  procfs::RegexFilter filter_;
  bool netlink_;
  std::string buf_, nl_buf_;
  std::vector<std::string_view> devices_;
  std::vector<procfs::Neighbor> neighbors_;
  std::vector<procfs::Link> links_;
  std::vector<std::pair<std::string_view, uint64_t>> counts_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "arp",
    .default_enabled = true,
    .flags =
        {
            {kIncludeFlag,
             "Regexp of arp devices to include (mutually exclusive to device-exclude).", "",
             FlagSpec::Kind::kString},
            {kExcludeFlag,
             "Regexp of arp devices to exclude (mutually exclusive to device-include).", "",
             FlagSpec::Kind::kString},
            {kNetlinkFlag, "Read the neighbour table over rtnetlink rather than /proc/net/arp.",
             "true", FlagSpec::Kind::kBool},
        },
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto filter =
          procfs::RegexFilter::Make(ctx.flags.Get(kExcludeFlag), ctx.flags.Get(kIncludeFlag));
      if (!filter.ok()) return filter.status().Annotate("arp device filter");
      return std::unique_ptr<Collector>(std::make_unique<ArpCollector>(
          ctx, std::move(filter).value(), ctx.flags.GetBool(kNetlinkFlag)));
    },
});

}  // namespace agent
