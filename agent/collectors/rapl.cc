// rapl: node_rapl_<zone>_joules_total from the Intel RAPL power-capping zones in
// /sys/class/powercap/<zone>/ (energy_uj, in microjoules). Zones are the entries with a `name`
// file; "package-0" becomes zone "package" with index 0, a name without "-<n>" gets its
// occurrence count as index. The path label is the zone directory under --path.sysfs.
// --collector.rapl.enable-zone-label exports node_rapl_joules_total{rapl_zone=...} instead.

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

// Go's filepath.Clean, for the path label.

// node_exporter's SanitizeMetricName: each run of characters outside [0-9A-Za-z_], with the
// underscores around it, becomes one '_'.
void SanitizeMetricName(std::string_view in, std::string& out) {
  out.clear();
  auto valid = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  size_t i = 0;
  while (i < in.size()) {
    if (valid(in[i])) {
      out += in[i++];
      continue;
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    while (i < in.size() && !valid(in[i])) ++i;
    while (i < in.size() && in[i] == '_') ++i;
    out += '_';
  }
}

struct Zone {
  std::string name;
  int64_t index = 0;
  std::string path;
};

class RaplCollector : public Collector {
 public:
  RaplCollector(const CollectorContext& ctx, bool zone_label)
      : root_(procfs::CleanPath(ctx.paths.Sys("class/powercap"))), zone_label_(zone_label) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(root_);
    if (!entries.ok()) {
      if (entries.status().IsNotFound()) return Status::NotFound("no powercap zones: " + root_);
      return entries.status().Annotate("failed to retrieve rapl stats");
    }
    zones_.clear();
    counts_.clear();
    for (const std::string& e : *entries) {
      std::string dir = root_ + "/" + e;
      if (!procfs::ReadFile(dir + "/name", buf_).ok()) continue;  // not a zone
      Zone z;
      std::string_view name = procfs::TrimSpace(buf_);
      // "<name>-<n>" carries its index; otherwise the index counts earlier zones of that name.
      size_t dash = name.find('-');
      int64_t idx;
      if (dash != std::string_view::npos && name.find('-', dash + 1) == std::string_view::npos &&
          procfs::ParseInt(name.substr(dash + 1), idx)) {
        z.name.assign(name.substr(0, dash));
        z.index = idx;
      } else {
        z.name.assign(name);
        z.index = Count(z.name);
      }
      SetCount(z.name, z.index + 1);
      uint64_t max_range;
      LOOKOUT_RETURN_IF_ERROR(ReadUint(dir + "/max_energy_range_uj", max_range)
                                  .Annotate("failed to retrieve rapl stats"));
      z.path = procfs::CleanPath(dir);
      zones_.push_back(std::move(z));
    }
    for (const Zone& z : zones_) {
      uint64_t uj;
      LOOKOUT_RETURN_IF_ERROR(ReadUint(z.path + "/energy_uj", uj));
      double joules = static_cast<double>(uj) / 1000000.0;
      std::string index = std::to_string(z.index);
      if (zone_label_) {
        out.Counter("node_rapl_joules_total", "Energy used by the RAPL zone, in joules.", joules,
                    {{"index", index}, {"path", z.path}, {"rapl_zone", z.name}});
      } else {
        SanitizeMetricName(z.name, metric_);
        metric_.insert(0, "node_rapl_");
        metric_ += "_joules_total";
        out.Counter(metric_, "Energy used by the RAPL zone, in joules.", joules,
                    {{"index", index}, {"path", z.path}});
      }
    }
    return Status::Ok();
  }

 private:
  Status ReadUint(const std::string& path, uint64_t& v) {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path, buf_, 4096));
    if (!procfs::ParseUint(procfs::TrimSpace(buf_), v)) {
      return Status::InvalidArgument("bad number in " + path);
    }
    return Status::Ok();
  }
  int64_t Count(const std::string& name) const {
    for (const auto& [n, c] : counts_) {
      if (n == name) return c;
    }
    return 0;
  }
  void SetCount(const std::string& name, int64_t c) {
    for (auto& [n, v] : counts_) {
      if (n == name) {
        v = c;
        return;
      }
    }
    counts_.emplace_back(name, c);
  }

  std::string root_;
  bool zone_label_;
  std::vector<Zone> zones_;
  std::vector<std::pair<std::string, int64_t>> counts_;
  std::string buf_, metric_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "rapl",
    .default_enabled = true,
    .flags =
        {
            {.name = "collector.rapl.enable-zone-label",
             .help = "Export one node_rapl_joules_total family with a rapl_zone label instead of "
                     "one family per zone.",
             .default_value = "false",
             .kind = FlagSpec::Kind::kBool},
        },
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<RaplCollector>(
          ctx, ctx.flags.GetBool("collector.rapl.enable-zone-label")));
    },
});

}  // namespace agent
