// mdadm: node_md_* for Linux software RAID arrays, from /proc/mdstat (state, disks, blocks) and
// /sys/block/md*/md (raid_disks, degraded).
//
// As node_exporter 1.12: a missing /proc/mdstat (md driver not loaded) is "no data", a failed
// scrape; node_md_state has one series per state with 1 on the array's current state.
// node_md_degraded is read for the redundant levels (raid1/4/5/6/10) only, and is 0 otherwise.

#include <string>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"
#include "agent/procfs/mdstat.h"

namespace agent {
namespace {

class MdadmCollector : public Collector {
 public:
  explicit MdadmCollector(const CollectorContext& ctx)
      : path_(ctx.paths.Proc("mdstat")), sys_block_(ctx.paths.Sys("block")) {}

  Status Update(MetricSet& out) override {
    Status st = procfs::ReadFile(path_, buf_);
    if (st.IsNotFound()) return Status::NotFound("no " + path_ + " (md driver not loaded)");
    LOOKOUT_RETURN_IF_ERROR(st);
    LOOKOUT_RETURN_IF_ERROR(procfs::ParseMdStat(buf_, stats_).Annotate(path_));
    for (const procfs::MdStat& md : stats_) {
      std::string_view dev = md.name;
      out.Gauge("node_md_disks_required", "Member disks the array is configured with.",
                static_cast<double>(md.disks_total), {{"device", dev}});
      constexpr char kDisksHelp[] = "Member disks of the array by state.";
      out.Gauge("node_md_disks", kDisksHelp, static_cast<double>(md.disks_active),
                {{"device", dev}, {"state", "active"}});
      out.Gauge("node_md_disks", kDisksHelp, static_cast<double>(md.disks_failed),
                {{"device", dev}, {"state", "failed"}});
      out.Gauge("node_md_disks", kDisksHelp, static_cast<double>(md.disks_spare),
                {{"device", dev}, {"state", "spare"}});
      static constexpr std::pair<std::string_view, std::string_view> kStates[] = {
          {"active", "active"},
          {"inactive", "inactive"},
          {"recovering", "recovering"},
          {"resyncing", "resync"},
          {"checking", "check"}};
      for (const auto& [state, label] : kStates) {
        out.Gauge("node_md_state", "1 for the array's current state, 0 for the others.",
                  md.activity_state == state ? 1 : 0, {{"device", dev}, {"state", label}});
      }
      out.Gauge("node_md_blocks", "Size of the array in 1 KiB blocks.",
                static_cast<double>(md.blocks_total), {{"device", dev}});
      out.Gauge("node_md_blocks_synced", "Blocks of the array already in sync.",
                static_cast<double>(md.blocks_synced), {{"device", dev}});
    }
    return Sysfs(out);
  }

 private:
  Status Sysfs(MetricSet& out) {
    auto names = procfs::ListDir(sys_block_);
    if (!names.ok()) {
      if (names.status().IsNotFound()) return Status::NotFound("no " + sys_block_);
      return names.status();
    }
    for (const std::string& dev : *names) {
      if (dev.rfind("md", 0) != 0) continue;
      md_dir_.assign(sys_block_).append("/").append(dev).append("/md");
      if (!procfs::IsDir(md_dir_)) continue;
      auto level = procfs::ReadAttr(md_dir_ + "/level", attr_buf_);
      if (!level.ok()) return level.status().Annotate(dev);
      bool redundant = *level == "raid1" || *level == "raid4" || *level == "raid5" ||
                       *level == "raid6" || *level == "raid10";
      auto disks = procfs::ReadUint(md_dir_ + "/raid_disks");
      if (!disks.ok()) return disks.status().Annotate(dev);
      uint64_t degraded = 0;
      if (redundant) {
        auto d = procfs::ReadUint(md_dir_ + "/degraded");
        if (!d.ok()) return d.status().Annotate(dev);
        degraded = *d;
      }
      out.Gauge("node_md_raid_disks", "Disks in the array according to sysfs (raid_disks).",
                static_cast<double>(*disks), {{"device", dev}});
      out.Gauge("node_md_degraded", "Disks the array is missing (sysfs degraded).",
                static_cast<double>(degraded), {{"device", dev}});
    }
    return Status::Ok();
  }

  std::string path_, sys_block_;
  std::string buf_, attr_buf_, md_dir_;
  std::vector<procfs::MdStat> stats_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "mdadm",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<MdadmCollector>(ctx));
    },
});

}  // namespace agent
