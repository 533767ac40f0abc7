// nfsd: NFS server statistics (node_nfsd_*) from procfs net/rpc/nfsd.
//
// Lines (see nfsd's stats.c): rc (reply cache), fh (file handles), io (bytes), th (threads),
// ra (read-ahead cache), net, rpc, proc2, proc3, proc4, proc4ops, wdeleg_getattr. As procfs'
// parser does, an unknown line, a line with the wrong number of values or a bad number fails
// the pass (and nothing is exported); an absent line exports zeros. No file (no nfsd module):
// no data (NotFound).

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

// Exported NFSv4 operations: index into the proc4ops values (after the count) and name.
struct V4Op {
  uint8_t index;
  std::string_view name;
};
constexpr std::array<V4Op, 35> kV4Ops = {{
    {3, "Access"},     {4, "Close"},        {5, "Commit"},        {6, "Create"},
    {7, "DelegPurge"}, {8, "DelegReturn"},  {9, "GetAttr"},       {10, "GetFH"},
    {11, "Link"},      {12, "Lock"},        {13, "Lockt"},        {14, "Locku"},
    {15, "Lookup"},    {16, "LookupRoot"},  {17, "Nverify"},      {18, "Open"},
    {19, "OpenAttr"},  {20, "OpenConfirm"}, {21, "OpenDgrd"},     {22, "PutFH"},
    {25, "Read"},      {26, "ReadDir"},     {27, "ReadLink"},     {28, "Remove"},
    {29, "Rename"},    {30, "Renew"},       {31, "RestoreFH"},    {32, "SaveFH"},
    {33, "SecInfo"},   {34, "SetAttr"},     {35, "SetClientID"},  {36, "SetClientIDConfirm"},
    {37, "Verify"},    {38, "Write"},       {39, "RelLockOwner"},  // absent on 2.5 kernels
}};
constexpr size_t kV4OpsMin = 39;  // proc4ops values required

// Scalar families: line, value index, name, type, help.
struct Scalar {
  std::string_view line;
  uint8_t index;
  std::string_view name;
  MetricType type;
  std::string_view help;
};
constexpr std::array<Scalar, 11> kScalars = {{
    {"rc", 0, "node_nfsd_reply_cache_hits_total", MetricType::kCounter,
     "Requests answered from the reply cache (retransmissions)."},
    {"rc", 1, "node_nfsd_reply_cache_misses_total", MetricType::kCounter,
     "Cacheable requests not found in the reply cache."},
    {"rc", 2, "node_nfsd_reply_cache_nocache_total", MetricType::kCounter,
     "Requests that bypass the reply cache."},
    {"fh", 0, "node_nfsd_file_handles_stale_total", MetricType::kCounter,
     "Stale file handles returned."},
    {"io", 0, "node_nfsd_disk_bytes_read_total", MetricType::kCounter,
     "Bytes read from disk by the server."},
    {"io", 1, "node_nfsd_disk_bytes_written_total", MetricType::kCounter,
     "Bytes written to disk by the server."},
    {"th", 0, "node_nfsd_server_threads", MetricType::kGauge, "nfsd kernel threads running."},
    {"ra", 0, "node_nfsd_read_ahead_cache_size_blocks", MetricType::kGauge,
     "Size of the read-ahead cache, in blocks."},
    {"ra", 11, "node_nfsd_read_ahead_cache_not_found_total", MetricType::kCounter,
     "Read-ahead cache lookups that found nothing."},
    {"net", 3, "node_nfsd_connections_total", MetricType::kCounter,
     "TCP connections accepted by the server."},
    {"rpc", 0, "node_nfsd_server_rpcs_total", MetricType::kCounter,
     "RPC calls received by the server."},
}};

// Lines with a fixed number of values.
struct FixedLine {
  std::string_view line;
  size_t values;
};
constexpr std::array<FixedLine, 6> kFixedLines = {{
    {"rc", 3},
    {"fh", 5},
    {"io", 2},
    {"ra", 12},
    {"net", 4},
    {"rpc", 5},
}};

class NfsdCollector : public Collector {
 public:
  explicit NfsdCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("net/rpc/nfsd")) {}

  Status Update(MetricSet& out) override {
    Status s = procfs::ReadFile(path_, buf_);
    if (s.IsNotFound()) return Status::NotFound("no NFS server statistics: " + path_);
    LOOKOUT_RETURN_IF_ERROR(s);
    LOOKOUT_RETURN_IF_ERROR(Parse());

    for (size_t i = 0; i < kScalars.size(); ++i) {
      out.Add(kScalars[i].name, kScalars[i].help, kScalars[i].type, scalars_[i]);
    }
    const char* kPackets = "Network packets received by the server, by transport.";
    out.Counter("node_nfsd_packets_total", kPackets, net_udp_, {{"proto", "udp"}});
    out.Counter("node_nfsd_packets_total", kPackets, net_tcp_, {{"proto", "tcp"}});
    const char* kErrors = "RPC calls the server rejected, by reason.";
    out.Counter("node_nfsd_rpc_errors_total", kErrors, rpc_errors_[0], {{"error", "fmt"}});
    out.Counter("node_nfsd_rpc_errors_total", kErrors, rpc_errors_[1], {{"error", "auth"}});
    out.Counter("node_nfsd_rpc_errors_total", kErrors, rpc_errors_[2], {{"error", "cInt"}});
    // Null is not exported for any version.
    for (size_t i = 1; i < v2_.size(); ++i) Request(out, "2", procfs::kNfsV2Procs[i], v2_[i]);
    for (size_t i = 1; i < v3_.size(); ++i) Request(out, "3", procfs::kNfsV3Procs[i], v3_[i]);
    for (size_t i = 0; i < kV4Ops.size(); ++i) Request(out, "4", kV4Ops[i].name, v4_[i]);
    Request(out, "4", "WdelegGetattr", wdeleg_getattr_);
    return Status::Ok();
  }

 private:
  static void Request(MetricSet& out, std::string_view proto, std::string_view method, double v) {
    out.Counter("node_nfsd_requests_total", "NFS requests served, by version and procedure.", v,
                {{"proto", proto}, {"method", method}});
  }

  Status Parse() {
    scalars_.fill(0);
    rpc_errors_.fill(0);
    v2_.fill(0);
    v3_.fill(0);
    v4_.fill(0);
    net_udp_ = net_tcp_ = wdeleg_getattr_ = 0;
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      st = ParseLine(line);
    });
    return st;
  }

  Status ParseLine(std::string_view line) {
    procfs::SplitFields(line, fields_);
    if (fields_.size() < 2) return Status::InvalidArgument("invalid line in " + path_);
    std::string_view label = fields_[0];
    // "th" is followed by legacy floating-point histogram buckets: only the first two count.
    if (label == "th" && fields_.size() < 3) return Invalid(label);
    size_t last = label == "th" ? 3 : fields_.size();
    if (!procfs::ParseRpcValues(fields_, 1, last, values_)) {
      return Status::InvalidArgument("bad number in " + path_);
    }
    for (const FixedLine& f : kFixedLines) {
      if (f.line == label && values_.size() != f.values) return Invalid(label);
    }
    if (label == "rc" || label == "fh" || label == "io" || label == "th" || label == "ra" ||
        label == "net" || label == "rpc") {
      for (size_t i = 0; i < kScalars.size(); ++i) {
        if (kScalars[i].line == label)
          scalars_[i] = static_cast<double>(values_[kScalars[i].index]);
      }
      if (label == "net") {
        net_udp_ = static_cast<double>(values_[1]);
        net_tcp_ = static_cast<double>(values_[2]);
      } else if (label == "rpc") {
        for (size_t i = 0; i < 3; ++i) rpc_errors_[i] = static_cast<double>(values_[2 + i]);
      }
    } else if (label == "proc2") {
      if (!procfs::ValidProcLine(values_, 18)) return Invalid(label);
      for (size_t i = 0; i < v2_.size(); ++i) v2_[i] = static_cast<double>(values_[i + 1]);
    } else if (label == "proc3") {
      if (!procfs::ValidProcLine(values_, 22)) return Invalid(label);
      for (size_t i = 0; i < v3_.size(); ++i) v3_[i] = static_cast<double>(values_[i + 1]);
    } else if (label == "proc4") {
      if (!procfs::ValidProcLine(values_, 2) || values_[0] != 2) return Invalid(label);
    } else if (label == "proc4ops") {
      if (!procfs::ValidProcLine(values_, kV4OpsMin)) return Invalid(label);
      for (size_t i = 0; i < kV4Ops.size(); ++i) {
        size_t idx = kV4Ops[i].index + 1u;  // skip the count
        v4_[i] = idx < values_.size() ? static_cast<double>(values_[idx]) : 0;
      }
    } else if (label == "wdeleg_getattr") {
      wdeleg_getattr_ = static_cast<double>(values_[0]);
    } else {
      return Status::InvalidArgument("unknown line " + std::string(label) + " in " + path_);
    }
    return Status::Ok();
  }

  Status Invalid(std::string_view label) const {
    return Status::InvalidArgument("invalid " + std::string(label) + " line in " + path_);
  }

  std::string path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
  std::vector<uint64_t> values_;
  std::array<double, kScalars.size()> scalars_{};
  std::array<double, 3> rpc_errors_{};  // fmt, auth, cInt
  std::array<double, procfs::kNfsV2Procs.size()> v2_{};
  std::array<double, procfs::kNfsV3Procs.size()> v3_{};
  std::array<double, kV4Ops.size()> v4_{};
  double net_udp_ = 0, net_tcp_ = 0, wdeleg_getattr_ = 0;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "nfsd",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<NfsdCollector>(ctx));
    },
});

}  // namespace agent
