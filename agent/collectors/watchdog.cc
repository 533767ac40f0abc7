// watchdog: node_watchdog_* from /sys/class/watchdog/<device>/: timeouts (seconds), boot
// status, firmware version, and the text attributes as labels of node_watchdog_info.
// A missing attribute is left out; any other read error or a bad number fails the collector.

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

struct NumAttr {
  std::string_view file;
  std::string_view metric;
  std::string_view help;
};
constexpr NumAttr kNumAttrs[] = {
    {"bootstatus", "node_watchdog_bootstatus", "Boot status flags of the watchdog."},
    {"fw_version", "node_watchdog_fw_version", "Firmware version of the watchdog."},
    {"nowayout", "node_watchdog_nowayout", "1 when the watchdog cannot be stopped once started."},
    {"timeleft", "node_watchdog_timeleft_seconds", "Seconds left before the watchdog fires."},
    {"timeout", "node_watchdog_timeout_seconds", "Timeout of the watchdog, in seconds."},
    {"pretimeout", "node_watchdog_pretimeout_seconds",
     "Seconds before the timeout at which the pretimeout fires."},
    {"access_cs0", "node_watchdog_access_cs0", "Value of the watchdog's access_cs0 attribute."},
};
constexpr size_t kNumNum = std::size(kNumAttrs);

enum TextAttr { kOptions, kIdentity, kState, kStatus, kGovernor, kNumText };
constexpr std::string_view kTextFiles[kNumText] = {"options", "identity", "state", "status",
                                                   "pretimeout_governor"};

bool ParseProcfsInt(std::string_view s, int64_t& v) {
  if (s.substr(0, 2) == "0x") return procfs::ParseInt(s.substr(2), v, 16);
  return procfs::ParseInt(s, v, 10);
}

class WatchdogCollector : public Collector {
 public:
  explicit WatchdogCollector(const CollectorContext& ctx)
      : root_(ctx.paths.Sys("class/watchdog")) {}

  Status Update(MetricSet& out) override {
    auto devs = procfs::ListDir(root_);
    if (!devs.ok()) {
      if (devs.status().IsNotFound()) return Status::NotFound("no watchdog devices: " + root_);
      return devs.status();
    }
    // All devices are read before any is exported: a failure exports nothing.
    n_ = 0;
    for (const std::string& name : *devs) {
      if (n_ == devs_.size()) devs_.emplace_back();
      Device& d = devs_[n_];
      d.name = name;
      LOOKOUT_RETURN_IF_ERROR(Read(d));
      ++n_;
    }
    for (size_t i = 0; i < n_; ++i) {
      const Device& d = devs_[i];
      for (size_t k = 0; k < kNumNum; ++k) {
        if (!d.has[k]) continue;
        out.Gauge(kNumAttrs[k].metric, kNumAttrs[k].help, static_cast<double>(d.num[k]),
                  {{"name", d.name}});
      }
      out.Gauge("node_watchdog_info", "Text attributes of the watchdog; always 1.", 1,
                {{"name", d.name},
                 {"options", d.text[kOptions]},
                 {"identity", d.text[kIdentity]},
                 {"state", d.text[kState]},
                 {"status", d.text[kStatus]},
                 {"pretimeout_governor", d.text[kGovernor]}});
    }
    return Status::Ok();
  }

 private:
  struct Device {
    std::string name;
    bool has[kNumNum];
    int64_t num[kNumNum];
    std::string text[kNumText];
  };

  // Reads one attribute; false (and OK) when it does not exist.
  Status ReadAttr(const Device& d, std::string_view file, bool& found, std::string_view& value) {
    procfs::JoinPath(dir_, root_, d.name);
    auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, file), buf_);
    found = r.ok();
    if (r.ok()) {
      value = r.value;
      return Status::Ok();
    }
    if (r.NotExist()) return Status::Ok();
    return procfs::SysReadStatus(r, path_);
  }

  Status Read(Device& d) {
    bool found;
    std::string_view v;
    for (size_t k = 0; k < kNumNum; ++k) {
      d.has[k] = false;
      LOOKOUT_RETURN_IF_ERROR(ReadAttr(d, kNumAttrs[k].file, found, v));
      if (!found) continue;
      if (!ParseProcfsInt(v, d.num[k])) return Status::InvalidArgument("bad number in " + path_);
      d.has[k] = true;
    }
    for (size_t k = 0; k < kNumText; ++k) {
      d.text[k].clear();
      LOOKOUT_RETURN_IF_ERROR(ReadAttr(d, kTextFiles[k], found, v));
      if (found) d.text[k].assign(v);
    }
    return Status::Ok();
  }

  std::string root_;
  std::vector<Device> devs_;
  size_t n_ = 0;
  std::string dir_, path_, buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "watchdog",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<WatchdogCollector>(ctx));
    },
});

}  // namespace agent
