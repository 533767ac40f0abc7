// nvme: node_nvme_info for each controller in /sys/class/nvme/<device>/ and node_nvme_namespace_*
// for each of its namespaces (nvme<C>n<N> or nvme<S>c<C>n<N> directories).
// Sizes are in logical blocks (queue/logical_block_size bytes each), as node_exporter reads them.
// A controller attribute that cannot be read (other than a missing one) fails the collector; a
// namespace attribute that is missing or unreadable counts as 0 (ana_state as "unknown").

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

// Namespace directory names: "nvme" digits ["c" digits] "n" digits; returns the namespace id.
bool NamespaceId(std::string_view name, std::string_view& nsid) {
  if (name.substr(0, 4) != "nvme") return false;
  size_t i = 4;
  auto digits = [&](size_t& at) {
    size_t start = at;
    while (at < name.size() && name[at] >= '0' && name[at] <= '9') ++at;
    return at > start;
  };
  if (!digits(i)) return false;
  if (i < name.size() && name[i] == 'c') {
    ++i;
    if (!digits(i)) return false;
  }
  if (i >= name.size() || name[i] != 'n') return false;
  size_t start = ++i;
  if (!digits(i) || i != name.size()) return false;
  nsid = name.substr(start);
  return true;
}

class NvmeCollector : public Collector {
 public:
  explicit NvmeCollector(const CollectorContext& ctx) : root_(ctx.paths.Sys("class/nvme")) {}

  Status Update(MetricSet& out) override {
    auto devs = procfs::ListDir(root_);
    if (!devs.ok()) {
      if (devs.status().IsNotFound()) return Status::NotFound("no NVMe devices: " + root_);
      return devs.status();
    }
    for (const std::string& dev : *devs) {
      procfs::JoinPath(dir_, root_, dev);
      static constexpr std::string_view kFiles[] = {"firmware_rev", "model", "serial", "state",
                                                    "cntlid"};
      for (size_t i = 0; i < std::size(kFiles); ++i) {
        info_[i].clear();
        auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, kFiles[i]), buf_);
        if (r.ok()) {
          info_[i].assign(r.value);
        } else if (!r.NotExist()) {
          return procfs::SysReadStatus(r, path_).Annotate("error obtaining NVMe class info");
        }
      }
      out.Gauge("node_nvme_info", "Text attributes of the NVMe controller; always 1.", 1,
                {{"device", dev},
                 {"firmware_revision", info_[0]},
                 {"model", info_[1]},
                 {"serial", info_[2]},
                 {"state", info_[3]},
                 {"cntlid", info_[4]}});

      auto entries = procfs::ListDir(dir_);
      if (!entries.ok()) continue;
      for (const std::string& e : *entries) {
        std::string_view nsid;
        if (!NamespaceId(e, nsid)) continue;
        procfs::JoinPath(ns_dir_, dir_, e);
        uint64_t size = ReadUintOrZero("size");
        uint64_t used = ReadUintOrZero("nuse");
        uint64_t lbs = ReadUintOrZero("queue/logical_block_size");
        ana_ = "unknown";
        if (procfs::ReadFile(procfs::JoinPath(path_, ns_dir_, "ana_state"), buf_).ok()) {
          ana_.assign(procfs::TrimSpace(buf_));
        }
        const double bytes = static_cast<double>(size * lbs);
        out.Gauge("node_nvme_namespace_info", "The namespace and its ANA state; always 1.", 1,
                  {{"device", dev}, {"nsid", nsid}, {"ana_state", ana_}});
        out.Gauge("node_nvme_namespace_capacity_bytes", "Capacity of the NVMe namespace.", bytes,
                  {{"device", dev}, {"nsid", nsid}});
        out.Gauge("node_nvme_namespace_size_bytes", "Size of the NVMe namespace.", bytes,
                  {{"device", dev}, {"nsid", nsid}});
        out.Gauge("node_nvme_namespace_used_bytes", "Space in use in the NVMe namespace.",
                  static_cast<double>(used * lbs), {{"device", dev}, {"nsid", nsid}});
        out.Gauge("node_nvme_namespace_logical_block_size_bytes",
                  "Logical block size of the NVMe namespace.", static_cast<double>(lbs),
                  {{"device", dev}, {"nsid", nsid}});
      }
    }
    return Status::Ok();
  }

 private:
  uint64_t ReadUintOrZero(std::string_view file) {
    uint64_t v = 0;
    if (!procfs::ReadFile(procfs::JoinPath(path_, ns_dir_, file), buf_, 4096).ok()) return 0;
    if (!procfs::ParseUint(procfs::TrimSpace(buf_), v)) return 0;
    return v;
  }

  std::string root_;
  std::string dir_, ns_dir_, path_, buf_, ana_;
  std::string info_[5];
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "nvme",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<NvmeCollector>(ctx));
    },
});

}  // namespace agent
