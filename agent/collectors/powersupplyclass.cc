// powersupplyclass: node_power_supply_* from /sys/class/power_supply/<supply>/ (batteries, AC
// adapters, USB supplies). Micro-units (µA, µV, µWh, µW) are converted to base units, tenths of
// a degree to degrees Celsius; text attributes become labels of node_power_supply_info.
// --collector.powersupply.ignored-supplies (regexp, default "^$") leaves supplies out.
// As the procfs library does, every regular file of a supply is read: a missing, unsupported
// or absent-device attribute is skipped; any other read error, or a number that does not parse,
// fails the collector.

#include <sys/stat.h>

#include <cerrno>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

struct NumAttr {
  std::string_view file;
  std::string_view metric;
  double divisor;
};
constexpr NumAttr kNumAttrs[] = {
    {"authentic", "node_power_supply_authentic", 1},
    {"calibrate", "node_power_supply_calibrate", 1},
    {"capacity", "node_power_supply_capacity", 1},
    {"capacity_alert_max", "node_power_supply_capacity_alert_max", 1},
    {"capacity_alert_min", "node_power_supply_capacity_alert_min", 1},
    {"cycle_count", "node_power_supply_cyclecount", 1},
    {"online", "node_power_supply_online", 1},
    {"present", "node_power_supply_present", 1},
    {"time_to_empty_now", "node_power_supply_time_to_empty_seconds", 1},
    {"time_to_full_now", "node_power_supply_time_to_full_seconds", 1},
    {"current_boot", "node_power_supply_current_boot", 1e6},
    {"current_max", "node_power_supply_current_max", 1e6},
    {"current_now", "node_power_supply_current_ampere", 1e6},
    {"energy_empty", "node_power_supply_energy_empty", 1e6},
    {"energy_empty_design", "node_power_supply_energy_empty_design", 1e6},
    {"energy_full", "node_power_supply_energy_full", 1e6},
    {"energy_full_design", "node_power_supply_energy_full_design", 1e6},
    {"energy_now", "node_power_supply_energy_watthour", 1e6},
    {"voltage_boot", "node_power_supply_voltage_boot", 1e6},
    {"voltage_max", "node_power_supply_voltage_max", 1e6},
    {"voltage_max_design", "node_power_supply_voltage_max_design", 1e6},
    {"voltage_min", "node_power_supply_voltage_min", 1e6},
    {"voltage_min_design", "node_power_supply_voltage_min_design", 1e6},
    {"voltage_now", "node_power_supply_voltage_volt", 1e6},
    {"voltage_ocv", "node_power_supply_voltage_ocv", 1e6},
    {"charge_control_limit", "node_power_supply_charge_control_limit", 1e6},
    {"charge_control_limit_max", "node_power_supply_charge_control_limit_max", 1e6},
    {"charge_counter", "node_power_supply_charge_counter", 1e6},
    {"charge_empty", "node_power_supply_charge_empty", 1e6},
    {"charge_empty_design", "node_power_supply_charge_empty_design", 1e6},
    {"charge_full", "node_power_supply_charge_full", 1e6},
    {"charge_full_design", "node_power_supply_charge_full_design", 1e6},
    {"charge_now", "node_power_supply_charge_ampere", 1e6},
    {"charge_term_current", "node_power_supply_charge_term_current", 1e6},
    {"constant_charge_current", "node_power_supply_constant_charge_current", 1e6},
    {"constant_charge_current_max", "node_power_supply_constant_charge_current_max", 1e6},
    {"constant_charge_voltage", "node_power_supply_constant_charge_voltage", 1e6},
    {"constant_charge_voltage_max", "node_power_supply_constant_charge_voltage_max", 1e6},
    {"precharge_current", "node_power_supply_precharge_current", 1e6},
    {"input_current_limit", "node_power_supply_input_current_limit", 1e6},
    {"power_now", "node_power_supply_power_watt", 1e6},
    {"temp", "node_power_supply_temp_celsius", 10},
    {"temp_alert_max", "node_power_supply_temp_alert_max_celsius", 10},
    {"temp_alert_min", "node_power_supply_temp_alert_min_celsius", 10},
    {"temp_ambient", "node_power_supply_temp_ambient_celsius", 10},
    {"temp_ambient_max", "node_power_supply_temp_ambient_max_celsius", 10},
    {"temp_ambient_min", "node_power_supply_temp_ambient_min_celsius", 10},
    {"temp_max", "node_power_supply_temp_max_celsius", 10},
    {"temp_min", "node_power_supply_temp_min_celsius", 10},
};
constexpr size_t kNumNum = std::size(kNumAttrs);

// Integer attributes the procfs library parses but node_exporter does not export: a bad value
// there still fails the collector.
constexpr std::string_view kParsedOnly[] = {"charge_avg", "current_avg",       "energy_avg",
                                            "power_avg",  "time_to_empty_avg", "time_to_full_avg",
                                            "voltage_avg"};

// Text attributes, exported as labels of node_power_supply_info when not empty.
constexpr std::string_view kTextAttrs[] = {
    "capacity_level", "charge_type", "health", "manufacturer", "model_name", "serial_number",
    "status",         "technology",  "type",   "usb_type",     "scope"};
constexpr size_t kNumText = std::size(kTextAttrs);

bool ParseProcfsInt(std::string_view s, int64_t& v) {
  if (s.substr(0, 2) == "0x") return procfs::ParseInt(s.substr(2), v, 16);
  return procfs::ParseInt(s, v, 10);
}

class PowerSupplyClassCollector : public Collector {
 public:
  PowerSupplyClassCollector(const CollectorContext& ctx, procfs::FlagRegex ignored)
      : root_(ctx.paths.Sys("class/power_supply")), ignored_(std::move(ignored)) {}

  Status Update(MetricSet& out) override {
    auto supplies = procfs::ListDir(root_);
    if (!supplies.ok()) {
      if (supplies.status().IsNotFound()) return Status::NotFound("no power supplies: " + root_);
      return supplies.status();
    }
    // Every supply is parsed before any is exported, so a failure exports nothing.
    n_ = 0;
    for (const std::string& name : *supplies) {
      if (n_ == parsed_.size()) parsed_.emplace_back();
      Supply& s = parsed_[n_];
      s.name = name;
      LOOKOUT_RETURN_IF_ERROR(Parse(s).Annotate("could not get power_supply class info"));
      ++n_;
    }
    for (size_t i = 0; i < n_; ++i) {
      const Supply& s = parsed_[i];
      if (ignored_.Search(s.name)) continue;
      Emit(s, out);
    }
    return Status::Ok();
  }

 private:
  struct Supply {
    std::string name;
    bool has[kNumNum];
    int64_t num[kNumNum];
    std::string text[kNumText];
  };

  Status Parse(Supply& s) {
    for (size_t i = 0; i < kNumNum; ++i) s.has[i] = false;
    for (size_t i = 0; i < kNumText; ++i) s.text[i].clear();
    procfs::JoinPath(dir_, root_, s.name);
    auto files = procfs::ListDir(dir_);
    if (!files.ok()) return files.status();
    for (const std::string& f : *files) {
      procfs::JoinPath(path_, dir_, f);
      struct stat st;
      if (::lstat(path_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      auto r = procfs::SysReadFile(path_, buf_);
      if (!r.ok()) {
        if (r.NotExist() || (!r.at_open && (r.err == EOPNOTSUPP || r.err == ENODEV))) continue;
        return procfs::SysReadStatus(r, path_);
      }
      bool done = false;
      for (size_t i = 0; i < kNumNum && !done; ++i) {
        if (kNumAttrs[i].file != f) continue;
        done = true;
        if (!ParseProcfsInt(r.value, s.num[i])) {
          return Status::InvalidArgument("bad number in " + path_);
        }
        s.has[i] = true;
      }
      for (size_t i = 0; i < kNumText && !done; ++i) {
        if (kTextAttrs[i] != f) continue;
        done = true;
        s.text[i].assign(r.value);
      }
      for (std::string_view p : kParsedOnly) {
        int64_t unused;
        if (!done && p == f && !ParseProcfsInt(r.value, unused)) {
          return Status::InvalidArgument("bad number in " + path_);
        }
      }
    }
    return Status::Ok();
  }

  void Emit(const Supply& s, MetricSet& out) {
    for (size_t i = 0; i < kNumNum; ++i) {
      if (!s.has[i]) continue;
      double v = static_cast<double>(s.num[i]);
      if (kNumAttrs[i].divisor != 1) v /= kNumAttrs[i].divisor;
      out.Gauge(kNumAttrs[i].metric, "Power supply attribute from /sys/class/power_supply.", v,
                {{"power_supply", s.name}});
    }
    labels_.clear();
    labels_.push_back({"power_supply", s.name});
    for (size_t i = 0; i < kNumText; ++i) {
      if (s.text[i].empty()) continue;
      labels_.push_back({kTextAttrs[i], procfs::ToValidUtf8(s.text[i], utf8_[i])});
    }
    out.Add("node_power_supply_info", "Text attributes of the power supply; always 1.",
            MetricType::kGauge, 1, labels_);
  }

  std::string root_;
  procfs::FlagRegex ignored_;
  std::vector<Supply> parsed_;
  size_t n_ = 0;
  std::string dir_, path_, buf_;
  std::vector<common::metrics::Label> labels_;
  std::string utf8_[kNumText];
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "powersupplyclass",
    .default_enabled = true,
    .flags =
        {
            {.name = "collector.powersupply.ignored-supplies",
             .help = "Regexp of power supplies to leave out of the powersupplyclass collector.",
             .default_value = "^$",
             .kind = FlagSpec::Kind::kString},
        },
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto re = procfs::FlagRegex::Compile(ctx.flags.Get("collector.powersupply.ignored-supplies"));
      if (!re.ok()) return re.status().Annotate("--collector.powersupply.ignored-supplies");
      return std::unique_ptr<Collector>(
          std::make_unique<PowerSupplyClassCollector>(ctx, std::move(*re)));
    },
});

}  // namespace agent
