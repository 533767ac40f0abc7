// dmi: node_dmi_info from /sys/class/dmi/id/ (BIOS, board, chassis and product identity).
// The files are read once, when the collector is built: they do not change until reboot.
// Each attribute file present becomes a label (even when empty); unreadable (root-only) files
// are left out. A machine without DMI reports no data.
// Difference from node_exporter: a read error other than a missing directory or a forbidden
// file does not stop the agent; the collector reports it on every scrape instead.

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

struct Attr {
  std::string_view file;
  std::string_view label;
};
constexpr Attr kAttrs[] = {
    {"bios_date", "bios_date"},
    {"bios_release", "bios_release"},
    {"bios_vendor", "bios_vendor"},
    {"bios_version", "bios_version"},
    {"board_asset_tag", "board_asset_tag"},
    {"board_name", "board_name"},
    {"board_serial", "board_serial"},
    {"board_vendor", "board_vendor"},
    {"board_version", "board_version"},
    {"chassis_asset_tag", "chassis_asset_tag"},
    {"chassis_serial", "chassis_serial"},
    {"chassis_vendor", "chassis_vendor"},
    {"chassis_version", "chassis_version"},
    {"product_family", "product_family"},
    {"product_name", "product_name"},
    {"product_serial", "product_serial"},
    {"product_sku", "product_sku"},
    {"product_uuid", "product_uuid"},
    {"product_version", "product_version"},
    {"sys_vendor", "system_vendor"},
};

class DmiCollector : public Collector {
 public:
  explicit DmiCollector(const CollectorContext& ctx) {
    load_ = Load(ctx.paths.Sys("class/dmi/id"));
  }

  Status Update(MetricSet& out) override {
    if (!load_.ok()) return load_;
    if (labels_.empty()) return Status::NotFound("no DMI information");
    out.Add("node_dmi_info", "Identity of the machine from DMI; always 1.", MetricType::kGauge, 1,
            labels_);
    return Status::Ok();
  }

 private:
  Status Load(const std::string& dir) {
    auto files = procfs::ListDir(dir);
    if (!files.ok()) {
      if (files.status().IsNotFound()) return Status::Ok();  // no DMI on this platform
      return files.status().Annotate("failed to read DMI information");
    }
    std::string buf, path;
    values_.reserve(std::size(kAttrs));
    for (const Attr& a : kAttrs) {
      bool listed = false;
      for (const std::string& f : *files) listed = listed || f == a.file;
      if (!listed) continue;
      procfs::JoinPath(path, dir, a.file);
      if (!procfs::IsDir(path) && procfs::Exists(path)) {
        auto r = procfs::SysReadFile(path, buf);
        if (!r.ok()) {
          if (r.Permission()) continue;  // serials and the UUID are root-only
          return procfs::SysReadStatus(r, path).Annotate("failed to read DMI information");
        }
        std::string fixed;
        values_.emplace_back(procfs::ToValidUtf8(r.value, fixed));
        names_.push_back(a.label);
      }
    }
    for (size_t i = 0; i < values_.size(); ++i) labels_.push_back({names_[i], values_[i]});
    return Status::Ok();
  }

  Status load_;
  std::vector<std::string> values_;
  std::vector<std::string_view> names_;
  std::vector<common::metrics::Label> labels_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "dmi",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<DmiCollector>(ctx));
    },
});

}  // namespace agent
