// cpu_vulnerabilities: the state of each CPU vulnerability the kernel reports in
// /sys/devices/system/cpu/vulnerabilities (not affected, vulnerable, or mitigated and how).

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

class CpuVulnerabilitiesCollector : public Collector {
 public:
  explicit CpuVulnerabilitiesCollector(const CollectorContext& ctx)
      : dir_(ctx.paths.Sys("devices/system/cpu/vulnerabilities")) {}

  Status Update(MetricSet& out) override {
    auto names = procfs::ListDir(dir_);
    if (!names.ok()) {
      // No directory is an empty glob for node_exporter: nothing to report, not a failure.
      return names.status().IsNotFound() ? Status::Ok() : names.status();
    }
    // Read and classify every entry before adding samples: one bad entry fails the collector.
    entries_.clear();
    for (const std::string& name : *names) {
      std::string path = dir_ + "/" + name;
      std::string text;
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path, text));
      std::string_view v = procfs::TrimSpace(text);
      Entry e{name, "", ""};
      auto strip = [](std::string_view s, std::string_view prefix) {
        s.remove_prefix(prefix.size());
        if (s.substr(0, 2) == ": ") s.remove_prefix(2);
        return std::string(s);
      };
      if (v == "Not affected") {
        e.state = "not affected";
      } else if (v.substr(0, 10) == "Vulnerable") {
        e.state = "vulnerable";
        e.mitigation = strip(v, "Vulnerable");
      } else if (v.substr(0, 10) == "Mitigation") {
        e.state = "mitigation";
        e.mitigation = strip(v, "Mitigation");
      } else {
        return Status::InvalidArgument("unknown vulnerability state in " + path + ": " +
                                       std::string(v));
      }
      entries_.push_back(std::move(e));
    }
    for (const Entry& e : entries_) {
      out.Gauge("node_cpu_vulnerabilities_info",
                "Each CPU vulnerability the kernel knows, with its state and mitigation; always 1.",
                1, {{"codename", e.codename}, {"state", e.state}, {"mitigation", e.mitigation}});
    }
    return Status::Ok();
  }

 private:
  struct Entry {
    std::string codename, state, mitigation;
  };
  std::string dir_;
  std::vector<Entry> entries_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "cpu_vulnerabilities",
    .default_enabled = false,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<CpuVulnerabilitiesCollector>(ctx));
    },
});

}  // namespace agent
