// nfs: NFS client statistics (node_nfs_*) from procfs net/rpc/nfs.
//
// Lines: "net <packets> <udp> <tcp> <tcp connections>", "rpc <calls> <retransmissions>
// <auth refreshes>", "proc2|proc3|proc4 <count> <per-procedure calls>...". As procfs' parser
// does, any unknown line, short line or bad number fails the pass (and nothing is exported);
// a line that is absent exports zeros. No file (no NFS client module): no data (NotFound).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/rpc_stats.h"

namespace agent {
namespace {

// NFSv4 client operations, in the order of the proc4 line. Older kernels print fewer: the
// missing ones export 0.
// clang-format off
constexpr std::array<std::string_view, 59> kV4ClientOps = {
    "Null", "Read", "Write", "Commit", "Open", "OpenConfirm", "OpenNoattr", "OpenDowngrade",
    "Close", "Setattr", "FsInfo", "Renew", "SetClientID", "SetClientIDConfirm", "Lock", "Lockt",
    "Locku", "Access", "Getattr", "Lookup", "LookupRoot", "Remove", "Rename", "Link", "Symlink",
    "Create", "Pathconf", "StatFs", "ReadLink", "ReadDir", "ServerCaps", "DelegReturn", "GetACL",
    "SetACL", "FsLocations", "ReleaseLockowner", "Secinfo", "FsidPresent", "ExchangeID",
    "CreateSession", "DestroySession", "Sequence", "GetLeaseTime", "ReclaimComplete",
    "GetDeviceInfo", "LayoutGet", "LayoutCommit", "LayoutReturn", "SecinfoNoName", "TestStateID",
    "FreeStateID", "GetDeviceList", "BindConnToSession", "DestroyClientID", "Seek", "Allocate",
    "DeAllocate", "LayoutStats", "Clone",
};
// clang-format on

class NfsCollector : public Collector {
 public:
  explicit NfsCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("net/rpc/nfs")) {}

  Status Update(MetricSet& out) override {
    Status s = procfs::ReadFile(path_, buf_);
    if (s.IsNotFound()) return Status::NotFound("no NFS client statistics: " + path_);
    LOOKOUT_RETURN_IF_ERROR(s);
    LOOKOUT_RETURN_IF_ERROR(Parse());

    out.Counter("node_nfs_packets_total", "NFS client network packets, by transport.", net_[1],
                {{"protocol", "udp"}});
    out.Counter("node_nfs_packets_total", "NFS client network packets, by transport.", net_[2],
                {{"protocol", "tcp"}});
    out.Counter("node_nfs_connections_total", "NFS client TCP connections made.", net_[3]);
    out.Counter("node_nfs_rpcs_total", "RPC calls made by the NFS client.", rpc_[0]);
    out.Counter("node_nfs_rpc_retransmissions_total", "RPC calls the NFS client retransmitted.",
                rpc_[1]);
    out.Counter("node_nfs_rpc_authentication_refreshes_total",
                "RPC credential refreshes done by the NFS client.", rpc_[2]);
    EmitProcs(out, "2", procfs::kNfsV2Procs, v2_);
    EmitProcs(out, "3", procfs::kNfsV3Procs, v3_);
    EmitProcs(out, "4", kV4ClientOps, v4_);
    return Status::Ok();
  }

 private:
  template <size_t N>
  static void EmitProcs(MetricSet& out, std::string_view proto,
                        const std::array<std::string_view, N>& names,
                        const std::array<double, N>& values) {
    for (size_t i = 0; i < N; ++i) {
      out.Counter("node_nfs_requests_total", "NFS procedures the client called, by version.",
                  values[i], {{"proto", proto}, {"method", names[i]}});
    }
  }

  // Copies values[1..] (after the count) into `dst`, zero-filling the rest.
  template <size_t N>
  void StoreProcs(std::array<double, N>& dst) {
    dst.fill(0);
    for (size_t i = 0; i < N && i + 1 < values_.size(); ++i) {
      dst[i] = static_cast<double>(values_[i + 1]);
    }
  }

  Status Parse() {
    net_.fill(0);
    rpc_.fill(0);
    v2_.fill(0);
    v3_.fill(0);
    v4_.fill(0);
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (fields_.size() < 2) {
        st = Status::InvalidArgument("invalid line in " + path_);
        return;
      }
      if (!procfs::ParseRpcValues(fields_, 1, fields_.size(), values_)) {
        st = Status::InvalidArgument("bad number in " + path_);
        return;
      }
      std::string_view label = fields_[0];
      bool ok = true;
      if (label == "net") {
        ok = values_.size() == 4;
        for (size_t i = 0; ok && i < 4; ++i) net_[i] = static_cast<double>(values_[i]);
      } else if (label == "rpc") {
        ok = values_.size() == 3;
        for (size_t i = 0; ok && i < 3; ++i) rpc_[i] = static_cast<double>(values_[i]);
      } else if (label == "proc2") {
        ok = procfs::ValidProcLine(values_, 18);
        if (ok) StoreProcs(v2_);
      } else if (label == "proc3") {
        ok = procfs::ValidProcLine(values_, 22);
        if (ok) StoreProcs(v3_);
      } else if (label == "proc4") {
        ok = procfs::ValidProcLine(values_, 0);
        if (ok) StoreProcs(v4_);
      } else {
        st = Status::InvalidArgument("unknown line " + std::string(label) + " in " + path_);
        return;
      }
      if (!ok) st = Status::InvalidArgument("invalid " + std::string(label) + " line in " + path_);
    });
    return st;
  }

  std::string path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
  std::vector<uint64_t> values_;
  std::array<double, 4> net_{};
  std::array<double, 3> rpc_{};
  std::array<double, procfs::kNfsV2Procs.size()> v2_{};
  std::array<double, procfs::kNfsV3Procs.size()> v3_{};
  std::array<double, kV4ClientOps.size()> v4_{};
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "nfs",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<NfsCollector>(ctx));
    },
});

}  // namespace agent
