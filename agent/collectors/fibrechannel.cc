// fibrechannel: node_fibrechannel_info and node_fibrechannel_*_total from
// /sys/class/fc_host/<host>/ and its statistics/ directory. A counter reading all ones
// (0xffffffffffffffff) is one the HBA firmware does not implement and is left out.
// Missing attributes are left out; other read errors and bad numbers fail the collector.

#include <cerrno>
#include <cstdint>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

// Host attributes; the *_name / port_id ones are hex with a "0x" prefix that is dropped.
enum HostAttr {
  kSpeed,
  kPortState,
  kPortType,
  kNodeName,
  kPortId,
  kPortName,
  kFabricName,
  kDevLossTmo,
  kSymbolicName,
  kSupportedClasses,
  kSupportedSpeeds,
  kNumHost
};
constexpr std::string_view kHostFiles[kNumHost] = {
    "speed",         "port_state",        "port_type",       "node_name",
    "port_id",       "port_name",         "fabric_name",     "dev_loss_tmo",
    "symbolic_name", "supported_classes", "supported_speeds"};

struct Counter {
  std::string_view file;
  std::string_view metric;
  std::string_view help;
};
constexpr Counter kCounters[] = {
    {"dumped_frames", "node_fibrechannel_dumped_frames_total", "Frames dumped by the host port."},
    {"error_frames", "node_fibrechannel_error_frames_total", "Frames received with errors."},
    {"invalid_crc_count", "node_fibrechannel_invalid_crc_total",
     "Frames received with an invalid CRC."},
    {"rx_frames", "node_fibrechannel_rx_frames_total", "Frames received by the host port."},
    {"rx_words", "node_fibrechannel_rx_words_total", "Words received by the host port."},
    {"tx_frames", "node_fibrechannel_tx_frames_total", "Frames sent by the host port."},
    {"tx_words", "node_fibrechannel_tx_words_total", "Words sent by the host port."},
    {"seconds_since_last_reset", "node_fibrechannel_seconds_since_last_reset_total",
     "Seconds since the host port's statistics were last reset."},
    {"invalid_tx_word_count", "node_fibrechannel_invalid_tx_words_total",
     "Invalid words sent by the host port."},
    {"link_failure_count", "node_fibrechannel_link_failure_total",
     "Link failures of the host port."},
    {"loss_of_sync_count", "node_fibrechannel_loss_of_sync_total",
     "Losses of bit or word synchronisation."},
    {"loss_of_signal_count", "node_fibrechannel_loss_of_signal_total", "Losses of signal."},
    {"nos_count", "node_fibrechannel_nos_total",
     "Not_Operational primitive sequences received by the host port."},
    {"fcp_packet_aborts", "node_fibrechannel_fcp_packet_aborts_total", "FCP packets aborted."},
};
constexpr size_t kNumCounters = std::size(kCounters);

bool ParseProcfsUint(std::string_view s, uint64_t& v) {
  if (s.substr(0, 2) == "0x") return procfs::ParseUint(s.substr(2), v, 16);
  return procfs::ParseUint(s, v, 10);
}

class FibreChannelCollector : public Collector {
 public:
  explicit FibreChannelCollector(const CollectorContext& ctx)
      : root_(ctx.paths.Sys("class/fc_host")) {}

  Status Update(MetricSet& out) override {
    auto hosts = procfs::ListDir(root_);
    if (!hosts.ok()) {
      if (hosts.status().IsNotFound()) return Status::NotFound("no FC hosts: " + root_);
      return hosts.status();
    }
    n_ = 0;
    for (const std::string& name : *hosts) {
      if (n_ == parsed_.size()) parsed_.emplace_back();
      Host& h = parsed_[n_];
      h.name = name;
      LOOKOUT_RETURN_IF_ERROR(Parse(h).Annotate("error obtaining FibreChannel class info"));
      ++n_;
    }
    for (size_t i = 0; i < n_; ++i) Emit(parsed_[i], out);
    return Status::Ok();
  }

 private:
  struct Host {
    std::string name;
    std::string attr[kNumHost];
    bool has[kNumCounters];
    uint64_t counter[kNumCounters];
  };

  Status Parse(Host& h) {
    procfs::JoinPath(dir_, root_, h.name);
    for (size_t i = 0; i < kNumHost; ++i) {
      h.attr[i].clear();
      auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, kHostFiles[i]), buf_);
      if (!r.ok()) {
        if (r.NotExist()) continue;  // drivers may leave attributes out
        return procfs::SysReadStatus(r, path_);
      }
      std::string_view v = r.value;
      if ((i == kNodeName || i == kPortId || i == kPortName || i == kFabricName) && v.size() > 2) {
        v.remove_prefix(2);
      }
      h.attr[i].assign(v);
    }
    procfs::JoinPath(stats_, dir_, "statistics");
    if (!procfs::IsDir(stats_)) return Status::NotFound("no statistics directory in " + dir_);
    for (size_t i = 0; i < kNumCounters; ++i) {
      h.has[i] = false;
      auto r = procfs::SysReadFile(procfs::JoinPath(path_, stats_, kCounters[i].file), buf_);
      if (!r.ok()) {
        if (r.NotExist() || (!r.at_open && r.err == EOPNOTSUPP)) continue;
        return procfs::SysReadStatus(r, path_);
      }
      if (!ParseProcfsUint(r.value, h.counter[i])) {
        return Status::InvalidArgument("bad counter in " + path_);
      }
      h.has[i] = true;
    }
    return Status::Ok();
  }

  void Emit(const Host& h, MetricSet& out) {
    out.Gauge("node_fibrechannel_info", "Text attributes of the FC host; always 1.", 1,
              {{"fc_host", h.name},
               {"speed", h.attr[kSpeed]},
               {"port_state", h.attr[kPortState]},
               {"port_type", h.attr[kPortType]},
               {"port_id", h.attr[kPortId]},
               {"port_name", h.attr[kPortName]},
               {"fabric_name", h.attr[kFabricName]},
               {"symbolic_name", h.attr[kSymbolicName]},
               {"supported_classes", h.attr[kSupportedClasses]},
               {"supported_speeds", h.attr[kSupportedSpeeds]},
               {"dev_loss_tmo", h.attr[kDevLossTmo]}});
    for (size_t i = 0; i < kNumCounters; ++i) {
      if (!h.has[i] || h.counter[i] == UINT64_MAX) continue;
      out.Counter(kCounters[i].metric, kCounters[i].help, static_cast<double>(h.counter[i]),
                  {{"fc_host", h.name}});
    }
  }

  std::string root_;
  std::vector<Host> parsed_;
  size_t n_ = 0;
  std::string dir_, stats_, path_, buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "fibrechannel",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<FibreChannelCollector>(ctx));
    },
});

}  // namespace agent
