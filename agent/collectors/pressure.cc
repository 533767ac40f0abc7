// pressure: pressure stall information from /proc/pressure/{cpu,io,memory,irq} (Linux 4.20+,
// irq since 6.1): total seconds tasks waited ("some") or all stalled ("full").

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

struct PsiLine {
  bool present = false;
  uint64_t total = 0;  // microseconds
};

// Parses "some|full avg10=F avg60=F avg300=F total=N" lines; other prefixes are ignored.
Status ParsePsi(std::string_view content, const std::string& path, PsiLine& some, PsiLine& full,
                std::vector<std::string_view>& fields) {
  some = full = PsiLine{};
  Status st;
  procfs::ForEachLine(content, [&](std::string_view line) {
    if (!st.ok()) return;
    std::string_view prefix = line.substr(0, line.find(' '));
    PsiLine* dst = prefix == "some" ? &some : prefix == "full" ? &full : nullptr;
    if (dst == nullptr) return;
    procfs::SplitFields(line, fields);
    static constexpr std::string_view kKeys[] = {"avg10=", "avg60=", "avg300=", "total="};
    bool ok = fields.size() >= 5;
    for (size_t i = 0; ok && i < 4; ++i) {
      std::string_view f = fields[i + 1];
      ok = f.substr(0, kKeys[i].size()) == kKeys[i];
      f.remove_prefix(ok ? kKeys[i].size() : 0);
      double d;
      ok = ok && (i < 3 ? procfs::ParseDouble(f, d) : procfs::ParseUint(f, dst->total));
    }
    if (!ok) {
      st = Status::InvalidArgument("bad pressure line in " + path);
      return;
    }
    dst->present = true;
  });
  return st;
}

class PressureCollector : public Collector {
 public:
  explicit PressureCollector(const CollectorContext& ctx) : dir_(ctx.paths.Proc("pressure")) {}

  Status Update(MetricSet& out) override {
    int found = 0;
    for (std::string_view res : {"cpu", "io", "memory", "irq"}) {
      path_.assign(dir_).append("/").append(res);
      Status st = procfs::ReadFile(path_, buf_);
      if (st.IsNotFound()) continue;  // kernel without PSI (or without irq pressure)
      if (!st.ok()) return st.Annotate("pressure stall information");
      PsiLine some, full;
      LOOKOUT_RETURN_IF_ERROR(ParsePsi(buf_, path_, some, full, fields_));
      // irq has only "full"; the others must have "some", and all but cpu must have "full".
      if ((!some.present && res != "irq") || (!full.present && res != "cpu")) {
        return Status::Unavailable("incomplete pressure stall information in " + path_);
      }
      // Microseconds to seconds in two steps, exactly as node_exporter rounds.
      auto secs = [](const PsiLine& l) { return static_cast<double>(l.total) / 1000.0 / 1000.0; };
      if (res == "cpu") {
        out.Counter("node_pressure_cpu_waiting_seconds_total",
                    "Seconds in which at least one task waited for a CPU.", secs(some));
      } else if (res == "io") {
        out.Counter("node_pressure_io_waiting_seconds_total",
                    "Seconds in which at least one task waited for I/O.", secs(some));
        out.Counter("node_pressure_io_stalled_seconds_total",
                    "Seconds in which all non-idle tasks were stalled on I/O.", secs(full));
      } else if (res == "memory") {
        out.Counter("node_pressure_memory_waiting_seconds_total",
                    "Seconds in which at least one task waited for memory.", secs(some));
        out.Counter("node_pressure_memory_stalled_seconds_total",
                    "Seconds in which all non-idle tasks were stalled on memory.", secs(full));
      } else {
        out.Counter("node_pressure_irq_stalled_seconds_total",
                    "Seconds in which all non-idle tasks were stalled by interrupt handling.",
                    secs(full));
      }
      ++found;
    }
    if (found == 0) return Status::Unavailable("no pressure stall information under " + dir_);
    return Status::Ok();
  }

 private:
  std::string dir_;
  std::string path_, buf_;
  std::vector<std::string_view> fields_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "pressure",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<PressureCollector>(ctx));
    },
});

}  // namespace agent
