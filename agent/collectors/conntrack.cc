// conntrack: node_nf_conntrack_* from /proc/sys/net/netfilter/nf_conntrack_{count,max} and the
// per-CPU statistics of /proc/net/stat/nf_conntrack (summed over CPUs).
//
// When nf_conntrack_count or _max is missing (the module is not loaded) the collector reports
// no data, which counts as a failed scrape, as node_exporter's ErrNoData does.

#include <string>

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

class ConntrackCollector : public Collector {
 public:
  explicit ConntrackCollector(const CollectorContext& ctx)
      : count_path_(ctx.paths.Proc("sys/net/netfilter/nf_conntrack_count")),
        max_path_(ctx.paths.Proc("sys/net/netfilter/nf_conntrack_max")),
        stat_path_(ctx.paths.Proc("net/stat/nf_conntrack")) {}

  Status Update(MetricSet& out) override {
    auto count = procfs::ReadUint(count_path_);
    if (!count.ok()) return NoData(count.status());
    out.Gauge("node_nf_conntrack_entries", "Flow entries currently allocated by conntrack.",
              static_cast<double>(*count));
    auto max = procfs::ReadUint(max_path_);
    if (!max.ok()) return NoData(max.status());
    out.Gauge("node_nf_conntrack_entries_limit", "Capacity of the conntrack table.",
              static_cast<double>(*max));

    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(stat_path_, buf_));
    uint64_t sum[kFields] = {};
    bool header = true;
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      if (header) {
        header = false;
        return;
      }
      procfs::SplitFields(line, fields_);
      if (fields_.size() < 16 || fields_.size() > 17) {
        st = Status::InvalidArgument("unexpected field count in " + stat_path_);
        return;
      }
      uint64_t v[17] = {};
      for (size_t i = 0; i < fields_.size(); ++i) {
        if (!procfs::ParseUint(fields_[i], v[i], 16)) {
          st = Status::InvalidArgument("bad hex value in " + stat_path_);
          return;
        }
      }
      sum[kFound] += v[2];
      sum[kInvalid] += v[4];
      sum[kIgnore] += v[5];
      sum[kInsert] += v[8];
      sum[kInsertFailed] += v[9];
      sum[kDrop] += v[10];
      sum[kEarlyDrop] += v[11];
      if (fields_.size() == 17) sum[kSearchRestart] += v[16];
    });
    LOOKOUT_RETURN_IF_ERROR(st);
    out.Gauge("node_nf_conntrack_stat_found", "Conntrack lookups that found an entry.",
              static_cast<double>(sum[kFound]));
    out.Gauge("node_nf_conntrack_stat_invalid", "Packets conntrack could not track.",
              static_cast<double>(sum[kInvalid]));
    out.Gauge("node_nf_conntrack_stat_ignore",
              "Packets that already had a conntrack entry attached.",
              static_cast<double>(sum[kIgnore]));
    out.Gauge("node_nf_conntrack_stat_insert", "Entries inserted into the conntrack table.",
              static_cast<double>(sum[kInsert]));
    out.Gauge("node_nf_conntrack_stat_insert_failed",
              "Conntrack insertions that failed because the entry already existed.",
              static_cast<double>(sum[kInsertFailed]));
    out.Gauge("node_nf_conntrack_stat_drop", "Packets dropped because conntrack failed.",
              static_cast<double>(sum[kDrop]));
    out.Gauge("node_nf_conntrack_stat_early_drop",
              "Entries dropped to make room for new ones in a full table.",
              static_cast<double>(sum[kEarlyDrop]));
    out.Gauge("node_nf_conntrack_stat_search_restart",
              "Table lookups restarted because the hash table was resized.",
              static_cast<double>(sum[kSearchRestart]));
    return Status::Ok();
  }

 private:
  enum {
    kFound,
    kInvalid,
    kIgnore,
    kInsert,
    kInsertFailed,
    kDrop,
    kEarlyDrop,
    kSearchRestart,
    kFields
  };

  Status NoData(const Status& st) {
    if (st.IsNotFound())
      return Status::NotFound("conntrack not loaded: " + std::string(st.message()));
    return st.Annotate("conntrack");
  }

  std::string count_path_, max_path_, stat_path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "conntrack",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<ConntrackCollector>(ctx));
    },
});

}  // namespace agent
