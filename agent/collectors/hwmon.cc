// hwmon: node_hwmon_* from /sys/class/hwmon (the lm-sensors view of the kernel's hardware
// monitoring chips), with node_exporter 1.12's chip naming:
//  - a chip is named after its device ("<bus>_<device>", from the resolved `device` link), else
//    after its `name` file, else after its hwmonX directory;
//  - when several chips get the same device-derived name (several hwmon nodes under one device),
//    each is suffixed with its `name` file when that tells them apart, else with its hwmonX name;
//  - --collector.hwmon.chip-{include,exclude} match the final chip label, and
//    --collector.hwmon.sensor-{include,exclude} match "<chip>;<sensor>".

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

constexpr std::string_view kSensorTypes[] = {
    "vrm",  "beep_enable", "update_interval", "in",     "cpu",      "fan",       "pwm",
    "temp", "curr",        "power",           "energy", "humidity", "intrusion", "freq",
};

bool IsSensorType(std::string_view t) {
  return std::find(std::begin(kSensorTypes), std::end(kSensorTypes), t) != std::end(kSensorTypes);
}

// Last path element and the one before it ("/a/b/c" -> "b", "c").
void SplitLastTwo(std::string_view p, std::string_view& parent, std::string_view& base) {
  size_t slash = p.rfind('/');
  base = slash == std::string_view::npos ? p : p.substr(slash + 1);
  std::string_view prefix =
      slash == std::string_view::npos ? std::string_view() : p.substr(0, slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  slash = prefix.rfind('/');
  parent = slash == std::string_view::npos ? prefix : prefix.substr(slash + 1);
}

Result<std::string> RealPath(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  if (r == nullptr) return Status::FromErrno(errno, "realpath " + p);
  std::string s(r);
  std::free(r);
  return s;
}

class HwmonCollector : public Collector {
 public:
  HwmonCollector(const CollectorContext& ctx, procfs::RegexFilter chips,
                 procfs::RegexFilter sensors)
      : root_(ctx.paths.Sys("class/hwmon")),
        chip_filter_(std::move(chips)),
        sensor_filter_(std::move(sensors)) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(root_);
    if (!entries.ok()) {
      if (entries.status().IsNotFound()) return Status::NotFound("no hwmon chips: " + root_);
      return entries.status();
    }
    Status last_err;
    // Pass 1: base names of every chip directory.
    chips_.clear();
    for (const std::string& e : *entries) {
      std::string dir = root_ + "/" + e;
      struct stat st;
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      Chip c;
      c.dir = std::move(dir);
      Status s = BaseName(c.dir, c.base);
      if (!s.ok()) {
        last_err = s;
        continue;
      }
      if (procfs::ReadFile(c.dir + "/name", buf_).ok() && !buf_.empty()) {
        procfs::CleanMetricName(buf_, c.human);
      }
      procfs::CleanMetricName(e, c.dirname);
      chips_.push_back(std::move(c));
    }
    // Pass 2: disambiguate chips sharing a base name, filter, collect.
    for (Chip& c : chips_) {
      c.label = c.base;
      size_t same = 0, same_human = 0;
      for (const Chip& o : chips_) {
        if (o.base != c.base) continue;
        ++same;
        if (!c.human.empty() && o.human == c.human) ++same_human;
      }
      if (same > 1) {
        c.label += '_';
        c.label += (!c.human.empty() && same_human == 1) ? c.human : c.dirname;
      }
    }
    for (const Chip& c : chips_) {
      if (chip_filter_.Ignored(c.label)) continue;
      Status s = UpdateChip(c, out);
      if (!s.ok()) last_err = s;
    }
    return last_err;
  }

 private:
  struct Chip {
    std::string dir;
    std::string base;     // device-derived (or name / hwmonX) chip name
    std::string human;    // cleaned `name` file, empty when absent
    std::string dirname;  // cleaned hwmonX
    std::string label;    // final chip label
  };
  struct Entry {
    std::string sensor;
    std::string prop;
    std::string value;
  };

  // node_exporter's hwmonName: device path, then the name file, then the hwmonX directory.
  Status BaseName(const std::string& dir, std::string& name) {
    auto dev = RealPath(dir + "/device");
    if (dev.ok()) {
      std::string_view type, base;
      SplitLastTwo(*dev, type, base);
      procfs::CleanMetricName(base, clean_a_);
      procfs::CleanMetricName(type, clean_b_);
      if (!clean_a_.empty() && !clean_b_.empty()) {
        name = clean_b_ + "_" + clean_a_;
        return Status::Ok();
      }
      if (!clean_a_.empty()) {
        name = clean_a_;
        return Status::Ok();
      }
    }
    if (procfs::ReadFile(dir + "/name", buf_).ok() && !buf_.empty()) {
      procfs::CleanMetricName(buf_, name);
      if (!name.empty()) return Status::Ok();
    }
    auto real = RealPath(dir);
    if (!real.ok()) return real.status();
    std::string_view parent, base;
    SplitLastTwo(*real, parent, base);
    procfs::CleanMetricName(base, name);
    if (!name.empty()) return Status::Ok();
    return Status::InvalidArgument("cannot derive a chip name for " + dir);
  }

  // Adds one entry per sensor attribute file of `dir` whose type is a known sensor type.
  Status CollectSensorData(const std::string& dir) {
    auto files = procfs::ListDir(dir);
    if (!files.ok()) return files.status();
    for (const std::string& f : *files) {
      std::string_view type, prop;
      int num;
      if (!procfs::SplitSensorFilename(f, type, num, prop) || !IsSensorType(type)) continue;
      // node_exporter reads at most 128 bytes, once; unreadable files are skipped.
      if (!procfs::ReadFile(procfs::JoinPath(path_, dir, f), buf_, 128).ok()) continue;
      if (n_entries_ == entries_.size()) entries_.emplace_back();
      Entry& e = entries_[n_entries_++];
      e.sensor.assign(type);
      e.sensor += std::to_string(num);
      e.prop.assign(prop);
      e.value.assign(procfs::TrimNewlines(buf_));
    }
    return Status::Ok();
  }

  Status UpdateChip(const Chip& chip, MetricSet& out) {
    n_entries_ = 0;
    LOOKOUT_RETURN_IF_ERROR(CollectSensorData(chip.dir));
    std::string device = chip.dir + "/device";
    if (procfs::Exists(device)) LOOKOUT_RETURN_IF_ERROR(CollectSensorData(device));

    if (!chip.human.empty()) {
      out.Gauge("node_hwmon_chip_names", "Maps a hwmon chip label to the chip's own name.", 1,
                {{"chip", chip.label}, {"chip_name", chip.human}});
    }

    // Group by sensor; for a (sensor, property) read twice, the device directory (read last)
    // wins.
    order_.resize(n_entries_);
    for (size_t i = 0; i < n_entries_; ++i) order_[i] = i;
    std::stable_sort(order_.begin(), order_.end(), [this](size_t a, size_t b) {
      const Entry &x = entries_[a], &y = entries_[b];
      if (x.sensor != y.sensor) return x.sensor < y.sensor;
      return x.prop < y.prop;
    });
    size_t i = 0;
    while (i < order_.size()) {
      size_t j = i;
      while (j < order_.size() && entries_[order_[j]].sensor == entries_[order_[i]].sensor) ++j;
      // Dedupe in place: keep the last of equal properties.
      group_.clear();
      for (size_t k = i; k < j; ++k) {
        const Entry* e = &entries_[order_[k]];
        if (!group_.empty() && group_.back()->prop == e->prop) {
          group_.back() = e;
        } else {
          group_.push_back(e);
        }
      }
      EmitSensor(chip.label, entries_[order_[i]].sensor, out);
      i = j;
    }
    return Status::Ok();
  }

  const Entry* Find(std::string_view prop) const {
    for (const Entry* e : group_) {
      if (e->prop == prop) return e;
    }
    return nullptr;
  }

  void EmitSensor(const std::string& chip, const std::string& sensor, MetricSet& out) {
    procfs::JoinPath(sensor_key_, chip, "");
    sensor_key_.back() = ';';
    sensor_key_ += sensor;
    if (sensor_filter_.Ignored(sensor_key_)) return;

    std::string_view type, unused_prop;
    int unused_num;
    procfs::SplitSensorFilename(sensor, type, unused_num, unused_prop);
    const Entry* label = Find("label");
    if (label != nullptr) {
      out.Gauge("node_hwmon_sensor_label", "Label text of a hwmon sensor.", 1,
                {{"chip", chip},
                 {"sensor", sensor},
                 {"label", procfs::ToValidUtf8(label->value, utf8_)}});
    }
    const Entry* bare = Find("");
    if (type == "beep_enable") {
      double v = (bare != nullptr && bare->value == "1") ? 1 : 0;
      out.Gauge("node_hwmon_beep_enabled", "Whether the chip's beeper is enabled.", v,
                {{"chip", chip}, {"sensor", sensor}});
      return;
    }
    if (type == "vrm" || type == "update_interval") {
      double v;
      if (!procfs::ParseDouble(bare != nullptr ? std::string_view(bare->value) : "", v)) return;
      if (type == "vrm") {
        out.Gauge("node_hwmon_voltage_regulator_version", "Voltage regulator version of the chip.",
                  v, {{"chip", chip}, {"sensor", sensor}});
      } else {
        out.Gauge("node_hwmon_update_interval_seconds", "Sensor update interval of the chip.",
                  v * 0.001, {{"chip", chip}, {"sensor", sensor}});
      }
      return;
    }

    for (const Entry* e : group_) {
      std::string_view element = e->prop;
      if (element == "label") continue;
      name_.assign("node_hwmon_");
      name_.append(type);
      if (element == "input") {
        if (bare != nullptr) name_ += "_input";
      } else if (!element.empty()) {
        name_ += '_';
        procfs::CleanMetricName(element, clean_a_);
        name_ += clean_a_;
      }
      double v;
      if (!procfs::ParseDouble(e->value, v)) continue;
      const char* help = nullptr;
      MetricType mtype = MetricType::kGauge;
      std::string_view sensor_label = sensor;
      if (element == "fault" || element == "alarm") {
        help = "Fault or alarm status of a hwmon sensor.";
      } else if (element == "beep") {
        name_ += "_enabled";
        help = "Whether beeping is enabled for a hwmon sensor.";
      } else if (type == "in" || type == "cpu") {
        name_ += "_volts";
        v *= 0.001;
        help = "Voltage reading of a hwmon sensor, in volts.";
      } else if (type == "temp" && element != "type") {
        name_ += "_celsius";
        v *= 0.001;
        help = "Temperature reading of a hwmon sensor, in degrees Celsius.";
      } else if (type == "curr") {
        name_ += "_amps";
        v *= 0.001;
        help = "Current reading of a hwmon sensor, in amperes.";
      } else if (type == "energy") {
        name_ += "_joule_total";
        v /= 1e6;
        mtype = MetricType::kCounter;
        help = "Energy used so far according to a hwmon sensor, in joules.";
      } else if (type == "power" && element == "accuracy") {
        v /= 1e6;
        help = "Accuracy of a hwmon power meter, as a ratio.";
      } else if (type == "power" &&
                 (element == "average_interval" || element == "average_interval_min" ||
                  element == "average_interval_max")) {
        name_ += "_seconds";
        v *= 0.001;
        help = "Averaging interval of a hwmon power meter, in seconds.";
      } else if (type == "power") {
        name_ += "_watt";
        v /= 1e6;
        help = "Power reading of a hwmon sensor, in watts.";
      } else if (type == "humidity") {
        v /= 1e6;
        help = "Relative humidity reading of a hwmon sensor, as a ratio.";
      } else if (type == "fan" && (element == "input" || element == "min" || element == "max" ||
                                   element == "target")) {
        name_ += "_rpm";
        help = "Fan speed reading of a hwmon sensor, in revolutions per minute.";
      } else if (type == "freq" && element == "input") {
        // Frequencies are only exported for labelled sensors, keyed by the cleaned label.
        if (label == nullptr) continue;
        procfs::CleanMetricName(label->value, clean_b_);
        sensor_label = clean_b_;
        name_ += "_freq_mhz";
        v /= 1e6;
        help = "Frequency reading of a hwmon sensor, in megahertz.";
      } else {
        help = "Raw value of a hwmon sensor attribute.";
      }
      out.Add(name_, help, mtype, v, {{"chip", chip}, {"sensor", sensor_label}});
    }
  }

  std::string root_;
  procfs::RegexFilter chip_filter_;
  procfs::RegexFilter sensor_filter_;
  std::vector<Chip> chips_;
  std::vector<Entry> entries_;
  size_t n_entries_ = 0;
  std::vector<size_t> order_;
  std::vector<const Entry*> group_;
  std::string buf_, path_, name_, clean_a_, clean_b_, sensor_key_, utf8_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "hwmon",
    .default_enabled = true,
    .flags =
        {
            {.name = "collector.hwmon.chip-include",
             .help = "Regexp of hwmon chips to include (mutually exclusive to chip-exclude).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
            {.name = "collector.hwmon.chip-exclude",
             .help = "Regexp of hwmon chips to exclude (mutually exclusive to chip-include).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
            {.name = "collector.hwmon.sensor-include",
             .help = "Regexp of \"chip;sensor\" to include (mutually exclusive to sensor-exclude).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
            {.name = "collector.hwmon.sensor-exclude",
             .help = "Regexp of \"chip;sensor\" to exclude (mutually exclusive to sensor-include).",
             .default_value = "",
             .kind = FlagSpec::Kind::kString},
        },
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto chips = procfs::RegexFilter::Make(ctx.flags.Get("collector.hwmon.chip-exclude"),
                                             ctx.flags.Get("collector.hwmon.chip-include"));
      if (!chips.ok()) return chips.status().Annotate("hwmon chip filter");
      auto sensors = procfs::RegexFilter::Make(ctx.flags.Get("collector.hwmon.sensor-exclude"),
                                               ctx.flags.Get("collector.hwmon.sensor-include"));
      if (!sensors.ok()) return sensors.status().Annotate("hwmon sensor filter");
      return std::unique_ptr<Collector>(
          std::make_unique<HwmonCollector>(ctx, std::move(*chips), std::move(*sensors)));
    },
});

}  // namespace agent
