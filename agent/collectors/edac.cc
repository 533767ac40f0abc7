// edac: node_edac_* memory error counters from /sys/devices/system/edac/mc/mc*/: per controller,
// per csrow (plus the errors the driver could not attribute, as csrow="unknown") and per csrow
// channel with its DIMM label.
// A controller or csrow counter that cannot be read fails the collector; a channel's
// uncorrectable counter is optional (many drivers do not provide it). No memory controller at
// all is not an error.

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

// For names PREFIX<digits><rest>: the digits (possibly empty); false when `name` does not start
// with PREFIX followed by a digit (the glob PREFIX[0-9]*).
bool GlobNumber(std::string_view name, std::string_view prefix, std::string_view& digits) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return false;
  std::string_view rest = name.substr(prefix.size());
  size_t n = 0;
  while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
  if (n == 0) return false;
  digits = rest.substr(0, n);
  return true;
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

class EdacCollector : public Collector {
 public:
  explicit EdacCollector(const CollectorContext& ctx)
      : root_(ctx.paths.Sys("devices/system/edac/mc")) {}

  Status Update(MetricSet& out) override {
    auto mcs = procfs::ListDir(root_);
    if (!mcs.ok()) {
      if (mcs.status().IsNotFound()) return Status::Ok();  // no EDAC driver loaded
      return mcs.status();
    }
    for (const std::string& mc : *mcs) {
      std::string_view controller;
      if (!GlobNumber(mc, "mc", controller)) continue;
      procfs::JoinPath(mc_dir_, root_, mc);
      uint64_t v;
      LOOKOUT_RETURN_IF_ERROR(ReadUint(mc_dir_, "ce_count", v));
      out.Counter("node_edac_correctable_errors_total",
                  "Correctable memory errors seen by the memory controller.",
                  static_cast<double>(v), {{"controller", controller}});
      LOOKOUT_RETURN_IF_ERROR(ReadUint(mc_dir_, "ce_noinfo_count", v));
      out.Counter("node_edac_csrow_correctable_errors_total",
                  "Correctable memory errors of the csrow (\"unknown\": not attributed).",
                  static_cast<double>(v), {{"controller", controller}, {"csrow", "unknown"}});
      LOOKOUT_RETURN_IF_ERROR(ReadUint(mc_dir_, "ue_count", v));
      out.Counter("node_edac_uncorrectable_errors_total",
                  "Uncorrectable memory errors seen by the memory controller.",
                  static_cast<double>(v), {{"controller", controller}});
      LOOKOUT_RETURN_IF_ERROR(ReadUint(mc_dir_, "ue_noinfo_count", v));
      out.Counter("node_edac_csrow_uncorrectable_errors_total",
                  "Uncorrectable memory errors of the csrow (\"unknown\": not attributed).",
                  static_cast<double>(v), {{"controller", controller}, {"csrow", "unknown"}});

      auto rows = procfs::ListDir(mc_dir_);
      if (!rows.ok()) return rows.status();
      for (const std::string& row : *rows) {
        std::string_view csrow;
        if (!GlobNumber(row, "csrow", csrow)) continue;
        procfs::JoinPath(row_dir_, mc_dir_, row);
        LOOKOUT_RETURN_IF_ERROR(ReadUint(row_dir_, "ce_count", v));
        out.Counter("node_edac_csrow_correctable_errors_total",
                    "Correctable memory errors of the csrow (\"unknown\": not attributed).",
                    static_cast<double>(v), {{"controller", controller}, {"csrow", csrow}});
        LOOKOUT_RETURN_IF_ERROR(ReadUint(row_dir_, "ue_count", v));
        out.Counter("node_edac_csrow_uncorrectable_errors_total",
                    "Uncorrectable memory errors of the csrow (\"unknown\": not attributed).",
                    static_cast<double>(v), {{"controller", controller}, {"csrow", csrow}});
        LOOKOUT_RETURN_IF_ERROR(UpdateChannels(controller, csrow, out));
      }
    }
    return Status::Ok();
  }

 private:
  Status ReadUint(const std::string& dir, std::string_view file, uint64_t& v) {
    procfs::JoinPath(path_, dir, file);
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_, 4096));
    if (!procfs::ParseUint(procfs::TrimSpace(buf_), v)) {
      return Status::InvalidArgument("bad counter in " + path_);
    }
    return Status::Ok();
  }

  Status UpdateChannels(std::string_view controller, std::string_view csrow, MetricSet& out) {
    auto files = procfs::ListDir(row_dir_);
    if (!files.ok()) return files.status();
    for (const std::string& f : *files) {
      // ch<N>_ce_count
      std::string_view channel;
      if (!GlobNumber(f, "ch", channel)) continue;
      if (std::string_view(f).substr(2 + channel.size()) != "_ce_count") continue;
      // The DIMM label, with the kernel's synthetic "mc#0csrow#0channel#0" made readable.
      std::string prefix = "ch" + std::string(channel);
      label_ = "unknown";
      if (procfs::ReadFile(procfs::JoinPath(path_, row_dir_, prefix + "_dimm_label"), buf_).ok()) {
        label_.assign(procfs::TrimSpace(buf_));
        ReplaceAll(label_, "#", "");
        ReplaceAll(label_, "csrow", "_csrow");
        ReplaceAll(label_, "channel", "_channel");
      }
      uint64_t v;
      LOOKOUT_RETURN_IF_ERROR(ReadUint(row_dir_, f, v));
      out.Counter("node_edac_channel_correctable_errors_total",
                  "Correctable memory errors of the csrow channel.", static_cast<double>(v),
                  {{"controller", controller},
                   {"csrow", csrow},
                   {"channel", channel},
                   {"dimm_label", label_}});
      if (!ReadUint(row_dir_, prefix + "_ue_count", v).ok()) continue;  // optional
      out.Counter("node_edac_channel_uncorrectable_errors_total",
                  "Uncorrectable memory errors of the csrow channel.", static_cast<double>(v),
                  {{"controller", controller},
                   {"csrow", csrow},
                   {"channel", channel},
                   {"dimm_label", label_}});
    }
    return Status::Ok();
  }

  std::string root_;
  std::string mc_dir_, row_dir_, path_, buf_, label_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "edac",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<EdacCollector>(ctx));
    },
});

}  // namespace agent
