// bonding: node_bonding_slaves and node_bonding_active for each bonding master listed in
// /sys/class/net/bonding_masters: its slaves (bonding/slaves) and how many of them have
// mii_status "up" (read from lower_<slave>/ or, on older kernels, slave_<slave>/).
// A missing bonding_masters means the bonding driver is not loaded (no data); any other read
// failure fails the collector.

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

class BondingCollector : public Collector {
 public:
  explicit BondingCollector(const CollectorContext& ctx) : root_(ctx.paths.Sys("class/net")) {}

  Status Update(MetricSet& out) override {
    procfs::JoinPath(path_, root_, "bonding_masters");
    Status s = procfs::ReadFile(path_, masters_buf_);
    if (!s.ok()) {
      if (s.IsNotFound()) return Status::NotFound("bonding not loaded: no " + path_);
      return s;
    }
    procfs::SplitFields(masters_buf_, masters_);
    // Count everything first: a failure exports nothing, as in node_exporter.
    counts_.clear();
    for (size_t m = 0; m < masters_.size(); ++m) {
      std::string_view master = masters_[m];
      procfs::JoinPath(dir_, root_, master);
      procfs::JoinPath(path_, dir_, "bonding/slaves");
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, slaves_buf_));
      procfs::SplitFields(slaves_buf_, slaves_);
      int total = 0, up = 0;
      for (std::string_view slave : slaves_) {
        LOOKOUT_RETURN_IF_ERROR(ReadMiiStatus(slave));
        ++total;
        if (procfs::TrimSpace(buf_) == "up") ++up;
      }
      counts_.push_back({total, up});
    }
    for (size_t i = 0; i < masters_.size(); ++i) {
      // A master listed twice is one master (node_exporter keys them in a map).
      bool dup = false;
      for (size_t j = 0; j < i; ++j) dup = dup || masters_[j] == masters_[i];
      if (dup) continue;
      out.Gauge("node_bonding_slaves", "Slaves configured in the bonding interface.",
                counts_[i].first, {{"master", masters_[i]}});
      out.Gauge("node_bonding_active", "Slaves of the bonding interface whose MII status is up.",
                counts_[i].second, {{"master", masters_[i]}});
    }
    return Status::Ok();
  }

 private:
  Status ReadMiiStatus(std::string_view slave) {
    for (std::string_view prefix : {"lower_", "slave_"}) {
      path_.assign(dir_);
      path_ += '/';
      path_.append(prefix);
      path_.append(slave);
      path_ += "/bonding_slave/mii_status";
      Status s = procfs::ReadFile(path_, buf_, 4096);
      if (s.ok() || !s.IsNotFound() || prefix == "slave_") return s;
    }
    return Status::Internal("unreachable");
  }

  std::string root_;
  std::string path_, dir_, buf_, masters_buf_, slaves_buf_;
  std::vector<std::string_view> masters_, slaves_;
  std::vector<std::pair<int, int>> counts_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "bonding",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<BondingCollector>(ctx));
    },
});

}  // namespace agent
