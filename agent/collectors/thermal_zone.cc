// thermal_zone: node_thermal_zone_temp and node_cooling_device_{cur,max}_state from
// /sys/class/thermal/thermal_zone* and cooling_device*.
// As the procfs library does, a zone that is disabled or whose attributes cannot be opened (or
// read with ENODATA/EAGAIN) is skipped; a cooling device whose attributes are missing, forbidden
// or invalid is skipped; a value that does not parse fails the collector.

#include <cerrno>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

constexpr std::string_view kZonePrefix = "thermal_zone";
constexpr std::string_view kCoolingPrefix = "cooling_device";

// Matches the glob PREFIX[0-9]*.
bool GlobDigit(std::string_view name, std::string_view prefix) {
  return name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix &&
         name[prefix.size()] >= '0' && name[prefix.size()] <= '9';
}

class ThermalZoneCollector : public Collector {
 public:
  explicit ThermalZoneCollector(const CollectorContext& ctx)
      : root_(ctx.paths.Sys("class/thermal")) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(root_);
    // A missing class directory is an empty glob: no zones, no devices, success.
    if (!entries.ok() && !entries.status().IsNotFound()) return entries.status();
    static const std::vector<std::string> kNone;
    const std::vector<std::string>& names = entries.ok() ? *entries : kNone;

    for (const std::string& e : names) {
      if (!GlobDigit(e, kZonePrefix)) continue;
      procfs::JoinPath(dir_, root_, e);
      bool skip = false;
      LOOKOUT_RETURN_IF_ERROR(ReadZone(skip));
      if (skip) continue;
      out.Gauge("node_thermal_zone_temp", "Temperature of the thermal zone, in degrees Celsius.",
                static_cast<double>(temp_) / 1000.0,
                {{"zone", std::string_view(e).substr(kZonePrefix.size())}, {"type", type_}});
    }
    for (const std::string& e : names) {
      if (!GlobDigit(e, kCoolingPrefix)) continue;
      procfs::JoinPath(dir_, root_, e);
      bool skip = false;
      int64_t cur = 0, max = 0;
      LOOKOUT_RETURN_IF_ERROR(ReadCoolingDevice(skip, cur, max));
      if (skip) continue;
      std::string_view name = std::string_view(e).substr(kCoolingPrefix.size());
      out.Gauge("node_cooling_device_cur_state", "Current throttle state of the cooling device.",
                static_cast<double>(cur), {{"name", name}, {"type", type_}});
      out.Gauge("node_cooling_device_max_state", "Highest throttle state of the cooling device.",
                static_cast<double>(max), {{"name", name}, {"type", type_}});
    }
    return Status::Ok();
  }

 private:
  // A failed read of a zone attribute: skip the zone on open errors, ENODATA and EAGAIN.
  Status ZoneReadError(const procfs::SysReadResult& r, bool& skip) {
    if (r.at_open || r.err == ENODATA || r.err == EAGAIN) {
      skip = true;
      return Status::Ok();
    }
    return procfs::SysReadStatus(r, path_);
  }

  Status ReadZone(bool& skip) {
    // Optional mode: a disabled zone is skipped.
    auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "mode"), buf_);
    if (!r.ok() && !r.NotExist() && !r.Permission()) return ZoneReadError(r, skip);
    if (r.ok() && r.value == "disabled") {
      skip = true;
      return Status::Ok();
    }
    r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "type"), buf_);
    if (!r.ok()) return ZoneReadError(r, skip);
    type_.assign(r.value);
    r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "policy"), buf_);
    if (!r.ok()) return ZoneReadError(r, skip);
    r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "temp"), buf_);
    if (!r.ok()) return ZoneReadError(r, skip);
    if (!procfs::ParseInt(r.value, temp_)) {
      return Status::InvalidArgument("bad temperature in " + path_);
    }
    // Optional passive trip point: only its errors matter.
    r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "passive"), buf_);
    if (!r.ok() && !r.NotExist() && !r.Permission()) return ZoneReadError(r, skip);
    uint64_t passive;
    if (r.ok() && !procfs::ParseUint(r.value, passive)) {
      return Status::InvalidArgument("bad passive trip point in " + path_);
    }
    return Status::Ok();
  }

  // Errors the procfs library tolerates on a cooling device (canIgnoreError).
  static bool Ignorable(const procfs::SysReadResult& r) {
    if (r.NotExist() || r.Permission() || r.err == EINVAL) return true;
    return !r.at_open && (r.err == EOPNOTSUPP);
  }

  Status ReadCoolingDevice(bool& skip, int64_t& cur, int64_t& max) {
    const char* attrs[] = {"type", "max_state", "cur_state"};
    for (const char* a : attrs) {
      auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, a), buf_);
      if (!r.ok()) {
        if (Ignorable(r)) {
          skip = true;
          return Status::Ok();
        }
        return procfs::SysReadStatus(r, path_);
      }
      std::string_view attr(a);
      if (attr == "type") {
        type_.assign(r.value);
      } else if (!procfs::ParseInt(r.value, attr == "max_state" ? max : cur)) {
        return Status::InvalidArgument("bad cooling state in " + path_);
      }
    }
    return Status::Ok();
  }

  std::string root_;
  std::string dir_, path_, buf_, type_;
  int64_t temp_ = 0;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "thermal_zone",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<ThermalZoneCollector>(ctx));
    },
});

}  // namespace agent
