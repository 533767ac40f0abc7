// softirqs: softirq counts per CPU and type from /proc/softirqs.

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

// The rows node_exporter reports (its type label drops the colon); other rows are ignored.
constexpr std::string_view kTypes[] = {"HI",       "TIMER",   "NET_TX", "NET_RX",  "BLOCK",
                                       "IRQ_POLL", "TASKLET", "SCHED",  "HRTIMER", "RCU"};

class SoftirqsCollector : public Collector {
 public:
  explicit SoftirqsCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("softirqs")) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    if (buf_.empty()) return Status::InvalidArgument("empty " + path_);
    // Validate the whole file before adding samples, as the parser upstream does.
    rows_.clear();
    Status st;
    bool header = true;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (header) {  // "CPU0 CPU1 ..."
        header = false;
        return;
      }
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (fields_.size() < 2) return;
      std::string_view name = fields_[0];
      if (name.empty() || name.back() != ':') return;
      name.remove_suffix(1);
      for (size_t t = 0; t < std::size(kTypes); ++t) {
        if (kTypes[t] != name) continue;
        Row r{t, values_.size(), fields_.size() - 1};
        for (size_t i = 1; i < fields_.size(); ++i) {
          uint64_t v;
          if (!procfs::ParseUint(fields_[i], v)) {
            st = Status::InvalidArgument("bad count in " + path_);
            return;
          }
          values_.push_back(v);
        }
        // A repeated row replaces the earlier one.
        for (size_t k = 0; k < rows_.size(); ++k) {
          if (rows_[k].type == t) rows_.erase(rows_.begin() + static_cast<ptrdiff_t>(k));
        }
        rows_.push_back(r);
      }
    });
    if (!st.ok()) {
      values_.clear();
      return st;
    }
    char b[24];
    for (const Row& r : rows_) {
      for (size_t cpu = 0; cpu < r.count; ++cpu) {
        out.Counter("node_softirqs_functions_total", "Softirqs handled, by CPU and type.",
                    static_cast<double>(values_[r.first + cpu]),
                    {{"cpu", procfs::UintText(cpu, b)}, {"type", kTypes[r.type]}});
      }
    }
    values_.clear();
    return Status::Ok();
  }

 private:
  struct Row {
    size_t type, first, count;
  };
  std::string path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
  std::vector<Row> rows_;
  std::vector<uint64_t> values_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "softirqs",
    .default_enabled = false,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<SoftirqsCollector>(ctx));
    },
});

}  // namespace agent
