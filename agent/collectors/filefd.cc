// filefd: allocated and maximum file handles from /proc/sys/fs/file-nr.

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

class FilefdCollector : public Collector {
 public:
  explicit FilefdCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("sys/fs/file-nr")) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    // "allocated<TAB>unused<TAB>maximum"; the middle value is always 0 since Linux 2.6.
    procfs::Split(procfs::TrimSpace(buf_), '\t', fields_);
    if (fields_.size() < 3) return Status::InvalidArgument("unexpected content in " + path_);
    double allocated, maximum;
    if (!procfs::ParseDouble(fields_[0], allocated) || !procfs::ParseDouble(fields_[2], maximum)) {
      return Status::InvalidArgument("bad number in " + path_);
    }
    out.Gauge("node_filefd_allocated", "File handles allocated by the kernel.", allocated);
    out.Gauge("node_filefd_maximum", "Most file handles the kernel will allocate.", maximum);
    return Status::Ok();
  }

 private:
  std::string path_;
  std::string buf_;
  std::vector<std::string_view> fields_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "filefd",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<FilefdCollector>(ctx));
    },
});

}  // namespace agent
