// softnet: per-CPU packet processing statistics from /proc/net/softnet_stat.

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

class SoftnetCollector : public Collector {
 public:
  explicit SoftnetCollector(const CollectorContext& ctx)
      : path_(ctx.paths.Proc("net/softnet_stat")) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    // Parse everything first: a bad row fails the collector before any sample is added.
    rows_.clear();
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      size_t width = fields_.size();
      if (width < 9) {
        st = Status::InvalidArgument("softnet_stat row with fewer than 9 columns in " + path_);
        return;
      }
      Row r{};
      // Columns by kernel version: 2.6.23 has 9, 2.6.39 adds received_rps, 4.18 flow_limit_count,
      // 5.14 the backlog length and the CPU index; older rows are numbered by position.
      const std::pair<size_t, uint32_t*> cols[] = {{0, &r.processed},     {1, &r.dropped},
                                                   {2, &r.time_squeezed}, {8, &r.cpu_collision},
                                                   {9, &r.received_rps},  {10, &r.flow_limit_count},
                                                   {11, &r.backlog_len},  {12, &r.index}};
      for (const auto& [col, dst] : cols) {
        if (col >= width || (col >= 11 && width < 13)) continue;
        uint64_t v;
        if (!procfs::ParseUint(fields_[col], v, 16) || v > 0xffffffffu) {
          st = Status::InvalidArgument("bad hex counter in " + path_);
          return;
        }
        *dst = static_cast<uint32_t>(v);
      }
      if (width < 13) r.index = static_cast<uint32_t>(rows_.size());
      rows_.push_back(r);
    });
    LOOKOUT_RETURN_IF_ERROR(st);
    char b[24];
    for (const Row& r : rows_) {
      std::string_view cpu = procfs::UintText(r.index, b);
      out.Counter("node_softnet_processed_total", "Packets processed by each CPU.", r.processed,
                  {{"cpu", cpu}});
      out.Counter("node_softnet_dropped_total", "Packets dropped because the backlog was full.",
                  r.dropped, {{"cpu", cpu}});
      out.Counter("node_softnet_times_squeezed_total",
                  "Times packet processing stopped with work left (budget or time ran out).",
                  r.time_squeezed, {{"cpu", cpu}});
      out.Counter("node_softnet_cpu_collision_total",
                  "Collisions while taking a device's transmit lock.", r.cpu_collision,
                  {{"cpu", cpu}});
      out.Counter("node_softnet_received_rps_total",
                  "Times this CPU was woken to process packets steered to it (RPS).",
                  r.received_rps, {{"cpu", cpu}});
      out.Counter("node_softnet_flow_limit_count_total", "Times the flow limit was reached.",
                  r.flow_limit_count, {{"cpu", cpu}});
      out.Gauge("node_softnet_backlog_len", "Packets waiting in the input backlog of each CPU.",
                r.backlog_len, {{"cpu", cpu}});
    }
    return Status::Ok();
  }

 private:
  struct Row {
    uint32_t processed, dropped, time_squeezed, cpu_collision, received_rps, flow_limit_count,
        backlog_len, index;
  };
  std::string path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
  std::vector<Row> rows_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "softnet",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<SoftnetCollector>(ctx));
    },
});

}  // namespace agent
