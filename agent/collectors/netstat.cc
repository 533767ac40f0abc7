// netstat: node_netstat_<Protocol>_<Name> (untyped) from /proc/net/netstat, /proc/net/snmp and
// /proc/net/snmp6, for the statistics whose "<Protocol>_<Name>" matches
// --collector.netstat.fields.
//
// As node_exporter does: snmp's protocols replace netstat's of the same name, snmp6 is optional
// (absent when IPv6 is disabled), and a value that is not a number fails the collector even when
// its field is filtered out.

#include <string>
#include <unordered_map>

#include "agent/collector.h"
#include "agent/procfs/flag_regex.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/net.h"

namespace agent {
namespace {

constexpr char kFieldsFlag[] = "collector.netstat.fields";
constexpr char kDefaultFields[] =
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
    "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|"
    "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
    "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

class NetstatCollector : public Collector {
 public:
  NetstatCollector(const CollectorContext& ctx, procfs::FlagRegex fields)
      : netstat_path_(ctx.paths.Proc("net/netstat")),
        snmp_path_(ctx.paths.Proc("net/snmp")),
        snmp6_path_(ctx.paths.Proc("net/snmp6")),
        fields_(std::move(fields)) {}

  Status Update(MetricSet& out) override {
    entries_.clear();
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(netstat_path_, netstat_buf_));
    LOOKOUT_RETURN_IF_ERROR(
        procfs::ParseNetStatPairs(netstat_buf_, entries_).Annotate(netstat_path_));
    size_t netstat_end = entries_.size();
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(snmp_path_, snmp_buf_));
    LOOKOUT_RETURN_IF_ERROR(procfs::ParseNetStatPairs(snmp_buf_, entries_).Annotate(snmp_path_));
    size_t snmp_end = entries_.size();
    Status st = procfs::ReadFile(snmp6_path_, snmp6_buf_);
    if (st.ok()) {
      procfs::ParseSnmp6(snmp6_buf_, entries_);
    } else if (!st.IsNotFound()) {
      return st;
    }

    for (size_t i = 0; i < entries_.size(); ++i) {
      const procfs::NetStatEntry& e = entries_[i];
      double v;
      if (!procfs::ParseDouble(e.value, v)) {
        return Status::InvalidArgument("invalid value \"" + std::string(e.value) + "\" for " +
                                       std::string(e.protocol) + " " + std::string(e.name));
      }
      if (Superseded(i, netstat_end, snmp_end)) continue;
      key_.assign("");
      key_.append(e.protocol).append("_").append(e.name);
      if (!Selected()) continue;
      name_.assign("node_netstat_").append(key_);
      help_.assign("Network statistic ")
          .append(e.protocol)
          .append(" ")
          .append(e.name)
          .append(" from /proc/net.");
      out.Untyped(name_, help_, v);
    }
    return Status::Ok();
  }

 private:
  // The later sources win, as node_exporter merges per-protocol maps: an snmp protocol replaces
  // the netstat protocol of the same name, snmp6 replaces both, and within one source a later
  // entry for the same protocol and name replaces an earlier one.
  bool Superseded(size_t i, size_t netstat_end, size_t snmp_end) const {
    const procfs::NetStatEntry& e = entries_[i];
    size_t source_end = i < netstat_end ? netstat_end : i < snmp_end ? snmp_end : entries_.size();
    for (size_t j = i + 1; j < source_end; ++j) {
      if (entries_[j].protocol == e.protocol && entries_[j].name == e.name) return true;
    }
    for (size_t j = source_end; j < entries_.size(); ++j) {
      if (entries_[j].protocol == e.protocol) return true;
    }
    return false;
  }

  // --collector.netstat.fields applied to key_, memoized: the keys are the same every scrape and
  // a std::regex search costs microseconds.
  bool Selected() {
    auto it = selected_.find(key_);
    if (it != selected_.end()) return it->second;
    if (selected_.size() > 4096) selected_.clear();  // bound memory on a churning kernel
    bool match = fields_.Search(key_);
    selected_.emplace(key_, match);
    return match;
  }

  std::string netstat_path_, snmp_path_, snmp6_path_;
  procfs::FlagRegex fields_;
  std::string netstat_buf_, snmp_buf_, snmp6_buf_;
  std::vector<procfs::NetStatEntry> entries_;
  std::string key_, name_, help_;
  std::unordered_map<std::string, bool> selected_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "netstat",
    .default_enabled = true,
    .flags = {{kFieldsFlag, "Regexp of fields to return for netstat collector.", kDefaultFields,
               FlagSpec::Kind::kString}},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto re = procfs::FlagRegex::Compile(ctx.flags.Get(kFieldsFlag));
      if (!re.ok()) return re.status().Annotate("--collector.netstat.fields");
      return std::unique_ptr<Collector>(
          std::make_unique<NetstatCollector>(ctx, std::move(re).value()));
    },
});

}  // namespace agent
