// sockstat: node_sockstat_* from /proc/net/sockstat and /proc/net/sockstat6.
//
// node_sockstat_sockets_used comes from the IPv4 file's "sockets: used N" line; every protocol
// line gives node_sockstat_<PROTO>_<key> for the keys it has (inuse, orphan, tw, alloc, mem,
// memory), plus <PROTO>_mem_bytes = mem * page size. A missing file (IPv4 or IPv6 disabled) is
// skipped.

#include <unistd.h>

#include <string>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/net.h"

namespace agent {
namespace {

class SockstatCollector : public Collector {
 public:
  explicit SockstatCollector(const CollectorContext& ctx)
      : path4_(ctx.paths.Proc("net/sockstat")),
        path6_(ctx.paths.Proc("net/sockstat6")),
        page_size_(static_cast<double>(::sysconf(_SC_PAGESIZE))) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(Collect(path4_, false, out));
    return Collect(path6_, true, out);
  }

 private:
  Status Collect(const std::string& path, bool ipv6, MetricSet& out) {
    Status st = procfs::ReadFile(path, buf_);
    if (st.IsNotFound()) return Status::Ok();
    LOOKOUT_RETURN_IF_ERROR(st);
    LOOKOUT_RETURN_IF_ERROR(procfs::ParseSockstat(buf_, stat_).Annotate(path));
    if (!ipv6 && stat_.used) {
      out.Gauge("node_sockstat_sockets_used", "IPv4 sockets in use (sockets: used).",
                static_cast<double>(*stat_.used));
    }
    for (const procfs::SockstatProtocol& p : stat_.protocols) {
      Emit(out, p.name, "inuse", p.inuse);
      if (p.orphan) Emit(out, p.name, "orphan", *p.orphan);
      if (p.tw) Emit(out, p.name, "tw", *p.tw);
      if (p.alloc) Emit(out, p.name, "alloc", *p.alloc);
      if (p.mem) Emit(out, p.name, "mem", *p.mem);
      if (p.memory) Emit(out, p.name, "memory", *p.memory);
      if (p.mem) Emit(out, p.name, "mem_bytes", static_cast<double>(*p.mem) * page_size_);
    }
    return Status::Ok();
  }

  void Emit(MetricSet& out, std::string_view proto, std::string_view key, double v) {
    name_.assign("node_sockstat_").append(proto).append("_").append(key);
    help_.assign("Sockets of protocol ")
        .append(proto)
        .append(", field ")
        .append(key)
        .append(" of /proc/net/sockstat.");
    out.Gauge(name_, help_, v);
  }
  void Emit(MetricSet& out, std::string_view proto, std::string_view key, int64_t v) {
    Emit(out, proto, key, static_cast<double>(v));
  }

  std::string path4_, path6_;
  double page_size_;
  std::string buf_;
  procfs::Sockstat stat_;
  std::string name_, help_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "sockstat",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<SockstatCollector>(ctx));
    },
});

}  // namespace agent
