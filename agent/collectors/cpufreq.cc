// cpufreq: per-CPU frequency limits, current frequencies and governors from
// /sys/devices/system/cpu/cpuN/cpufreq (node_cpu_frequency_*_hertz, node_cpu_scaling_*).

#include <unistd.h>

#include <cerrno>

#include "agent/collector.h"
#include "agent/procfs/cpu.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

// Numeric attributes (kHz except the latency); a missing one is skipped.
enum UintAttr {
  kCpuinfoCur,
  kCpuinfoAvg,
  kCpuinfoMax,
  kCpuinfoMin,
  kTransitionLatency,
  kScalingCur,
  kScalingMax,
  kScalingMin,
  kUintAttrCount,
};
constexpr const char* kUintFiles[kUintAttrCount] = {
    "cpuinfo_cur_freq",           "cpuinfo_avg_freq", "cpuinfo_max_freq", "cpuinfo_min_freq",
    "cpuinfo_transition_latency", "scaling_cur_freq", "scaling_max_freq", "scaling_min_freq",
};
// Text attributes; the kernel always has them, so a missing one fails the collector.
constexpr const char* kStringFiles[] = {"scaling_available_governors", "scaling_driver",
                                        "scaling_governor", "related_cpus", "scaling_setspeed"};

class CpufreqCollector : public Collector {
 public:
  CpufreqCollector(const CollectorContext& ctx, bool skip_current)
      : cpu_dir_(ctx.paths.Sys("devices/system/cpu")), skip_current_(skip_current) {}

  Status Update(MetricSet& out) override {
    auto names = procfs::ListDir(cpu_dir_);
    if (!names.ok() && !names.status().IsNotFound()) return names.status();
    std::string offline_path = cpu_dir_ + "/offline";
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(offline_path, buf_));
    offline_.clear();
    if (!procfs::TrimSpace(buf_).empty()) {
      LOOKOUT_RETURN_IF_ERROR(procfs::ParseCpuList(buf_, offline_path, offline_));
    }
    size_t cpus = 0;
    if (names.ok()) {
      for (const std::string& n : *names) {
        if (n.size() <= 3 || n.compare(0, 3, "cpu") != 0 || n[3] < '0' || n[3] > '9') continue;
        std::string_view num = std::string_view(n).substr(3);
        uint64_t id;
        if (!procfs::ParseUint(num, id)) {
          return Status::InvalidArgument("bad cpu directory name " + n + " in " + cpu_dir_);
        }
        bool is_offline = false;
        for (uint32_t o : offline_) is_offline = is_offline || o == static_cast<uint16_t>(id);
        if (is_offline) continue;
        ++cpus;
        LOOKOUT_RETURN_IF_ERROR(UpdateCpu(out, n, num));
      }
    }
    if (cpus == 0) return Status::NotFound("no cpufreq files under " + cpu_dir_);
    return Status::Ok();
  }

 private:
  Status UpdateCpu(MetricSet& out, const std::string& dir, std::string_view cpu) {
    base_.assign(cpu_dir_).append("/").append(dir).append("/cpufreq");
    if (!procfs::Exists(base_)) return Status::Ok();  // no cpufreq driver for this CPU
    uint64_t vals[kUintAttrCount];
    bool have[kUintAttrCount] = {};
    for (int i = 0; i < kUintAttrCount; ++i) {
      path_.assign(base_).append("/").append(kUintFiles[i]);
      Status st = procfs::ReadFile(path_, buf_);
      if (!st.ok()) {
        if (st.IsNotFound() || IsPermission(st)) continue;
        return st;
      }
      if (!procfs::ParseUint(procfs::TrimSpace(buf_), vals[i])) {
        return Status::InvalidArgument("bad number in " + path_);
      }
      have[i] = true;
    }
    for (int i = 0; i < static_cast<int>(std::size(kStringFiles)); ++i) {
      path_.assign(base_).append("/").append(kStringFiles[i]);
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path_, i == 0   ? governors_
                                                      : i == 2 ? governor_
                                                               : buf_));
    }
    LOOKOUT_RETURN_IF_ERROR(CheckStats());

    auto hz = [&](UintAttr a, std::string_view name, std::string_view help) {
      if (have[a]) out.Gauge(name, help, static_cast<double>(vals[a]) * 1000.0, {{"cpu", cpu}});
    };
    if (!skip_current_) {
      hz(kCpuinfoCur, "node_cpu_frequency_hertz", "Current frequency of each CPU, in hertz.");
    }
    hz(kCpuinfoAvg, "node_cpu_frequency_avg_hertz", "Average frequency of each CPU, in hertz.");
    hz(kCpuinfoMin, "node_cpu_frequency_min_hertz",
       "Lowest frequency each CPU supports, in hertz.");
    hz(kCpuinfoMax, "node_cpu_frequency_max_hertz",
       "Highest frequency each CPU supports, in hertz.");
    hz(kScalingCur, "node_cpu_scaling_frequency_hertz",
       "Current frequency the cpufreq governor set for each CPU, in hertz.");
    hz(kScalingMin, "node_cpu_scaling_frequency_min_hertz",
       "Lowest frequency the cpufreq governor may set for each CPU, in hertz.");
    hz(kScalingMax, "node_cpu_scaling_frequency_max_hertz",
       "Highest frequency the cpufreq governor may set for each CPU, in hertz.");

    std::string_view governor = procfs::TrimSpace(governor_);
    if (!governor.empty()) {
      procfs::Split(procfs::TrimSpace(governors_), ' ', parts_);
      for (std::string_view g : parts_) {
        out.Gauge("node_cpu_scaling_governor",
                  "1 for the active cpufreq governor of each CPU, 0 for the other available ones.",
                  g == governor ? 1 : 0, {{"cpu", cpu}, {"governor", g}});
      }
    }
    return Status::Ok();
  }

  // The cpufreq statistics are not exported, but a malformed one fails the read in node_exporter.
  Status CheckStats() {
    path_.assign(base_).append("/stats/total_trans");
    Status st = procfs::ReadFile(path_, buf_);
    uint64_t v;
    if (st.ok()) {
      if (!procfs::ParseUint(procfs::TrimSpace(buf_), v)) {
        return Status::InvalidArgument("bad number in " + path_);
      }
    } else if (!st.IsNotFound() && !IsPermission(st)) {
      return st;
    }
    path_.assign(base_).append("/stats/time_in_state");
    st = procfs::ReadFile(path_, buf_);
    if (st.ok()) {
      procfs::ForEachLine(buf_, [&](std::string_view line) {
        if (!st.ok() || line.empty()) return;
        procfs::SplitFields(line, parts_);
        if (parts_.size() != 2 || !procfs::ParseUint(parts_[0], v) ||
            !procfs::ParseUint(parts_[1], v)) {
          st = Status::InvalidArgument("bad line in " + path_);
        }
      });
      return st;
    }
    if (!st.IsNotFound() && !IsPermission(st)) return st;
    return Status::Ok();
  }

  // Whether the failed read of path_ was refused for lack of permission (skipped, like a missing
  // attribute; cpuinfo_cur_freq is readable by root only).
  bool IsPermission(const Status& st) const {
    return !st.ok() && ::access(path_.c_str(), R_OK) != 0 && (errno == EACCES || errno == EPERM);
  }

  std::string cpu_dir_;
  bool skip_current_;
  std::string buf_, governors_, governor_, base_, path_;
  std::vector<uint32_t> offline_;
  std::vector<std::string_view> parts_;
};

bool CollectorEnabled(const FlagValues& flags, const std::string& name, bool def) {
  std::string v = flags.Get("collector." + name);
  return v.empty() ? def : v == "true";
}

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "cpufreq",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      // With the cpu collector exporting /proc/cpuinfo frequencies, node_exporter leaves
      // node_cpu_frequency_hertz to it.
      bool cpu_info = ctx.flags.GetBool("collector.cpu.info") ||
                      !ctx.flags.Get("collector.cpu.info.flags-include").empty() ||
                      !ctx.flags.Get("collector.cpu.info.bugs-include").empty();
      bool skip_current = CollectorEnabled(ctx.flags, "cpu", true) && cpu_info;
      return std::unique_ptr<Collector>(std::make_unique<CpufreqCollector>(ctx, skip_current));
    },
});

}  // namespace agent
