// stat: kernel counters of /proc/stat (interrupts, context switches, forks, boot time, runnable
// and blocked processes) and, with --collector.stat.softirq, the softirq counts per vector.

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

constexpr const char* kVectorNames[procfs::kSoftirqVectorCount] = {
    "hi",           "timer",   "net_tx", "net_rx",  "block",
    "block_iopoll", "tasklet", "sched",  "hrtimer", "rcu",
};

class StatCollector : public Collector {
 public:
  explicit StatCollector(const CollectorContext& ctx)
      : path_(ctx.paths.Proc("stat")), softirq_(ctx.flags.GetBool("collector.stat.softirq")) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    LOOKOUT_RETURN_IF_ERROR(procfs::ParseProcStat(buf_, path_, stat_));
    out.Counter("node_intr_total", "Interrupts serviced since boot, numbered and unnumbered.",
                static_cast<double>(stat_.irq_total));
    out.Counter("node_context_switches_total", "Context switches since boot.",
                static_cast<double>(stat_.context_switches));
    out.Counter("node_forks_total", "Processes and threads created since boot.",
                static_cast<double>(stat_.processes_created));
    out.Gauge("node_boot_time_seconds", "When the system booted, in seconds since the epoch.",
              static_cast<double>(stat_.boot_time));
    out.Gauge("node_procs_running", "Processes in the runnable state.",
              static_cast<double>(stat_.procs_running));
    out.Gauge("node_procs_blocked", "Processes blocked waiting for I/O.",
              static_cast<double>(stat_.procs_blocked));
    if (softirq_) {
      for (int i = 0; i < procfs::kSoftirqVectorCount; ++i) {
        out.Counter("node_softirqs_total", "Softirqs raised since boot, by vector.",
                    static_cast<double>(stat_.softirq[i]), {{"vector", kVectorNames[i]}});
      }
    }
    return Status::Ok();
  }

 private:
  std::string path_;
  bool softirq_;
  std::string buf_;
  procfs::ProcStat stat_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "stat",
    .default_enabled = true,
    .flags = {{.name = "collector.stat.softirq",
               .help = "Export softirq counts per vector from /proc/stat (node_softirqs_total).",
               .default_value = "false",
               .kind = FlagSpec::Kind::kBool}},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<StatCollector>(ctx));
    },
});

}  // namespace agent
