// meminfo: node_memory_* from /proc/meminfo.
//
// node_exporter 1.12 maps a fixed set of /proc/meminfo keys (those the procfs library knows) to
// node_memory_<Key>_bytes, converting "kB" values to bytes; the HugePages_* counts keep their
// raw value and have no _bytes suffix. Keys outside the set are skipped. A line that is not
// "Key: value [kB]" fails the collector, as the procfs library's parser does.

#include <array>
#include <string_view>

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

struct MeminfoKey {
  std::string_view key;     // as in /proc/meminfo, without the colon
  std::string_view metric;  // full metric name
  bool bytes;               // kB-converted value (false: the raw count)
};

// Sorted by key for binary search.
constexpr std::array<MeminfoKey, 52> kKeys = {{
    {"Active", "node_memory_Active_bytes", true},
    {"Active(anon)", "node_memory_Active_anon_bytes", true},
    {"Active(file)", "node_memory_Active_file_bytes", true},
    {"AnonHugePages", "node_memory_AnonHugePages_bytes", true},
    {"AnonPages", "node_memory_AnonPages_bytes", true},
    {"Bounce", "node_memory_Bounce_bytes", true},
    {"Buffers", "node_memory_Buffers_bytes", true},
    {"Cached", "node_memory_Cached_bytes", true},
    {"CmaFree", "node_memory_CmaFree_bytes", true},
    {"CmaTotal", "node_memory_CmaTotal_bytes", true},
    {"CommitLimit", "node_memory_CommitLimit_bytes", true},
    {"Committed_AS", "node_memory_Committed_AS_bytes", true},
    {"DirectMap1G", "node_memory_DirectMap1G_bytes", true},
    {"DirectMap2M", "node_memory_DirectMap2M_bytes", true},
    {"DirectMap4k", "node_memory_DirectMap4k_bytes", true},
    {"Dirty", "node_memory_Dirty_bytes", true},
    {"HardwareCorrupted", "node_memory_HardwareCorrupted_bytes", true},
    {"HugePages_Free", "node_memory_HugePages_Free", false},
    {"HugePages_Rsvd", "node_memory_HugePages_Rsvd", false},
    {"HugePages_Surp", "node_memory_HugePages_Surp", false},
    {"HugePages_Total", "node_memory_HugePages_Total", false},
    {"Hugepagesize", "node_memory_Hugepagesize_bytes", true},
    {"Inactive", "node_memory_Inactive_bytes", true},
    {"Inactive(anon)", "node_memory_Inactive_anon_bytes", true},
    {"Inactive(file)", "node_memory_Inactive_file_bytes", true},
    {"KernelStack", "node_memory_KernelStack_bytes", true},
    {"Mapped", "node_memory_Mapped_bytes", true},
    {"MemAvailable", "node_memory_MemAvailable_bytes", true},
    {"MemFree", "node_memory_MemFree_bytes", true},
    {"MemTotal", "node_memory_MemTotal_bytes", true},
    {"Mlocked", "node_memory_Mlocked_bytes", true},
    {"NFS_Unstable", "node_memory_NFS_Unstable_bytes", true},
    {"PageTables", "node_memory_PageTables_bytes", true},
    {"Percpu", "node_memory_Percpu_bytes", true},
    {"SReclaimable", "node_memory_SReclaimable_bytes", true},
    {"SUnreclaim", "node_memory_SUnreclaim_bytes", true},
    {"Shmem", "node_memory_Shmem_bytes", true},
    {"ShmemHugePages", "node_memory_ShmemHugePages_bytes", true},
    {"ShmemPmdMapped", "node_memory_ShmemPmdMapped_bytes", true},
    {"Slab", "node_memory_Slab_bytes", true},
    {"SwapCached", "node_memory_SwapCached_bytes", true},
    {"SwapFree", "node_memory_SwapFree_bytes", true},
    {"SwapTotal", "node_memory_SwapTotal_bytes", true},
    {"Unevictable", "node_memory_Unevictable_bytes", true},
    {"VmallocChunk", "node_memory_VmallocChunk_bytes", true},
    {"VmallocTotal", "node_memory_VmallocTotal_bytes", true},
    {"VmallocUsed", "node_memory_VmallocUsed_bytes", true},
    {"Writeback", "node_memory_Writeback_bytes", true},
    {"WritebackTmp", "node_memory_WritebackTmp_bytes", true},
    {"Zswap", "node_memory_Zswap_bytes", true},
    {"Zswapped", "node_memory_Zswapped_bytes", true},
    {"~end", "", false},  // sentinel, never matches a real key
}};

constexpr bool KeysSorted() {
  for (size_t i = 1; i < kKeys.size(); ++i) {
    if (!(kKeys[i - 1].key < kKeys[i].key)) return false;
  }
  return true;
}
static_assert(KeysSorted(), "kKeys must be sorted by key");

const MeminfoKey* Find(std::string_view key) {
  size_t lo = 0, hi = kKeys.size() - 1;  // excludes the sentinel
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (kKeys[mid].key < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < kKeys.size() - 1 && kKeys[lo].key == key ? &kKeys[lo] : nullptr;
}

class MeminfoCollector : public Collector {
 public:
  explicit MeminfoCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("meminfo")) {
    for (size_t i = 0; i < kKeys.size(); ++i) {
      help_[i] = "The " + std::string(kKeys[i].key) + " line of /proc/meminfo" +
                 (kKeys[i].bytes ? ", converted from kB to bytes." : ".");
    }
  }

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    Status st;
    bool saw_total = false;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (fields_.empty()) return;
      if (fields_.size() < 2 || fields_.size() > 3) {
        st = Status::InvalidArgument("malformed line in " + path_ + ": " + std::string(line));
        return;
      }
      uint64_t v;
      if (!procfs::ParseUint(fields_[1], v)) {
        st = Status::InvalidArgument("bad value in " + path_ + ": " + std::string(line));
        return;
      }
      double bytes = static_cast<double>(v);
      if (fields_.size() == 3) {
        if (fields_[2] != "kB") {
          st = Status::InvalidArgument("unsupported unit in " + path_ + ": " + std::string(line));
          return;
        }
        bytes = static_cast<double>(v * 1024);
      }
      std::string_view key = fields_[0];
      if (!key.empty() && key.back() == ':') key.remove_suffix(1);
      const MeminfoKey* k = Find(key);
      if (k == nullptr) return;
      if (key == "MemTotal") saw_total = true;
      out.Gauge(k->metric, help_[static_cast<size_t>(k - kKeys.data())],
                k->bytes ? bytes : static_cast<double>(v));
    });
    // Every kernel writes MemTotal first: without it the file is empty or cut short.
    if (st.ok() && !saw_total) st = Status::InvalidArgument("no MemTotal line in " + path_);
    return st;
  }

 private:
  std::string path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
  std::array<std::string, kKeys.size()> help_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "meminfo",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<MeminfoCollector>(ctx));
    },
});

}  // namespace agent
