// loadavg: node_load1, node_load5, node_load15 from /proc/loadavg.

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

class LoadavgCollector : public Collector {
 public:
  explicit LoadavgCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("loadavg")) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    procfs::SplitFields(buf_, fields_);
    if (fields_.size() < 3) return Status::InvalidArgument("unexpected content in " + path_);
    double v[3];
    for (int i = 0; i < 3; ++i) {
      if (!procfs::ParseDouble(fields_[i], v[i])) {
        return Status::InvalidArgument("bad load average in " + path_);
      }
    }
    out.Gauge("node_load1", "1m load average.", v[0]);
    out.Gauge("node_load5", "5m load average.", v[1]);
    out.Gauge("node_load15", "15m load average.", v[2]);
    return Status::Ok();
  }

 private:
  std::string path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "loadavg",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<LoadavgCollector>(ctx));
    },
});

}  // namespace agent
