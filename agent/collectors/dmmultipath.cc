// dmmultipath: node_dmmultipath_* for device-mapper multipath maps, found as /sys/block/dm-*
// whose dm/uuid starts with "mpath-": map info, suspended state, size (512-byte sectors), and
// each path (slaves/<dev>) with the state in /sys/block/<dev>/device/state. A path is active
// when its state is "running" (SCSI) or "live" (NVMe).
// Any read failure of a multipath map's attributes fails the collector; dm devices without
// dm/uuid are not device-mapper maps and are skipped.

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

class DmMultipathCollector : public Collector {
 public:
  explicit DmMultipathCollector(const CollectorContext& ctx) : root_(ctx.paths.Sys("block")) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(root_);
    if (!entries.ok()) {
      if (entries.status().IsNotFound()) return Status::NotFound("no block devices: " + root_);
      return entries.status().Annotate("failed to scan DM-multipath devices");
    }
    // Read all maps first: a failure exports nothing, as in node_exporter.
    n_ = 0;
    for (const std::string& e : *entries) {
      if (e.substr(0, 3) != "dm-") continue;
      if (n_ == maps_.size()) maps_.emplace_back();
      bool is_mpath = false;
      LOOKOUT_RETURN_IF_ERROR(
          ReadMap(e, maps_[n_], is_mpath).Annotate("failed to scan DM-multipath devices"));
      if (is_mpath) ++n_;
    }
    for (size_t i = 0; i < n_; ++i) Emit(maps_[i], out);
    return Status::Ok();
  }

 private:
  struct Path {
    std::string device, state;
  };
  struct Map {
    std::string sysfs_name, name, uuid;
    bool suspended = false;
    uint64_t size_bytes = 0;
    std::vector<Path> paths;
  };

  Status ReadMap(const std::string& dm, Map& m, bool& is_mpath) {
    procfs::JoinPath(dir_, root_, dm);
    auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "dm/uuid"), buf_);
    if (!r.ok()) {
      if (r.NotExist()) return Status::Ok();  // not a device-mapper device
      return procfs::SysReadStatus(r, path_);
    }
    if (r.value.substr(0, 6) != "mpath-") return Status::Ok();
    is_mpath = true;
    m.sysfs_name = dm;
    m.uuid.assign(r.value);
    r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "dm/name"), buf_);
    if (!r.ok()) return procfs::SysReadStatus(r, path_);
    m.name.assign(r.value);
    uint64_t v;
    LOOKOUT_RETURN_IF_ERROR(ReadUint("dm/suspended", v));
    m.suspended = v == 1;
    LOOKOUT_RETURN_IF_ERROR(ReadUint("size", v));
    m.size_bytes = v * 512;

    m.paths.clear();
    procfs::JoinPath(path_, dir_, "slaves");
    auto slaves = procfs::ListDir(path_);
    if (!slaves.ok()) {
      if (slaves.status().IsNotFound()) return Status::Ok();
      return slaves.status();
    }
    for (const std::string& s : *slaves) {
      procfs::JoinPath(path_, root_, s);
      path_ += "/device/state";
      r = procfs::SysReadFile(path_, buf_);
      if (!r.ok()) return procfs::SysReadStatus(r, path_);
      m.paths.push_back({s, std::string(r.value)});
    }
    return Status::Ok();
  }

  Status ReadUint(std::string_view file, uint64_t& v) {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(procfs::JoinPath(path_, dir_, file), buf_, 4096));
    if (!procfs::ParseUint(procfs::TrimSpace(buf_), v)) {
      return Status::InvalidArgument("bad number in " + path_);
    }
    return Status::Ok();
  }

  void Emit(const Map& m, MetricSet& out) {
    out.Gauge("node_dmmultipath_device_info", "Name and UUID of the multipath map; always 1.", 1,
              {{"device", m.name}, {"sysfs_name", m.sysfs_name}, {"uuid", m.uuid}});
    out.Gauge("node_dmmultipath_device_active",
              "1 when the multipath map is active, 0 when "
              "suspended.",
              m.suspended ? 0 : 1, {{"device", m.name}, {"sysfs_name", m.sysfs_name}});
    out.Gauge("node_dmmultipath_device_size_bytes", "Size of the multipath map.",
              static_cast<double>(m.size_bytes),
              {{"device", m.name}, {"sysfs_name", m.sysfs_name}});
    int active = 0, failed = 0;
    for (const Path& p : m.paths) {
      if (p.state == "running" || p.state == "live") {
        ++active;
      } else {
        ++failed;
      }
      out.Gauge("node_dmmultipath_path_state", "State of a path of the multipath map; always 1.", 1,
                {{"device", m.name}, {"path", p.device}, {"state", p.state}});
    }
    out.Gauge("node_dmmultipath_device_paths", "Paths of the multipath map.",
              static_cast<double>(m.paths.size()),
              {{"device", m.name}, {"sysfs_name", m.sysfs_name}});
    out.Gauge("node_dmmultipath_device_paths_active",
              "Paths of the multipath map in an active state (running or live).", active,
              {{"device", m.name}, {"sysfs_name", m.sysfs_name}});
    out.Gauge("node_dmmultipath_device_paths_failed",
              "Paths of the multipath map not in an active state.", failed,
              {{"device", m.name}, {"sysfs_name", m.sysfs_name}});
  }

  std::string root_;
  std::vector<Map> maps_;
  size_t n_ = 0;
  std::string dir_, path_, buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "dmmultipath",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<DmMultipathCollector>(ctx));
    },
});

}  // namespace agent
