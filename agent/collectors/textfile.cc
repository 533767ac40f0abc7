// textfile: the metrics of *.prom files in --collector.textfile.directory (repeatable, glob
// patterns allowed), merged into the exposition, plus node_textfile_mtime_seconds{file} for each
// file read and node_textfile_scrape_error (1 when a directory or file could not be read or
// parsed, or HELP texts disagreed). Reading and merging rules: agent/procfs/textfile.h.
//
// The collector itself always succeeds, as node_exporter's does: problems are reported through
// node_textfile_scrape_error.

#include "agent/procfs/textfile.h"

#include <string>

#include "agent/collector.h"

namespace agent {
namespace {

constexpr char kDirectoryFlag[] = "collector.textfile.directory";

class TextfileCollector : public Collector {
 public:
  explicit TextfileCollector(const CollectorContext& ctx)
      : directories_(ctx.flags.GetList(kDirectoryFlag)) {}

  Status Update(MetricSet& out) override {
    reader_.Read(directories_, result_);
    for (const procfs::TextFamily& f : result_.families) {
      for (const procfs::TextMetric& m : f.metrics) {
        labels_.clear();
        for (const auto& [k, v] : m.labels) labels_.push_back({k, v});
        if (f.type == MetricType::kSummary) {
          out.AddSummary(f.name, f.help, labels_, m.quantiles, m.sum, m.count);
        } else if (f.type == MetricType::kHistogram) {
          out.AddHistogram(f.name, f.help, labels_, m.buckets, m.sum, m.count);
        } else {
          out.Add(f.name, f.help, f.type, m.value, labels_);
        }
      }
    }
    for (const auto& [file, mtime] : result_.mtimes) {
      out.Gauge("node_textfile_mtime_seconds",
                "Modification time (Unix seconds) of each textfile read.", mtime, {{"file", file}});
    }
    out.Gauge("node_textfile_scrape_error",
              "1 when a textfile directory or file could not be read or parsed, else 0.",
              result_.error ? 1 : 0);
    return Status::Ok();
  }

 private:
  std::vector<std::string> directories_;
  procfs::TextfileReader reader_;
  procfs::TextfileResult result_;
  std::vector<common::metrics::Label> labels_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "textfile",
    .default_enabled = true,
    .flags = {{kDirectoryFlag,
               "Directory to read text files with metrics from; glob patterns allowed.", "",
               FlagSpec::Kind::kList}},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<TextfileCollector>(ctx));
    },
});

}  // namespace agent
