// schedstat: per-CPU scheduler statistics from /proc/schedstat (time running, time waiting,
// timeslices).

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

constexpr double kNanosPerSecond = 1e9;

// Matches "cpu<N>" followed by nine space-separated numbers anywhere in `line` (node_exporter's
// procfs uses the unanchored regexp `cpu(\d+)( (\d+)){9}`). Returns false when nothing matches
// or a number overflows (the line is then skipped).
bool MatchCpuLine(std::string_view line, std::string_view& cpu, uint64_t (&v)[9]) {
  auto digits = [&](size_t at) {
    size_t e = at;
    while (e < line.size() && line[e] >= '0' && line[e] <= '9') ++e;
    return e;
  };
  for (size_t at = line.find("cpu"); at != std::string_view::npos; at = line.find("cpu", at + 1)) {
    size_t p = at + 3, e = digits(p);
    if (e == p) continue;
    cpu = line.substr(p, e - p);
    bool ok = true;
    for (int k = 0; k < 9 && ok; ++k) {
      if (e >= line.size() || line[e] != ' ') {
        ok = false;
        break;
      }
      p = e + 1;
      e = digits(p);
      if (e == p) {
        ok = false;
        break;
      }
      if (!procfs::ParseUint(line.substr(p, e - p), v[k])) return false;  // overflow: skip line
    }
    if (ok) return true;
  }
  return false;
}

class SchedstatCollector : public Collector {
 public:
  explicit SchedstatCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("schedstat")) {}

  Status Update(MetricSet& out) override {
    Status st = procfs::ReadFile(path_, buf_);
    if (st.IsNotFound()) return Status::Unavailable("no scheduler statistics: " + path_);
    LOOKOUT_RETURN_IF_ERROR(st);
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      std::string_view cpu;
      uint64_t v[9];
      if (!MatchCpuLine(line, cpu, v)) return;
      out.Counter("node_schedstat_running_seconds_total", "Seconds each CPU spent running tasks.",
                  static_cast<double>(v[6]) / kNanosPerSecond, {{"cpu", cpu}});
      out.Counter("node_schedstat_waiting_seconds_total",
                  "Seconds tasks spent runnable but waiting for each CPU.",
                  static_cast<double>(v[7]) / kNanosPerSecond, {{"cpu", cpu}});
      out.Counter("node_schedstat_timeslices_total", "Timeslices each CPU has run.",
                  static_cast<double>(v[8]), {{"cpu", cpu}});
    });
    return Status::Ok();
  }

 private:
  std::string path_;
  std::string buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "schedstat",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<SchedstatCollector>(ctx));
    },
});

}  // namespace agent
