// time: the system clock (node_time_seconds), the local time zone's offset, and the clock sources
// of /sys/devices/system/clocksource.

#include <time.h>

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

class TimeCollector : public Collector {
 public:
  explicit TimeCollector(const CollectorContext& ctx)
      : dir_(ctx.paths.Sys("devices/system/clocksource")) {}

  Status Update(MetricSet& out) override {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    int64_t nanos = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    out.Gauge("node_time_seconds", "Wall-clock time of the system, in seconds since the epoch.",
              static_cast<double>(nanos) / 1e9);
    struct tm local;
    if (::localtime_r(&ts.tv_sec, &local) != nullptr) {
      out.Gauge("node_time_zone_offset_seconds",
                "Offset of the local time zone from UTC, in seconds.",
                static_cast<double>(local.tm_gmtoff),
                {{"time_zone", local.tm_zone != nullptr ? local.tm_zone : ""}});
    }
    return UpdateClocksources(out);
  }

 private:
  Status UpdateClocksources(MetricSet& out) {
    auto names = procfs::ListDir(dir_);
    if (!names.ok()) return names.status().IsNotFound() ? Status::Ok() : names.status();
    // Parse all devices first, as node_exporter does: one unreadable device fails the collector
    // before any clock source sample.
    devices_.clear();
    for (const std::string& n : *names) {
      if (n.size() <= 11 || n.compare(0, 11, "clocksource") != 0 || n[11] < '0' || n[11] > '9') {
        continue;
      }
      Device d;
      path_.assign(dir_).append("/").append(n).append("/available_clocksource");
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, d.available));
      path_.assign(dir_).append("/").append(n).append("/current_clocksource");
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, d.current));
      devices_.push_back(std::move(d));
    }
    char b[24];
    for (size_t i = 0; i < devices_.size(); ++i) {
      // The device label is the position in the sorted directory listing, not the directory's
      // own number.
      std::string_view device = procfs::UintText(i, b);
      procfs::SplitFields(devices_[i].available, words_);
      for (std::string_view cs : words_) {
        out.Gauge("node_time_clocksource_available_info",
                  "Clock sources the kernel offers for each clocksource device; always 1.", 1,
                  {{"device", device}, {"clocksource", cs}});
      }
      out.Gauge("node_time_clocksource_current_info",
                "Clock source in use by each clocksource device; always 1.", 1,
                {{"device", device}, {"clocksource", procfs::TrimSpace(devices_[i].current)}});
    }
    return Status::Ok();
  }

  struct Device {
    std::string available, current;
  };
  std::string dir_;
  std::string path_;
  std::vector<Device> devices_;
  std::vector<std::string_view> words_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "time",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<TimeCollector>(ctx));
    },
});

}  // namespace agent
