// interrupts: interrupt counts per CPU from /proc/interrupts, labelled with the IRQ (type), its
// controller/description (info) and the devices on it.

#include <optional>

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/flag_regex.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

struct InterruptsOptions {
  std::optional<procfs::FlagRegex> include, exclude;
  bool include_zeros = true;
};

class InterruptsCollector : public Collector {
 public:
  InterruptsCollector(const CollectorContext& ctx, InterruptsOptions opts)
      : path_(ctx.paths.Proc("interrupts")), opts_(std::move(opts)) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    if (buf_.empty()) return Status::InvalidArgument("empty " + path_);
    // Parse and check all rows first; a bad count fails the collector before any sample.
    rows_.clear();
    values_.clear();
    // Joined label texts are views into joined_; they never outgrow twice the file, so with
    // this reservation the buffer does not move while views into it are taken.
    joined_.clear();
    joined_.reserve(2 * buf_.size() + 16);
    size_t cpus = 0;
    bool header = true;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (header) {  // one "CPUn" column per CPU
        procfs::SplitFields(line, fields_);
        cpus = fields_.size();
        header = false;
        return;
      }
      // On aarch64 the name and the first count may touch, so split at the colon first.
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) return;
      procfs::SplitFields(line.substr(colon + 1), fields_);
      if (fields_.size() < cpus + 1) return;  // ERR, MIS: a single total, skipped
      Row r;
      r.name = line.substr(0, colon);
      while (!r.name.empty() && r.name.front() == ' ') r.name.remove_prefix(1);
      r.first = values_.size();
      for (size_t i = 0; i < cpus; ++i) values_.push_back(fields_[i]);
      int64_t num;
      if (procfs::ParseInt(r.name, num)) {  // numbered IRQ: controller, then devices
        r.info = fields_[cpus];
        r.devices = fields_.size() > cpus + 1 ? JoinRest(line, fields_[cpus + 1]) : "";
      } else {
        r.info = JoinRest(line, fields_[cpus]);
      }
      // A repeated name replaces the earlier row.
      for (size_t k = 0; k < rows_.size(); ++k) {
        if (rows_[k].name == r.name) rows_.erase(rows_.begin() + static_cast<ptrdiff_t>(k));
      }
      rows_.push_back(r);
    });
    char b[24];
    for (const Row& r : rows_) {
      filter_.assign(r.name).append(";").append(r.info).append(";").append(r.devices);
      if ((opts_.exclude && opts_.exclude->Search(filter_)) ||
          (opts_.include && !opts_.include->Search(filter_))) {
        continue;
      }
      for (size_t cpu = 0; cpu < cpus; ++cpu) {
        double v;
        if (!procfs::ParseDouble(values_[r.first + cpu], v)) {
          return Status::InvalidArgument("bad interrupt count in " + path_);
        }
        if (!opts_.include_zeros && v == 0) continue;
        out.Counter("node_interrupts_total", "Interrupts handled, by CPU and interrupt.", v,
                    {{"cpu", procfs::UintText(cpu, b)},
                     {"type", r.name},
                     {"info", r.info},
                     {"devices", r.devices}});
      }
    }
    return Status::Ok();
  }

 private:
  // The text of `line` from field `from` (a view into it) to its end, with the runs of
  // whitespace between fields collapsed to one space as node_exporter joins them. Stored in
  // joined_ (reserved in Update) so the view stays valid for this pass.
  std::string_view JoinRest(std::string_view line, std::string_view from) {
    std::string_view rest = line.substr(static_cast<size_t>(from.data() - line.data()));
    procfs::SplitFields(rest, words_);
    size_t start = joined_.size();
    for (size_t i = 0; i < words_.size(); ++i) {
      if (i > 0) joined_.push_back(' ');
      joined_.append(words_[i]);
    }
    return std::string_view(joined_).substr(start);
  }

  struct Row {
    std::string_view name, info, devices;
    size_t first = 0;
  };
  std::string path_;
  InterruptsOptions opts_;
  std::string buf_, filter_;
  std::string joined_;
  std::vector<std::string_view> fields_, words_, values_;
  std::vector<Row> rows_;
};

Result<std::unique_ptr<Collector>> MakeInterrupts(const CollectorContext& ctx) {
  InterruptsOptions o;
  o.include_zeros = ctx.flags.GetBool("collector.interrupts.include-zeros");
  for (auto [flag, dst] : {std::pair{"collector.interrupts.name-include", &o.include},
                           std::pair{"collector.interrupts.name-exclude", &o.exclude}}) {
    std::string v = ctx.flags.Get(flag);
    if (v.empty()) continue;
    auto re = procfs::FlagRegex::Compile(v);
    if (!re.ok()) return re.status().Annotate(std::string("--") + flag);
    *dst = std::move(*re);
  }
  return std::unique_ptr<Collector>(std::make_unique<InterruptsCollector>(ctx, std::move(o)));
}

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "interrupts",
    .default_enabled = false,
    .flags =
        {
            {.name = "collector.interrupts.name-include",
             .help = "Regexp of interrupts to export, matched against \"type;info;devices\" "
                     "(exclusive with --collector.interrupts.name-exclude).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
            {.name = "collector.interrupts.name-exclude",
             .help = "Regexp of interrupts to skip, matched against \"type;info;devices\" "
                     "(exclusive with --collector.interrupts.name-include).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
            {.name = "collector.interrupts.include-zeros",
             .help = "Export interrupt counts that are zero.",
             .default_value = "true",
             .kind = FlagSpec::Kind::kBool},
        },
    .make = MakeInterrupts,
});

}  // namespace agent
