// drbd: node_drbd_* from /proc/drbd (DRBD 8 status). The file is read as a stream of
// whitespace-separated "key:value" words; "<n>:" starts device drbd<n>. Sizes reported in KiB
// (ns, dw, dr, oos) are converted to bytes. A missing /proc/drbd means DRBD is not loaded and
// yields no samples; a bad number fails the collector.

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

struct Numeric {
  std::string_view key;
  std::string_view metric;
  std::string_view help;
  MetricType type;
  double multiplier;
};
constexpr Numeric kNumeric[] = {
    {"ns", "node_drbd_network_sent_bytes_total", "Bytes sent to the peer.", MetricType::kCounter,
     1024},
    // node_exporter does not scale nr (it is in KiB too); kept for compatibility.
    {"nr", "node_drbd_network_received_bytes_total", "Data received from the peer.",
     MetricType::kCounter, 1},
    {"dw", "node_drbd_disk_written_bytes_total", "Bytes written to the local disk.",
     MetricType::kCounter, 1024},
    {"dr", "node_drbd_disk_read_bytes_total", "Bytes read from the local disk.",
     MetricType::kCounter, 1024},
    {"al", "node_drbd_activitylog_writes_total", "Updates of the activity log meta data.",
     MetricType::kCounter, 1},
    {"bm", "node_drbd_bitmap_writes_total", "Updates of the bitmap meta data.",
     MetricType::kCounter, 1},
    {"lo", "node_drbd_local_pending", "Open requests to the local I/O subsystem.",
     MetricType::kGauge, 1},
    {"pe", "node_drbd_remote_pending", "Requests sent to the peer and not yet answered.",
     MetricType::kGauge, 1},
    {"ua", "node_drbd_remote_unacknowledged", "Requests from the peer not yet answered.",
     MetricType::kGauge, 1},
    {"ap", "node_drbd_application_pending", "Block I/O requests given to DRBD, not yet answered.",
     MetricType::kGauge, 1},
    {"ep", "node_drbd_epochs", "Epochs in flight.", MetricType::kGauge, 1},
    {"oos", "node_drbd_out_of_sync_bytes", "Data known to be out of sync, in bytes.",
     MetricType::kGauge, 1024},
};

struct Pair {
  std::string_view key;
  std::string_view metric;
  std::string_view help;
  std::string_view okay;
};
constexpr Pair kPairs[] = {
    {"ro", "node_drbd_node_role_is_primary", "1 when the node's role is Primary.", "Primary"},
    {"ds", "node_drbd_disk_state_is_up_to_date", "1 when the node's disk is UpToDate.", "UpToDate"},
};

class DrbdCollector : public Collector {
 public:
  explicit DrbdCollector(const CollectorContext& ctx) : path_(ctx.paths.Proc("drbd")) {}

  Status Update(MetricSet& out) override {
    Status s = procfs::ReadFile(path_, buf_);
    if (!s.ok()) return s.IsNotFound() ? Status::Ok() : s;
    procfs::SplitFields(buf_, words_);
    device_ = "unknown";
    for (std::string_view w : words_) {
      size_t colon = w.find(':');
      if (colon == std::string_view::npos || w.find(':', colon + 1) != std::string_view::npos) {
        continue;  // not a key:value word
      }
      std::string_view key = w.substr(0, colon), value = w.substr(colon + 1);
      uint64_t id;
      if (value.empty() && procfs::ParseUint(key, id)) {
        device_ = "drbd" + std::to_string(id);
        continue;
      }
      const Numeric* num = nullptr;
      for (const Numeric& n : kNumeric) {
        if (n.key == key) num = &n;
      }
      if (num != nullptr) {
        double v;
        if (!procfs::ParseDouble(value, v)) {
          return Status::InvalidArgument("bad value for " + std::string(key) + " in " + path_);
        }
        out.Add(num->metric, num->help, num->type, v * num->multiplier, {{"device", device_}});
        continue;
      }
      const Pair* pair = nullptr;
      for (const Pair& p : kPairs) {
        if (p.key == key) pair = &p;
      }
      if (pair != nullptr) {
        size_t slash = value.find('/');
        if (slash == std::string_view::npos) {
          return Status::InvalidArgument("bad " + std::string(key) + " pair in " + path_);
        }
        std::string_view local = value.substr(0, slash), rest = value.substr(slash + 1);
        std::string_view remote = rest.substr(0, rest.find('/'));
        out.Gauge(pair->metric, pair->help, local == pair->okay ? 1 : 0,
                  {{"device", device_}, {"node", "local"}});
        out.Gauge(pair->metric, pair->help, remote == pair->okay ? 1 : 0,
                  {{"device", device_}, {"node", "remote"}});
        continue;
      }
      if (key == "cs") {
        out.Gauge("node_drbd_connected", "1 when DRBD is connected to the peer.",
                  value == "Connected" ? 1 : 0, {{"device", device_}});
      }
    }
    return Status::Ok();
  }

 private:
  std::string path_;
  std::string buf_, device_;
  std::vector<std::string_view> words_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "drbd",
    .default_enabled = false,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<DrbdCollector>(ctx));
    },
});

}  // namespace agent
