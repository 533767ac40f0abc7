// ksmd: Kernel Samepage Merging state and statistics from /sys/kernel/mm/ksm.

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

struct KsmFile {
  const char* file;
  const char* metric;
  const char* help;
  bool counter;
  bool millis;  // milliseconds, exported as seconds
};

constexpr KsmFile kFiles[] = {
    {"full_scans", "node_ksmd_full_scans_total", "Complete scans of all mergeable memory.", true,
     false},
    {"general_profit", "node_ksmd_general_profit_bytes",
     "Bytes KSM saves, net of its own metadata (may be negative).", false, false},
    {"merge_across_nodes", "node_ksmd_merge_across_nodes",
     "1 if pages of different NUMA nodes may be merged.", false, false},
    {"pages_shared", "node_ksmd_pages_shared", "Shared pages in use.", false, false},
    {"pages_sharing", "node_ksmd_pages_sharing", "Further mappings of the shared pages (saved).",
     false, false},
    {"pages_to_scan", "node_ksmd_pages_to_scan", "Pages scanned per ksmd wake-up.", false, false},
    {"pages_unshared", "node_ksmd_pages_unshared",
     "Unique pages checked again and again for merging.", false, false},
    {"pages_volatile", "node_ksmd_pages_volatile", "Pages changing too fast to be merged.", false,
     false},
    {"run", "node_ksmd_run", "ksmd state: 0 stopped, 1 running, 2 unmerging.", false, false},
    {"sleep_millisecs", "node_ksmd_sleep_seconds", "Seconds ksmd sleeps between scans.", false,
     true},
};

class KsmdCollector : public Collector {
 public:
  explicit KsmdCollector(const CollectorContext& ctx) : dir_(ctx.paths.Sys("kernel/mm/ksm")) {}

  Status Update(MetricSet& out) override {
    for (const KsmFile& f : kFiles) {
      path_.assign(dir_).append("/").append(f.file);
      Status st = procfs::ReadFile(path_, buf_);
      if (st.IsNotFound()) continue;  // older kernels lack some files (general_profit)
      LOOKOUT_RETURN_IF_ERROR(st);
      std::string_view text = procfs::TrimSpace(buf_);
      double v;
      uint64_t u;
      int64_t i;
      if (procfs::ParseUint(text, u)) {
        v = static_cast<double>(u);
      } else if (std::string_view(f.file) == "general_profit" && procfs::ParseInt(text, i)) {
        // general_profit is signed; node_exporter reads it as unsigned and fails when it is
        // negative, which we do not copy.
        v = static_cast<double>(i);
      } else {
        return Status::InvalidArgument("bad number in " + path_);
      }
      if (f.millis) v /= 1000;
      out.Add(f.metric, f.help, f.counter ? MetricType::kCounter : MetricType::kGauge, v);
    }
    return Status::Ok();
  }

 private:
  std::string dir_;
  std::string path_, buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "ksmd",
    .default_enabled = false,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<KsmdCollector>(ctx));
    },
});

}  // namespace agent
