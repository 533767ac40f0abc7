// netclass: node_network_{up,info,mtu_bytes,speed_bytes,carrier,...} from the attribute files
// of /sys/class/net/<device> (the sysfs side of node_network_*; netdev does the counters).
// Flags: --collector.netclass.ignored-devices (regexp, default "^$") and
// --collector.netclass.ignore-invalid-speed (drop a negative speed, i.e. unknown link speed).
// As the procfs library does, an attribute that is missing, forbidden, unsupported or invalid
// is left out; a value that does not parse as an integer is left out; any other read error
// fails the collector.

#include <sys/stat.h>

#include <cerrno>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

// Integer attributes, in the order node_exporter emits them, with their metric suffix.
struct IntAttr {
  const char* file;
  const char* metric;
  MetricType type;
};
constexpr IntAttr kIntAttrs[] = {
    {"addr_assign_type", "node_network_address_assign_type", MetricType::kGauge},
    {"carrier", "node_network_carrier", MetricType::kGauge},
    {"carrier_changes", "node_network_carrier_changes_total", MetricType::kCounter},
    {"carrier_up_count", "node_network_carrier_up_changes_total", MetricType::kCounter},
    {"carrier_down_count", "node_network_carrier_down_changes_total", MetricType::kCounter},
    {"dev_id", "node_network_device_id", MetricType::kGauge},
    {"dormant", "node_network_dormant", MetricType::kGauge},
    {"flags", "node_network_flags", MetricType::kGauge},
    {"ifindex", "node_network_iface_id", MetricType::kGauge},
    {"iflink", "node_network_iface_link", MetricType::kGauge},
    {"link_mode", "node_network_iface_link_mode", MetricType::kGauge},
    {"mtu", "node_network_mtu_bytes", MetricType::kGauge},
    {"name_assign_type", "node_network_name_assign_type", MetricType::kGauge},
    {"netdev_group", "node_network_net_dev_group", MetricType::kGauge},
    {"tx_queue_len", "node_network_transmit_queue_length", MetricType::kGauge},
    {"type", "node_network_protocol_type", MetricType::kGauge},
};
constexpr size_t kNumInt = std::size(kIntAttrs);
constexpr size_t kFlags = 7;  // index of "flags": its IFF_UP bit gives the admin state
static_assert(std::string_view(kIntAttrs[kFlags].file) == "flags");

enum StrAttr { kAddress, kBroadcast, kDuplex, kOperState, kIfAlias, kNumStr };
constexpr const char* kStrFiles[kNumStr] = {"address", "broadcast", "duplex", "operstate",
                                            "ifalias"};

// Errors the procfs library ignores on a net class attribute (canIgnoreError), plus reading a
// directory, which it never tries (it only reads regular files).
bool Ignorable(const procfs::SysReadResult& r) {
  if (r.NotExist() || r.Permission() || r.err == EINVAL || r.err == EISDIR) return true;
  return !r.at_open && r.err == EOPNOTSUPP;
}

// The procfs value parser: "0x" prefix means hexadecimal, else decimal; signed 64-bit.
bool ParseNetInt(std::string_view s, int64_t& v) {
  if (s.substr(0, 2) == "0x") return procfs::ParseInt(s.substr(2), v, 16);
  return procfs::ParseInt(s, v, 10);
}

class NetClassCollector : public Collector {
 public:
  NetClassCollector(const CollectorContext& ctx, procfs::FlagRegex ignored, bool ignore_invalid)
      : root_(ctx.paths.Sys("class/net")),
        ignored_(std::move(ignored)),
        ignore_invalid_speed_(ignore_invalid) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(root_);
    if (!entries.ok()) {
      const Status& s = entries.status();
      if (s.IsNotFound()) return Status::NotFound("no net class devices: " + root_);
      return s.Annotate("could not get net class info");
    }
    for (const std::string& dev : *entries) {
      procfs::JoinPath(dir_, root_, dev);
      // Regular files (bonding_masters) are not devices.
      struct stat st;
      if (::lstat(dir_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) continue;
      if (ignored_.Search(dev)) continue;
      LOOKOUT_RETURN_IF_ERROR(ReadDevice().Annotate("could not get net class info"));
      Emit(dev, out);
    }
    return Status::Ok();
  }

 private:
  Status ReadDevice() {
    if (!procfs::IsDir(dir_)) return Status::NotFound("not a directory: " + dir_);
    for (size_t i = 0; i < kNumInt; ++i) {
      has_int_[i] = false;
      auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, kIntAttrs[i].file), buf_);
      if (!r.ok()) {
        if (Ignorable(r)) continue;
        return procfs::SysReadStatus(r, path_);
      }
      has_int_[i] = ParseNetInt(r.value, int_[i]);
    }
    for (size_t i = 0; i < kNumStr; ++i) {
      str_[i].clear();
      auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, kStrFiles[i]), buf_);
      if (!r.ok()) {
        if (Ignorable(r)) continue;
        return procfs::SysReadStatus(r, path_);
      }
      str_[i].assign(r.value);
    }
    has_speed_ = false;
    auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "speed"), buf_);
    if (!r.ok()) {
      if (!Ignorable(r)) return procfs::SysReadStatus(r, path_);
    } else {
      has_speed_ = ParseNetInt(r.value, speed_);
    }
    return Status::Ok();
  }

  void Emit(std::string_view dev, MetricSet& out) {
    out.Gauge("node_network_up", "1 when the operational state of the device is \"up\", else 0.",
              str_[kOperState] == "up" ? 1 : 0, {{"device", dev}});
    // Administrative state from the IFF_UP bit of flags.
    std::string_view admin = "unknown";
    if (has_int_[kFlags]) admin = (int_[kFlags] & 1) ? "up" : "down";
    out.Gauge("node_network_info", "Text attributes of the network device; always 1.", 1,
              {{"device", dev},
               {"address", str_[kAddress]},
               {"broadcast", str_[kBroadcast]},
               {"duplex", str_[kDuplex]},
               {"operstate", str_[kOperState]},
               {"adminstate", admin},
               {"ifalias", str_[kIfAlias]}});
    for (size_t i = 0; i < kNumInt; ++i) {
      if (!has_int_[i]) continue;
      out.Add(kIntAttrs[i].metric, "Network device attribute from /sys/class/net.",
              kIntAttrs[i].type, static_cast<double>(int_[i]), {{"device", dev}});
    }
    // Unknown speed is reported as -1 by some drivers.
    if (has_speed_ && (speed_ >= 0 || !ignore_invalid_speed_)) {
      int64_t bytes = speed_ * 1000 * 1000 / 8;
      out.Gauge("node_network_speed_bytes",
                "Link speed of the network device, in bytes per second.",
                static_cast<double>(bytes), {{"device", dev}});
    }
  }

  std::string root_;
  procfs::FlagRegex ignored_;
  bool ignore_invalid_speed_;
  std::string dir_, path_, buf_;
  int64_t int_[kNumInt] = {};
  bool has_int_[kNumInt] = {};
  std::string str_[kNumStr];
  int64_t speed_ = 0;
  bool has_speed_ = false;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "netclass",
    .default_enabled = true,
    .flags =
        {
            {.name = "collector.netclass.ignored-devices",
             .help = "Regexp of net devices to leave out of the netclass collector.",
             .default_value = "^$",
             .kind = FlagSpec::Kind::kString},
            {.name = "collector.netclass.ignore-invalid-speed",
             .help = "Leave out devices whose link speed is unknown (negative).",
             .default_value = "false",
             .kind = FlagSpec::Kind::kBool},
        },
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto re = procfs::FlagRegex::Compile(ctx.flags.Get("collector.netclass.ignored-devices"));
      if (!re.ok()) return re.status().Annotate("--collector.netclass.ignored-devices");
      return std::unique_ptr<Collector>(std::make_unique<NetClassCollector>(
          ctx, std::move(*re), ctx.flags.GetBool("collector.netclass.ignore-invalid-speed")));
    },
});

}  // namespace agent
