// btrfs: node_btrfs_* per Btrfs filesystem, from sysfs fs/btrfs/<uuid>/ (label, commit_stats,
// allocation/{data,metadata,system}/..., devices/<dev>/size) and, for mounted filesystems the
// agent can open, per-device sizes and error counters through the btrfs ioctls
// (BTRFS_IOC_FS_INFO, BTRFS_IOC_DEV_INFO, BTRFS_IOC_GET_DEV_STATS), as node_exporter does.
//
// Errors: a sysfs directory that cannot be listed (devices/, a block-group directory) or a file
// that cannot be read (other than missing) fails the pass before any sample is added, as
// upstream reads all filesystems first. Unparseable numbers count as 0 (upstream ignores them).
// ioctl problems (no permission, not mounted here) only drop the per-device detail: the device
// sizes then come from sysfs.

#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "common/log/log.h"

namespace agent {
namespace {

constexpr double kSectorSize = 512;
// Inode number of a subvolume root (BTRFS_FIRST_FREE_OBJECTID); mount points are such roots.
constexpr ino_t kSubvolRootInode = 256;
constexpr std::array<std::string_view, 3> kBlockGroups = {"data", "metadata", "system"};
constexpr std::array<std::string_view, 5> kDevErrorTypes = {"write", "read", "flush", "corruption",
                                                            "generation"};

bool IsRealDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The bytes as lowercase hex, with dashes in UUID positions when `dashed`.
std::string Hex(const uint8_t* b, size_t n, bool dashed) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (dashed && (i == 4 || i == 6 || i == 8 || i == 10)) s.push_back('-');
    s.push_back(kDigits[b[i] >> 4]);
    s.push_back(kDigits[b[i] & 15]);
  }
  return s;
}

// Undoes mountinfo's octal escapes (\040 for a space, ...).
std::string UnescapeMountPath(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Layout {
  std::string mode;
  double used = 0, total = 0, ratio = 0;
};
struct BlockGroup {
  double reserved = 0;
  std::vector<Layout> layouts;
};
struct SysDevice {
  std::string name;
  double size = 0;
};
struct FsStats {
  std::string uuid;
  std::string label;
  double global_rsv = 0;
  double commits = 0, last_commit_ms = 0, max_commit_ms = 0, total_commit_ms = 0;
  std::array<BlockGroup, 3> groups;
  std::vector<SysDevice> devices;
};

struct IoctlDevice {
  std::string name;  // basename of the device path
  std::string uuid;
  double total_bytes = 0, unused_bytes = 0;
  std::array<double, 5> errors{};
};
struct IoctlFs {
  std::string fsid;  // hex, no dashes
  std::vector<IoctlDevice> devices;
};

class BtrfsCollector : public Collector {
 public:
  explicit BtrfsCollector(const CollectorContext& ctx)
      : paths_(ctx.paths), base_(ctx.paths.Sys("fs/btrfs")), log_("agent/btrfs") {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(base_);
    if (!entries.ok()) return Status::Ok();  // no btrfs module: nothing to report
    fss_.clear();
    for (const std::string& e : *entries) {
      if (e.find('-') == std::string::npos) continue;  // "features" and other non-filesystems
      fss_.emplace_back();
      LOOKOUT_RETURN_IF_ERROR(ReadFs(base_ + "/" + e, e, fss_.back()));
    }
    if (fss_.empty()) return Status::Ok();
    ReadIoctlStats();
    for (const FsStats& fs : fss_) Emit(fs, out);
    return Status::Ok();
  }

 private:
  // Reads a trimmed sysfs attribute into text_; "" when missing.
  Status ReadText(const std::string& path) {
    text_.clear();
    Status s = procfs::ReadFile(path, buf_);
    if (s.IsNotFound()) return Status::Ok();
    LOOKOUT_RETURN_IF_ERROR(s);
    text_.assign(procfs::TrimSpace(buf_));
    return Status::Ok();
  }

  // A numeric attribute: 0 when missing or unparseable.
  Status ReadValue(const std::string& path, double& out) {
    out = 0;
    LOOKOUT_RETURN_IF_ERROR(ReadText(path));
    uint64_t v;
    if (procfs::ParseUint(text_, v)) out = static_cast<double>(v);
    return Status::Ok();
  }

  Status ReadFs(const std::string& dir, const std::string& name, FsStats& fs) {
    auto devs = procfs::ListDir(dir + "/devices");
    if (!devs.ok()) return devs.status();
    for (const std::string& d : *devs) {
      double sectors;
      LOOKOUT_RETURN_IF_ERROR(ReadValue(dir + "/devices/" + d + "/size", sectors));
      fs.devices.push_back(SysDevice{d, sectors * kSectorSize});
    }

    LOOKOUT_RETURN_IF_ERROR(ReadText(dir + "/label"));
    fs.label = text_;
    LOOKOUT_RETURN_IF_ERROR(ReadText(dir + "/metadata_uuid"));
    fs.uuid = text_.empty() ? name : text_;

    LOOKOUT_RETURN_IF_ERROR(ReadText(dir + "/commit_stats"));
    procfs::ForEachLine(text_, [&](std::string_view line) {
      procfs::SplitFields(line, fields_);
      uint64_t v;
      if (fields_.size() < 2 || !procfs::ParseUint(fields_[1], v)) return;
      double d = static_cast<double>(v);
      if (fields_[0] == "commits")
        fs.commits = d;
      else if (fields_[0] == "last_commit_ms")
        fs.last_commit_ms = d;
      else if (fields_[0] == "max_commit_ms")
        fs.max_commit_ms = d;
      else if (fields_[0] == "total_commit_ms")
        fs.total_commit_ms = d;
    });

    LOOKOUT_RETURN_IF_ERROR(ReadValue(dir + "/allocation/global_rsv_size", fs.global_rsv));
    double dev_count = static_cast<double>(fs.devices.size());
    for (size_t g = 0; g < kBlockGroups.size(); ++g) {
      std::string gdir = dir + "/allocation/" + std::string(kBlockGroups[g]);
      BlockGroup& bg = fs.groups[g];
      LOOKOUT_RETURN_IF_ERROR(ReadValue(gdir + "/bytes_reserved", bg.reserved));
      auto layouts = procfs::ListDir(gdir);
      if (!layouts.ok()) return layouts.status();
      for (const std::string& mode : *layouts) {
        std::string ldir = gdir + "/" + mode;
        if (!IsRealDir(ldir)) continue;
        Layout l;
        l.mode = mode;
        LOOKOUT_RETURN_IF_ERROR(ReadValue(ldir + "/total_bytes", l.total));
        LOOKOUT_RETURN_IF_ERROR(ReadValue(ldir + "/used_bytes", l.used));
        // Raw bytes written per byte of data for this profile.
        if (mode == "single" || mode == "raid0") {
          l.ratio = 1;
        } else if (mode == "dup" || mode == "raid1" || mode == "raid10") {
          l.ratio = 2;
        } else if (mode == "raid5") {
          l.ratio = dev_count / (dev_count - 1);
        } else if (mode == "raid6") {
          l.ratio = dev_count / (dev_count - 2);
        }
        bg.layouts.push_back(std::move(l));
      }
    }
    return Status::Ok();
  }

  // Per-device stats of the btrfs filesystems mounted on this host, keyed by fsid. Failures only
  // drop a filesystem (debug log), as upstream does.
  void ReadIoctlStats() {
    ioctl_fss_.clear();
    Status s = procfs::ReadFile(paths_.Proc("1/mountinfo"), buf_);
    if (s.IsNotFound()) s = procfs::ReadFile(paths_.Proc("self/mountinfo"), buf_);
    if (!s.ok()) {
      log_.Debug("cannot read mounts for btrfs device stats", {{"err", s.ToString()}});
      return;
    }
    std::vector<std::string> devices_done;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      procfs::SplitFields(line, fields_);
      size_t sep = 0;
      for (size_t i = 6; i < fields_.size(); ++i) {
        if (fields_[i] == "-") {
          sep = i;
          break;
        }
      }
      if (sep == 0 || sep + 2 >= fields_.size() || fields_[sep + 1] != "btrfs") return;
      std::string source(fields_[sep + 2]);
      for (const std::string& d : devices_done) {
        if (d == source) return;
      }
      std::string mount_point = UnescapeMountPath(fields_[4]);
      std::string path = RootfsPath(mount_point);
      if (QueryFs(path)) devices_done.push_back(source);
    });
  }

  // node_exporter's rootfs handling: mount points seen through --path.rootfs.
  std::string RootfsPath(const std::string& mount_point) const {
    const std::string& root = paths_.rootfs;
    if (root.empty() || root == "/") return mount_point;
    if (mount_point.rfind(root, 0) == 0) return mount_point;
    return Paths::Join(root, mount_point);
  }

  // Opens the filesystem mounted at `path` and adds its devices to ioctl_fss_; false when it
  // could not be queried.
  bool QueryFs(const std::string& path) {
    struct stat st;
    struct statfs sfs;
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_ino != kSubvolRootInode ||
        ::statfs(path.c_str(), &sfs) != 0 ||
        static_cast<uint32_t>(sfs.f_type) != BTRFS_SUPER_MAGIC) {
      log_.Debug("not a btrfs subvolume root", {{"mountPoint", path}});
      return false;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_NOATIME | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      log_.Debug("cannot open btrfs mount point", {{"mountPoint", path}});
      return false;
    }
    bool ok = QueryOpenFs(fd, path);
    ::close(fd);
    return ok;
  }

  bool QueryOpenFs(int fd, const std::string& path) {
    btrfs_ioctl_fs_info_args info;
    std::memset(&info, 0, sizeof info);
    if (::ioctl(fd, BTRFS_IOC_FS_INFO, &info) != 0) {
      log_.Debug("BTRFS_IOC_FS_INFO failed", {{"mountPoint", path}});
      return false;
    }
    std::string fsid = Hex(info.fsid, BTRFS_FSID_SIZE, false);
    for (const IoctlFs& f : ioctl_fss_) {
      if (f.fsid == fsid) return false;  // seen through another mount point
    }
    IoctlFs fs;
    fs.fsid = fsid;
    for (uint64_t id = 0; id <= info.max_id; ++id) {
      btrfs_ioctl_dev_info_args dev;
      std::memset(&dev, 0, sizeof dev);
      dev.devid = id;
      if (::ioctl(fd, BTRFS_IOC_DEV_INFO, &dev) != 0) {
        if (errno == ENODEV) continue;  // device ids have gaps
        log_.Debug("BTRFS_IOC_DEV_INFO failed", {{"mountPoint", path}});
        return false;
      }
      btrfs_ioctl_get_dev_stats stats;
      std::memset(&stats, 0, sizeof stats);
      stats.devid = id;
      stats.nr_items = BTRFS_DEV_STAT_VALUES_MAX;
      if (::ioctl(fd, BTRFS_IOC_GET_DEV_STATS, &stats) != 0) {
        log_.Debug("BTRFS_IOC_GET_DEV_STATS failed", {{"mountPoint", path}});
        return false;
      }
      IoctlDevice d;
      dev.path[sizeof dev.path - 1] = 0;
      std::string_view dpath(reinterpret_cast<const char*>(dev.path));
      size_t slash = dpath.rfind('/');
      d.name.assign(slash == std::string_view::npos ? dpath : dpath.substr(slash + 1));
      d.uuid = Hex(dev.uuid, BTRFS_UUID_SIZE, true);
      d.total_bytes = static_cast<double>(dev.total_bytes);
      d.unused_bytes = static_cast<double>(dev.total_bytes - dev.bytes_used);
      static_assert(BTRFS_DEV_STAT_VALUES_MAX >= 5);
      for (size_t i = 0; i < d.errors.size(); ++i) {
        d.errors[i] = static_cast<double>(stats.values[i]);
      }
      fs.devices.push_back(std::move(d));
      if (fs.devices.size() == info.num_devices) break;
    }
    ioctl_fss_.push_back(std::move(fs));
    return true;
  }

  const IoctlFs* FindIoctl(const std::string& uuid) const {
    std::string key;
    for (char c : uuid) {
      if (c != '-') key.push_back(c);
    }
    for (const IoctlFs& f : ioctl_fss_) {
      if (f.fsid == key) return &f;
    }
    return nullptr;
  }

  void Emit(const FsStats& fs, MetricSet& out) {
    const std::string& u = fs.uuid;
    out.Gauge("node_btrfs_info", "Btrfs filesystem (always 1), with its label.", 1,
              {{"uuid", u}, {"label", fs.label}});
    out.Gauge("node_btrfs_global_rsv_size_bytes", "Size of the global block reserve.",
              fs.global_rsv, {{"uuid", u}});
    out.Counter("node_btrfs_commits_total", "Transaction commits since mount.", fs.commits,
                {{"uuid", u}});
    out.Gauge("node_btrfs_last_commit_seconds", "Duration of the latest transaction commit.",
              fs.last_commit_ms / 1000, {{"uuid", u}});
    out.Gauge("node_btrfs_max_commit_seconds", "Duration of the longest transaction commit.",
              fs.max_commit_ms / 1000, {{"uuid", u}});
    out.Counter("node_btrfs_commit_seconds_total", "Time spent in transaction commits.",
                fs.total_commit_ms / 1000, {{"uuid", u}});
    for (size_t g = 0; g < kBlockGroups.size(); ++g) {
      std::string_view type = kBlockGroups[g];
      const BlockGroup& bg = fs.groups[g];
      out.Gauge("node_btrfs_reserved_bytes", "Space reserved in this block group type.",
                bg.reserved, {{"uuid", u}, {"block_group_type", type}});
      for (const Layout& l : bg.layouts) {
        out.Gauge("node_btrfs_used_bytes", "Space used in this block group type and profile.",
                  l.used, {{"uuid", u}, {"block_group_type", type}, {"mode", l.mode}});
        out.Gauge("node_btrfs_size_bytes", "Space allocated to this block group type and profile.",
                  l.total, {{"uuid", u}, {"block_group_type", type}, {"mode", l.mode}});
        out.Gauge("node_btrfs_allocation_ratio",
                  "Raw bytes allocated per byte of data for this profile.", l.ratio,
                  {{"uuid", u}, {"block_group_type", type}, {"mode", l.mode}});
      }
    }
    const IoctlFs* io = FindIoctl(u);
    if (io == nullptr) {
      for (const SysDevice& d : fs.devices) {
        out.Gauge("node_btrfs_device_size_bytes", "Size of a device of the filesystem.", d.size,
                  {{"uuid", u}, {"device", d.name}});
      }
      return;
    }
    for (const IoctlDevice& d : io->devices) {
      out.Gauge("node_btrfs_device_size_bytes", "Size of a device of the filesystem.",
                d.total_bytes, {{"uuid", u}, {"device", d.name}, {"btrfs_dev_uuid", d.uuid}});
      out.Gauge("node_btrfs_device_unused_bytes",
                "Bytes of a device of the filesystem not allocated to any chunk.", d.unused_bytes,
                {{"uuid", u}, {"device", d.name}, {"btrfs_dev_uuid", d.uuid}});
      for (size_t i = 0; i < kDevErrorTypes.size(); ++i) {
        out.Counter("node_btrfs_device_errors_total", "Errors recorded for a device, by type.",
                    d.errors[i],
                    {{"uuid", u},
                     {"type", kDevErrorTypes[i]},
                     {"device", d.name},
                     {"btrfs_dev_uuid", d.uuid}});
      }
    }
  }

  Paths paths_;
  std::string base_;
  common::log::Logger log_;
  std::string buf_;
  std::string text_;
  std::vector<std::string_view> fields_;
  std::vector<FsStats> fss_;
  std::vector<IoctlFs> ioctl_fss_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "btrfs",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<BtrfsCollector>(ctx));
    },
});

}  // namespace agent
