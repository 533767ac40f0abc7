// cpu: per-CPU time by mode from /proc/stat (node_cpu_seconds_total, node_cpu_guest_seconds_total),
// thermal throttle counts and online state from sysfs, isolated CPUs, and with --collector.cpu.info
// the /proc/cpuinfo details (node_cpu_info, node_cpu_frequency_hertz and the flag/bug filters).

#include <map>
#include <optional>

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/flag_regex.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

using procfs::CpuTimes;
using procfs::FlagRegex;

// A counter may move backwards by a little (per-CPU accounting is not atomic); node_exporter keeps
// the old value then, and starts over when idle drops by this much (a CPU was hot-plugged).
constexpr double kJumpBackSeconds = 3.0;

// One processor block of /proc/cpuinfo (x86 layout); views point into the file buffer.
struct CpuInfo {
  uint64_t processor = 0;
  std::string_view vendor, family, model, model_name, stepping, microcode, cache_size, physical_id,
      core_id, flags, bugs;
  double mhz = 0;
};

// Parses /proc/cpuinfo as the procfs library does for x86: "key<ws>: value" lines, a new block
// at each "processor" line, numeric fields validated. Lines without ": " are ignored.
Status ParseCpuInfo(std::string_view content, const std::string& path, std::vector<CpuInfo>& out) {
  out.clear();
  Status st;
  bool first = true;
  procfs::ForEachLine(content, [&](std::string_view line) {
    if (!st.ok()) return;
    if (first) {
      if (procfs::TrimSpace(line).empty()) return;
      first = false;
      if (line.rfind("processor", 0) != 0 || line.find(':') == std::string_view::npos) {
        st = Status::InvalidArgument("invalid cpuinfo file " + path);
        return;
      }
    }
    size_t sep = line.find(": ");
    if (sep == std::string_view::npos) return;
    std::string_view key = procfs::TrimSpace(line.substr(0, sep));
    std::string_view value = line.substr(sep + 2);
    auto parse_uint = [&](uint64_t& v) {
      int base = 10;
      std::string_view s = value;
      if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
      }
      if (!procfs::ParseUint(s, v, base) || v > 0xffffffffu) {
        st = Status::InvalidArgument("bad " + std::string(key) + " in " + path);
        return false;
      }
      return true;
    };
    if (key == "processor") {
      uint64_t v;
      if (!parse_uint(v)) return;
      out.emplace_back();
      out.back().processor = v;
      return;
    }
    if (out.empty()) return;  // cannot happen after the first-line check
    CpuInfo& c = out.back();
    uint64_t ignored;
    double d;
    if (key == "vendor" || key == "vendor_id") {
      c.vendor = value;
    } else if (key == "cpu family") {
      c.family = value;
    } else if (key == "model") {
      c.model = value;
    } else if (key == "model name") {
      c.model_name = value;
    } else if (key == "stepping") {
      c.stepping = value;
    } else if (key == "microcode") {
      c.microcode = value;
    } else if (key == "cpu MHz") {
      if (!procfs::ParseDouble(value, c.mhz)) {
        st = Status::InvalidArgument("bad cpu MHz in " + path);
      }
    } else if (key == "cache size") {
      c.cache_size = value;
    } else if (key == "physical id") {
      c.physical_id = value;
    } else if (key == "core id") {
      c.core_id = value;
    } else if (key == "flags") {
      c.flags = value;
    } else if (key == "bugs") {
      c.bugs = value;
    } else if (key == "siblings" || key == "cpu cores" || key == "cpuid level" ||
               key == "clflush size" || key == "cache_alignment") {
      parse_uint(ignored);
    } else if (key == "bogomips") {
      if (!procfs::ParseDouble(value, d)) st = Status::InvalidArgument("bad bogomips in " + path);
    }
  });
  if (st.ok() && first) st = Status::InvalidArgument("invalid cpuinfo file " + path);
  return st;
}

struct CpuOptions {
  bool guest = true;
  bool info = false;
  bool cpufreq_enabled = true;
  std::optional<FlagRegex> flags_include;
  std::optional<FlagRegex> bugs_include;
  bool have_isolated = false;
  std::vector<uint32_t> isolated;
};

class CpuCollector : public Collector {
 public:
  CpuCollector(const CollectorContext& ctx, CpuOptions opts)
      : opts_(std::move(opts)),
        stat_path_(ctx.paths.Proc("stat")),
        cpuinfo_path_(ctx.paths.Proc("cpuinfo")),
        cpu_dir_(ctx.paths.Sys("devices/system/cpu")) {}

  Status Update(MetricSet& out) override {
    if (opts_.info) LOOKOUT_RETURN_IF_ERROR(UpdateInfo(out));
    LOOKOUT_RETURN_IF_ERROR(UpdateStat(out));
    if (opts_.have_isolated) {
      char b[24];
      for (uint32_t c : opts_.isolated) {
        out.Gauge("node_cpu_isolated", "1 for each CPU isolated from the scheduler (isolcpus).", 1,
                  {{"cpu", procfs::UintText(c, b)}});
      }
    }
    LOOKOUT_RETURN_IF_ERROR(UpdateThrottle(out));
    return UpdateOnline(out);
  }

 private:
  Status UpdateInfo(MetricSet& out) {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(cpuinfo_path_, info_buf_));
    LOOKOUT_RETURN_IF_ERROR(ParseCpuInfo(info_buf_, cpuinfo_path_, info_));
    char b[24];
    for (const CpuInfo& c : info_) {
      out.Gauge("node_cpu_info", "Details of each logical CPU from /proc/cpuinfo; always 1.", 1,
                {{"package", c.physical_id},
                 {"core", c.core_id},
                 {"cpu", procfs::UintText(c.processor, b)},
                 {"vendor", c.vendor},
                 {"family", c.family},
                 {"model", c.model},
                 {"model_name", c.model_name},
                 {"microcode", c.microcode},
                 {"stepping", c.stepping},
                 {"cachesize", c.cache_size}});
    }
    if (opts_.cpufreq_enabled) {
      for (const CpuInfo& c : info_) {
        out.Gauge("node_cpu_frequency_hertz",
                  "Clock of each logical CPU as /proc/cpuinfo reports it.", c.mhz * 1e6,
                  {{"package", c.physical_id},
                   {"core", c.core_id},
                   {"cpu", procfs::UintText(c.processor, b)}});
      }
    }
    if (!info_.empty()) {
      EmitWords(out, info_[0].flags, opts_.flags_include, "node_cpu_flag_info", "flag",
                "CPU flags of the first CPU in /proc/cpuinfo that pass the include filter.");
      EmitWords(out, info_[0].bugs, opts_.bugs_include, "node_cpu_bug_info", "bug",
                "CPU bugs of the first CPU in /proc/cpuinfo that pass the include filter.");
    }
    return Status::Ok();
  }

  void EmitWords(MetricSet& out, std::string_view words, const std::optional<FlagRegex>& re,
                 std::string_view name, std::string_view label, std::string_view help) {
    if (!re) return;
    procfs::SplitFields(words, words_);
    for (std::string_view w : words_) {
      if (re->Search(w)) out.Gauge(name, help, 1, {{label, w}});
    }
  }

  Status UpdateStat(MetricSet& out) {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(stat_path_, stat_buf_));
    LOOKOUT_RETURN_IF_ERROR(procfs::ParseProcStat(stat_buf_, stat_path_, stat_));
    for (const auto& [id, n] : stat_.cpus) {
      CpuTimes& c = cache_[id];
      if (c.idle - n.idle >= kJumpBackSeconds) c = CpuTimes{};
      double CpuTimes::*fields[] = {&CpuTimes::idle,      &CpuTimes::user,   &CpuTimes::nice,
                                    &CpuTimes::system,    &CpuTimes::iowait, &CpuTimes::irq,
                                    &CpuTimes::softirq,   &CpuTimes::steal,  &CpuTimes::guest,
                                    &CpuTimes::guest_nice};
      for (auto f : fields) {
        if (n.*f >= c.*f) c.*f = n.*f;
      }
    }
    if (cache_.size() != stat_.cpus.size()) {  // CPUs went offline
      for (auto it = cache_.begin(); it != cache_.end();) {
        bool online = false;
        for (const auto& p : stat_.cpus) online = online || p.first == it->first;
        it = online ? std::next(it) : cache_.erase(it);
      }
    }
    static constexpr const char* kSecondsHelp = "Seconds the CPUs spent in each mode.";
    static constexpr const char* kGuestHelp =
        "Seconds the CPUs spent running guests, by mode (also counted in user and nice).";
    char b[24];
    for (const auto& [id, c] : cache_) {
      std::string_view cpu = procfs::UintText(static_cast<uint64_t>(id), b);
      const std::pair<const char*, double> modes[] = {
          {"user", c.user},     {"nice", c.nice}, {"system", c.system},   {"idle", c.idle},
          {"iowait", c.iowait}, {"irq", c.irq},   {"softirq", c.softirq}, {"steal", c.steal}};
      for (const auto& [mode, v] : modes) {
        out.Counter("node_cpu_seconds_total", kSecondsHelp, v, {{"cpu", cpu}, {"mode", mode}});
      }
      if (opts_.guest) {
        out.Counter("node_cpu_guest_seconds_total", kGuestHelp, c.guest,
                    {{"cpu", cpu}, {"mode", "user"}});
        out.Counter("node_cpu_guest_seconds_total", kGuestHelp, c.guest_nice,
                    {{"cpu", cpu}, {"mode", "nice"}});
      }
    }
    return Status::Ok();
  }

  // Reads a sysfs attribute holding one unsigned number; false when missing or not a number.
  bool ReadUintAt(std::string_view cpu, std::string_view rel, uint64_t& v) {
    path_.assign(cpu_dir_).append("/").append(cpu).append("/").append(rel);
    if (!procfs::ReadFile(path_, attr_buf_).ok()) return false;
    return procfs::ParseUint(procfs::TrimSpace(attr_buf_), v);
  }

  Status ListCpus() {
    auto names = procfs::ListDir(cpu_dir_);
    cpus_.clear();
    if (!names.ok()) {
      // A missing directory is an empty glob for node_exporter.
      return names.status().IsNotFound() ? Status::Ok() : names.status();
    }
    for (std::string& n : *names) {
      if (n.size() > 3 && n.compare(0, 3, "cpu") == 0 && n[3] >= '0' && n[3] <= '9') {
        cpus_.push_back(std::move(n));
      }
    }
    return Status::Ok();
  }

  Status UpdateThrottle(MetricSet& out) {
    LOOKOUT_RETURN_IF_ERROR(ListCpus());
    packages_.clear();
    cores_.clear();
    for (const std::string& cpu : cpus_) {
      uint64_t pkg, core, count;
      if (!ReadUintAt(cpu, "topology/physical_package_id", pkg)) continue;
      if (!ReadUintAt(cpu, "topology/core_id", core)) continue;
      bool core_seen = false;
      for (const auto& t : cores_) core_seen = core_seen || (t.pkg == pkg && t.core == core);
      if (!core_seen && ReadUintAt(cpu, "thermal_throttle/core_throttle_count", count)) {
        cores_.push_back({pkg, core, count});
      }
      bool pkg_seen = false;
      for (const auto& p : packages_) pkg_seen = pkg_seen || p.first == pkg;
      if (!pkg_seen && ReadUintAt(cpu, "thermal_throttle/package_throttle_count", count)) {
        packages_.emplace_back(pkg, count);
      }
    }
    char b1[24], b2[24];
    for (const auto& [pkg, count] : packages_) {
      out.Counter("node_cpu_package_throttles_total",
                  "Thermal throttle events of each CPU package.", static_cast<double>(count),
                  {{"package", procfs::UintText(pkg, b1)}});
    }
    for (const auto& t : cores_) {
      out.Counter(
          "node_cpu_core_throttles_total", "Thermal throttle events of each CPU core.",
          static_cast<double>(t.count),
          {{"package", procfs::UintText(t.pkg, b1)}, {"core", procfs::UintText(t.core, b2)}});
    }
    return Status::Ok();
  }

  // node_cpu_online, only where the kernel exposes cpu0/online (cpu0 is often not hot-pluggable,
  // and then no CPU is reported, as node_exporter does).
  Status UpdateOnline(MetricSet& out) {
    if (cpus_.empty()) return Status::Ok();
    path_.assign(cpu_dir_).append("/").append(cpus_[0]).append("/online");
    if (procfs::ReadFile(path_, attr_buf_).IsNotFound()) return Status::Ok();
    for (const std::string& cpu : cpus_) {
      uint64_t v = 0;
      bool online = ReadUintAt(cpu, "online", v) && procfs::TrimSpace(attr_buf_) == "1";
      out.Gauge("node_cpu_online", "1 for each CPU that is online, else 0.", online ? 1 : 0,
                {{"cpu", std::string_view(cpu).substr(3)}});
    }
    return Status::Ok();
  }

  CpuOptions opts_;
  std::string stat_path_, cpuinfo_path_, cpu_dir_;
  std::string stat_buf_, info_buf_, attr_buf_, path_;
  procfs::ProcStat stat_;
  std::vector<CpuInfo> info_;
  std::vector<std::string_view> words_;
  std::map<int64_t, CpuTimes> cache_;
  std::vector<std::string> cpus_;
  struct CoreThrottle {
    uint64_t pkg, core, count;
  };
  std::vector<std::pair<uint64_t, uint64_t>> packages_;
  std::vector<CoreThrottle> cores_;
};

// Whether collector `name` runs, when main publishes it as flag "collector.NAME"; otherwise the
// collector's default.
bool CollectorEnabled(const FlagValues& flags, const std::string& name, bool def) {
  std::string v = flags.Get("collector." + name);
  return v.empty() ? def : v == "true";
}

Result<std::unique_ptr<Collector>> MakeCpu(const CollectorContext& ctx) {
  CpuOptions o;
  o.guest = ctx.flags.GetBool("collector.cpu.guest");
  o.info = ctx.flags.GetBool("collector.cpu.info");
  o.cpufreq_enabled = CollectorEnabled(ctx.flags, "cpufreq", true);
  std::string fi = ctx.flags.Get("collector.cpu.info.flags-include");
  std::string bi = ctx.flags.Get("collector.cpu.info.bugs-include");
  // Either filter implies --collector.cpu.info, as in node_exporter.
  if (!fi.empty() || !bi.empty()) o.info = true;
  if (!fi.empty()) {
    auto re = FlagRegex::Compile(fi);
    if (!re.ok()) return re.status().Annotate("--collector.cpu.info.flags-include");
    o.flags_include = std::move(*re);
  }
  if (!bi.empty()) {
    auto re = FlagRegex::Compile(bi);
    if (!re.ok()) return re.status().Annotate("--collector.cpu.info.bugs-include");
    o.bugs_include = std::move(*re);
  }
  std::string isolated_path = ctx.paths.Sys("devices/system/cpu/isolated");
  std::string buf;
  Status st = procfs::ReadFile(isolated_path, buf);
  if (st.ok()) {
    LOOKOUT_RETURN_IF_ERROR(procfs::ParseCpuList(buf, isolated_path, o.isolated));
    o.have_isolated = true;
  } else if (!st.IsNotFound()) {
    return st.Annotate("isolated cpus");
  }
  return std::unique_ptr<Collector>(std::make_unique<CpuCollector>(ctx, std::move(o)));
}

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "cpu",
    .default_enabled = true,
    .flags =
        {
            {.name = "collector.cpu.guest",
             .help = "Export node_cpu_guest_seconds_total.",
             .default_value = "true",
             .kind = FlagSpec::Kind::kBool},
            {.name = "collector.cpu.info",
             .help = "Export node_cpu_info and related /proc/cpuinfo metrics.",
             .default_value = "false",
             .kind = FlagSpec::Kind::kBool},
            {.name = "collector.cpu.info.flags-include",
             .help = "Regexp of /proc/cpuinfo flags to export as node_cpu_flag_info (implies "
                     "--collector.cpu.info).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
            {.name = "collector.cpu.info.bugs-include",
             .help = "Regexp of /proc/cpuinfo bugs to export as node_cpu_bug_info (implies "
                     "--collector.cpu.info).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
        },
    .make = MakeCpu,
});

}  // namespace agent
