// vmstat: the /proc/vmstat fields whose names match --collector.vmstat.fields, as untyped
// node_vmstat_<field> metrics.

#include <unordered_map>

#include "agent/collector.h"
#include "agent/procfs/flag_regex.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

constexpr const char* kDefaultFields = "^(oom_kill|pgpg|pswp|pg.*fault).*";

class VmstatCollector : public Collector {
 public:
  VmstatCollector(const CollectorContext& ctx, procfs::FlagRegex fields)
      : path_(ctx.paths.Proc("vmstat")), fields_re_(std::move(fields)) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, buf_));
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      double v;
      if (fields_.size() < 2 || !procfs::ParseDouble(fields_[1], v)) {
        st = Status::InvalidArgument("bad line in " + path_);
        return;
      }
      if (!Wanted(fields_[0])) return;
      name_.assign("node_vmstat_").append(fields_[0]);
      out.Untyped(name_, "Field of /proc/vmstat with the same name.", v);
    });
    return st;
  }

 private:
  // The field set of /proc/vmstat is fixed for a kernel, so each name is matched once.
  bool Wanted(std::string_view field) {
    auto it = wanted_.find(field);
    if (it != wanted_.end()) return it->second;
    bool w = fields_re_.Search(field);
    wanted_.emplace(std::string(field), w);
    return w;
  }

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::string path_;
  procfs::FlagRegex fields_re_;
  std::string buf_, name_;
  std::vector<std::string_view> fields_;
  std::unordered_map<std::string, bool, Hash, std::equal_to<>> wanted_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "vmstat",
    .default_enabled = true,
    .flags = {{.name = "collector.vmstat.fields",
               .help = "Regexp of /proc/vmstat fields to export.",
               .default_value = kDefaultFields,
               .kind = FlagSpec::Kind::kString}},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto re = procfs::FlagRegex::Compile(ctx.flags.Get("collector.vmstat.fields"));
      if (!re.ok()) return re.status().Annotate("--collector.vmstat.fields");
      return std::unique_ptr<Collector>(std::make_unique<VmstatCollector>(ctx, std::move(*re)));
    },
});

}  // namespace agent
