// entropy: the kernel entropy pool from /proc/sys/kernel/random (bits available, pool size).

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

class EntropyCollector : public Collector {
 public:
  explicit EntropyCollector(const CollectorContext& ctx)
      : dir_(ctx.paths.Proc("sys/kernel/random")) {}

  Status Update(MetricSet& out) override {
    // node_exporter reads every numeric file of the directory: a missing one is skipped, one
    // that does not parse fails the collector.
    uint64_t avail = 0, pool = 0, ignored;
    bool have_avail = false, have_pool = false;
    const std::pair<const char*, uint64_t*> files[] = {{"entropy_avail", &avail},
                                                       {"poolsize", &pool},
                                                       {"urandom_min_reseed_secs", &ignored},
                                                       {"write_wakeup_threshold", &ignored},
                                                       {"read_wakeup_threshold", &ignored}};
    for (const auto& [name, dst] : files) {
      path_.assign(dir_).append("/").append(name);
      Status st = procfs::ReadFile(path_, buf_);
      if (st.IsNotFound()) continue;
      LOOKOUT_RETURN_IF_ERROR(st);
      if (!procfs::ParseUint(procfs::TrimSpace(buf_), *dst)) {
        return Status::InvalidArgument("bad number in " + path_);
      }
      if (dst == &avail) have_avail = true;
      if (dst == &pool) have_pool = true;
    }
    if (!have_avail) return Status::NotFound("no entropy_avail in " + dir_);
    out.Gauge("node_entropy_available_bits", "Bits of entropy the kernel pool holds.",
              static_cast<double>(avail));
    if (!have_pool) return Status::NotFound("no poolsize in " + dir_);
    out.Gauge("node_entropy_pool_size_bits", "Size of the kernel entropy pool, in bits.",
              static_cast<double>(pool));
    return Status::Ok();
  }

 private:
  std::string dir_;
  std::string path_, buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "entropy",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<EntropyCollector>(ctx));
    },
});

}  // namespace agent
