// udp_queues: node_udp_queues{queue="tx|rx",ip="v4|v6"}, the bytes queued in UDP sockets,
// summed from the tx_queue/rx_queue columns of /proc/net/udp and /proc/net/udp6.
//
// A missing file (that IP version disabled) is skipped; both missing is "no data", a failed
// scrape, as in node_exporter.

#include <string>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/net.h"

namespace agent {
namespace {

class UdpQueuesCollector : public Collector {
 public:
  explicit UdpQueuesCollector(const CollectorContext& ctx)
      : path4_(ctx.paths.Proc("net/udp")), path6_(ctx.paths.Proc("net/udp6")) {}

  Status Update(MetricSet& out) override {
    bool found4 = false, found6 = false;
    LOOKOUT_RETURN_IF_ERROR(Collect(path4_, "v4", found4, out));
    LOOKOUT_RETURN_IF_ERROR(Collect(path6_, "v6", found6, out));
    if (!found4 && !found6) return Status::NotFound("neither " + path4_ + " nor " + path6_);
    return Status::Ok();
  }

 private:
  Status Collect(const std::string& path, std::string_view ip, bool& found, MetricSet& out) {
    Status st = procfs::ReadFile(path, buf_);
    if (st.IsNotFound()) return Status::Ok();
    LOOKOUT_RETURN_IF_ERROR(st);
    uint64_t tx, rx;
    LOOKOUT_RETURN_IF_ERROR(procfs::ParseUdpQueues(buf_, tx, rx).Annotate(path));
    found = true;
    constexpr char kHelp[] = "Bytes the kernel holds queued in UDP sockets.";
    out.Gauge("node_udp_queues", kHelp, static_cast<double>(tx), {{"queue", "tx"}, {"ip", ip}});
    out.Gauge("node_udp_queues", kHelp, static_cast<double>(rx), {{"queue", "rx"}, {"ip", ip}});
    return Status::Ok();
  }

  std::string path4_, path6_;
  std::string buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "udp_queues",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<UdpQueuesCollector>(ctx));
    },
});

}  // namespace agent
