// diskstats: node_disk_* per block device from /proc/diskstats, with node_disk_info,
// node_disk_filesystem_info, node_disk_device_mapper_info and node_disk_ata_* from the udev
// database (--path.udev.data, files "b<major>:<minor>") and the rotational flag from
// /sys/block/<dev>/queue.
//
// node_exporter 1.12 semantics:
// - lines of /proc/diskstats with fewer than 14 fields are skipped; a non-numeric field fails the
//   collector. Only as many counters as the line has are exported (11, 15 with discards, 17 with
//   flushes). Sectors are 512 bytes, times are milliseconds converted to seconds (ms * 0.001).
// - --collector.diskstats.device-exclude (default below) and device-include are mutually
//   exclusive; the deprecated --collector.diskstats.ignored-devices replaces device-exclude.
// - the rotational label is "1" when /sys/block/<dev>/queue/rotational reads 1, else "0".
// - a missing udev file leaves the udev labels empty.

#include <cstdio>
#include <string>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

constexpr char kExcludeFlag[] = "collector.diskstats.device-exclude";
constexpr char kIncludeFlag[] = "collector.diskstats.device-include";
constexpr char kOldExcludeFlag[] = "collector.diskstats.ignored-devices";
constexpr char kDefaultExclude[] = "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";

constexpr double kSecondsPerTick = 1.0 / 1000.0;
constexpr double kSectorSize = 512.0;

struct StatDesc {
  const char* name;
  const char* help;
  MetricType type;
};

// In /proc/diskstats column order (after major, minor, name).
constexpr StatDesc kStats[] = {
    {"node_disk_reads_completed_total", "Reads completed.", MetricType::kCounter},
    {"node_disk_reads_merged_total", "Adjacent reads merged.", MetricType::kCounter},
    {"node_disk_read_bytes_total", "Bytes read.", MetricType::kCounter},
    {"node_disk_read_time_seconds_total", "Seconds spent reading.", MetricType::kCounter},
    {"node_disk_writes_completed_total", "Writes completed.", MetricType::kCounter},
    {"node_disk_writes_merged_total", "Adjacent writes merged.", MetricType::kCounter},
    {"node_disk_written_bytes_total", "Bytes written.", MetricType::kCounter},
    {"node_disk_write_time_seconds_total", "Seconds spent writing.", MetricType::kCounter},
    {"node_disk_io_now", "I/Os in flight.", MetricType::kGauge},
    {"node_disk_io_time_seconds_total", "Seconds the device had I/O in flight.",
     MetricType::kCounter},
    {"node_disk_io_time_weighted_seconds_total",
     "Seconds spent on I/O, weighted by the number in flight.", MetricType::kCounter},
    {"node_disk_discards_completed_total", "Discards completed.", MetricType::kCounter},
    {"node_disk_discards_merged_total", "Adjacent discards merged.", MetricType::kCounter},
    {"node_disk_discarded_sectors_total", "Sectors discarded.", MetricType::kCounter},
    {"node_disk_discard_time_seconds_total", "Seconds spent discarding.", MetricType::kCounter},
    {"node_disk_flush_requests_total", "Flush requests completed.", MetricType::kCounter},
    {"node_disk_flush_requests_time_seconds_total", "Seconds spent on flush requests.",
     MetricType::kCounter},
};
constexpr size_t kStatCount = sizeof kStats / sizeof kStats[0];

// The multiplier turning column i into the exported unit.
double Scale(size_t i) {
  switch (i) {
    case 2:
    case 6:
      return kSectorSize;
    case 3:
    case 7:
    case 9:
    case 10:
    case 14:
    case 16:
      return kSecondsPerTick;
    default:
      return 1.0;
  }
}

class DiskstatsCollector : public Collector {
 public:
  DiskstatsCollector(const CollectorContext& ctx, procfs::RegexFilter filter)
      : path_(ctx.paths.Proc("diskstats")),
        sys_block_(ctx.paths.Sys("block")),
        udev_dir_(ctx.paths.udev_data),
        filter_(std::move(filter)) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    // Parse everything first: a malformed line fails the scrape before anything is exported.
    lines_.clear();
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (fields_.size() > 20) fields_.resize(20);
      Line l;
      l.count = fields_.size();
      // Go's Sscanf: fewer fields is fine (the line is kept when it has 14 or more), a field
      // that does not scan fails the whole file.
      for (size_t i = 0; i < fields_.size(); ++i) {
        bool ok = true;
        if (i == 0)
          ok = procfs::ParseUint(fields_[0], l.major) && l.major <= 0xffffffffu;
        else if (i == 1)
          ok = procfs::ParseUint(fields_[1], l.minor) && l.minor <= 0xffffffffu;
        else if (i == 2)
          l.name = fields_[2];
        else
          ok = procfs::ParseUint(fields_[i], l.stats[i - 3]);
        if (!ok) {
          st = Status::InvalidArgument("bad field in " + path_ + ": " + std::string(line));
          return;
        }
      }
      if (l.count >= 14) lines_.push_back(l);
    });
    LOOKOUT_RETURN_IF_ERROR(st);

    for (const Line& l : lines_) {
      if (filter_.Ignored(l.name)) continue;
      LoadUdev(l.major, l.minor);
      std::string_view serial = Udev("SCSI_IDENT_SERIAL");
      if (serial.empty()) serial = Udev("ID_SERIAL_SHORT");
      if (serial.empty()) serial = Udev("ID_SERIAL");
      char major[16], minor[16];
      std::snprintf(major, sizeof major, "%llu", static_cast<unsigned long long>(l.major));
      std::snprintf(minor, sizeof minor, "%llu", static_cast<unsigned long long>(l.minor));
      out.Gauge("node_disk_info", "Identity of a block device (udev and sysfs).", 1,
                {{"device", l.name},
                 {"major", major},
                 {"minor", minor},
                 {"path", Udev("ID_PATH")},
                 {"wwn", Udev("ID_WWN")},
                 {"model", Udev("ID_MODEL")},
                 {"serial", serial},
                 {"revision", Udev("ID_REVISION")},
                 {"rotational", Rotational(l.name) ? "1" : "0"}});

      size_t n = l.count - 3;
      if (n > kStatCount) n = kStatCount;
      for (size_t i = 0; i < n; ++i) {
        out.Add(kStats[i].name, kStats[i].help, kStats[i].type,
                static_cast<double>(l.stats[i]) * Scale(i), {{"device", l.name}});
      }

      if (std::string_view fs_type = Udev("ID_FS_TYPE"); !fs_type.empty()) {
        out.Gauge("node_disk_filesystem_info", "Filesystem udev found on a block device.", 1,
                  {{"device", l.name},
                   {"type", fs_type},
                   {"usage", Udev("ID_FS_USAGE")},
                   {"uuid", Udev("ID_FS_UUID")},
                   {"version", Udev("ID_FS_VERSION")}});
      }
      if (std::string_view dm = Udev("DM_NAME"); !dm.empty()) {
        out.Gauge("node_disk_device_mapper_info", "Device-mapper identity of a block device.", 1,
                  {{"device", l.name},
                   {"name", dm},
                   {"uuid", Udev("DM_UUID")},
                   {"vg_name", Udev("DM_VG_NAME")},
                   {"lv_name", Udev("DM_LV_NAME")},
                   {"lv_layer", Udev("DM_LV_LAYER")}});
      }
      if (!Udev("ID_ATA").empty()) {
        Ata(out, l.name, "ID_ATA_WRITE_CACHE", "node_disk_ata_write_cache",
            "1 when udev reports a write cache on the ATA disk.");
        Ata(out, l.name, "ID_ATA_WRITE_CACHE_ENABLED", "node_disk_ata_write_cache_enabled",
            "1 when the ATA disk's write cache is turned on.");
        Ata(out, l.name, "ID_ATA_ROTATION_RATE_RPM", "node_disk_ata_rotation_rate_rpm",
            "Rotation rate of the ATA disk in RPM (0 for solid state).");
      }
    }
    return Status::Ok();
  }

 private:
  struct Line {
    uint64_t major = 0, minor = 0;
    std::string_view name;
    size_t count = 0;  // fields on the line, including major, minor and name
    uint64_t stats[kStatCount] = {};
  };

  void Ata(MetricSet& out, std::string_view dev, std::string_view key, const char* name,
           const char* help) {
    std::string_view v;
    if (!UdevFind(key, v)) return;
    double d;
    if (!procfs::ParseDouble(v, d)) return;  // node_exporter logs and skips it
    out.Gauge(name, help, d, {{"device", dev}});
  }

  // Loads "E:KEY=VALUE" properties of the udev file b<major>:<minor> into props_.
  void LoadUdev(uint64_t major, uint64_t minor) {
    props_.clear();
    char name[48];
    std::snprintf(name, sizeof name, "/b%llu:%llu", static_cast<unsigned long long>(major),
                  static_cast<unsigned long long>(minor));
    path_buf_.assign(udev_dir_).append(name);
    if (!procfs::ReadFile(path_buf_, udev_buf_).ok()) {
      udev_buf_.clear();
      return;
    }
    procfs::ForEachLine(udev_buf_, [&](std::string_view line) {
      if (line.substr(0, 2) != "E:") return;
      line.remove_prefix(2);
      size_t eq = line.find('=');
      if (eq == std::string_view::npos) return;
      std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
      for (auto& p : props_) {
        if (p.first == key) {
          p.second = value;  // later lines win, as a Go map assignment does
          return;
        }
      }
      props_.emplace_back(key, value);
    });
  }
  bool UdevFind(std::string_view key, std::string_view& value) const {
    for (const auto& p : props_) {
      if (p.first == key) {
        value = p.second;
        return true;
      }
    }
    return false;
  }
  std::string_view Udev(std::string_view key) const {
    std::string_view v;
    UdevFind(key, v);
    return v;
  }

  // /sys/block/<dev>/queue/rotational; anything but "1" (missing, unreadable, other content)
  // reports "0", as node_exporter's single-file read does.
  bool Rotational(std::string_view dev) {
    path_buf_.assign(sys_block_).append("/").append(dev).append("/queue/rotational");
    auto v = procfs::ReadAttr(path_buf_, attr_buf_);
    return v.ok() && *v == "1";
  }

  std::string path_, sys_block_, udev_dir_;
  procfs::RegexFilter filter_;
  std::string buf_, udev_buf_, attr_buf_, path_buf_;
  std::vector<std::string_view> fields_;
  std::vector<Line> lines_;
  std::vector<std::pair<std::string_view, std::string_view>> props_;
};

Result<std::unique_ptr<Collector>> Make(const CollectorContext& ctx) {
  std::string exclude = ctx.flags.Get(kExcludeFlag);
  std::string include = ctx.flags.Get(kIncludeFlag);
  std::string old_exclude = ctx.flags.Get(kOldExcludeFlag);
  if (!old_exclude.empty()) {
    // FlagValues cannot tell "set to the default" from "not set"; a non-default value is set.
    if (exclude != kDefaultExclude) {
      return Status::InvalidArgument(
          "--collector.diskstats.ignored-devices and --collector.diskstats.device-exclude are "
          "mutually exclusive");
    }
    exclude = old_exclude;
  }
  if (!exclude.empty() && !include.empty()) {
    return Status::InvalidArgument(
        "--collector.diskstats.device-exclude and --collector.diskstats.device-include are "
        "mutually exclusive (set --collector.diskstats.device-exclude= to use device-include)");
  }
  auto filter = procfs::RegexFilter::Make(exclude, include);
  if (!filter.ok()) return filter.status().Annotate("diskstats device filter");
  return std::unique_ptr<Collector>(
      std::make_unique<DiskstatsCollector>(ctx, std::move(filter).value()));
}

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "diskstats",
    .default_enabled = true,
    .flags =
        {
            {kExcludeFlag,
             "Regexp of diskstats devices to exclude (mutually exclusive to device-include).",
             kDefaultExclude, FlagSpec::Kind::kString},
            {kIncludeFlag,
             "Regexp of diskstats devices to include (mutually exclusive to device-exclude).", "",
             FlagSpec::Kind::kString},
            {kOldExcludeFlag, "DEPRECATED: use collector.diskstats.device-exclude.", "",
             FlagSpec::Kind::kString},
        },
    .make = Make,
});

}  // namespace agent
