// infiniband: node_infiniband_* from /sys/class/infiniband/<device>/: device info, and per port
// its state, physical state, rate (bytes per second) and the counters of ports/<n>/counters,
// counters_ext (pre-4.5 kernels' 64-bit counters, exported as legacy_*) and, for irdma and mlx5
// devices, hw_counters. Data counters count 4-byte words and are multiplied by 4.
// As the procfs library does: a missing or unreadable counter is left out, a counter reading
// "N/A (no PMA)" is left out, any other bad value or read error fails the collector.

#include <cerrno>
#include <cstdint>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

enum class Dir { kCounters, kCountersExt, kHwCounters };

struct CounterSpec {
  Dir dir;
  std::string_view file;
  std::string_view metric;  // after "node_infiniband_"
  uint64_t multiply = 1;
};

// In node_exporter's emission order.
constexpr CounterSpec kCounterSpecs[] = {
    {Dir::kCountersExt, "port_multicast_rcv_packets", "legacy_multicast_packets_received_total"},
    {Dir::kCountersExt, "port_multicast_xmit_packets",
     "legacy_multicast_packets_transmitted_total"},
    {Dir::kCountersExt, "port_rcv_data_64", "legacy_data_received_bytes_total", 4},
    {Dir::kCountersExt, "port_rcv_packets_64", "legacy_packets_received_total"},
    {Dir::kCountersExt, "port_unicast_rcv_packets", "legacy_unicast_packets_received_total"},
    {Dir::kCountersExt, "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total"},
    {Dir::kCountersExt, "port_xmit_data_64", "legacy_data_transmitted_bytes_total", 4},
    {Dir::kCountersExt, "port_xmit_packets_64", "legacy_packets_transmitted_total"},
    {Dir::kCounters, "excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total"},
    {Dir::kCounters, "link_downed", "link_downed_total"},
    {Dir::kCounters, "link_error_recovery", "link_error_recovery_total"},
    {Dir::kCounters, "local_link_integrity_errors", "local_link_integrity_errors_total"},
    {Dir::kCounters, "multicast_rcv_packets", "multicast_packets_received_total"},
    {Dir::kCounters, "multicast_xmit_packets", "multicast_packets_transmitted_total"},
    {Dir::kCounters, "port_rcv_constraint_errors", "port_constraint_errors_received_total"},
    {Dir::kCounters, "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total"},
    {Dir::kCounters, "port_rcv_data", "port_data_received_bytes_total", 4},
    {Dir::kCounters, "port_xmit_data", "port_data_transmitted_bytes_total", 4},
    {Dir::kCounters, "port_rcv_discards", "port_discards_received_total"},
    {Dir::kCounters, "port_xmit_discards", "port_discards_transmitted_total"},
    {Dir::kCounters, "port_rcv_errors", "port_errors_received_total"},
    {Dir::kCounters, "port_rcv_packets", "port_packets_received_total"},
    {Dir::kCounters, "port_xmit_packets", "port_packets_transmitted_total"},
    {Dir::kCounters, "port_xmit_wait", "port_transmit_wait_total"},
    {Dir::kCounters, "unicast_rcv_packets", "unicast_packets_received_total"},
    {Dir::kCounters, "unicast_xmit_packets", "unicast_packets_transmitted_total"},
    {Dir::kCounters, "port_rcv_remote_physical_errors",
     "port_receive_remote_physical_errors_total"},
    {Dir::kCounters, "port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total"},
    {Dir::kCounters, "symbol_error", "symbol_error_total"},
    {Dir::kCounters, "VL15_dropped", "vl15_dropped_total"},
    {Dir::kHwCounters, "duplicate_request", "duplicate_requests_packets_total"},
    {Dir::kHwCounters, "implied_nak_seq_err", "implied_nak_seq_errors_total"},
    {Dir::kHwCounters, "local_ack_timeout_err", "local_ack_timeout_errors_total"},
    {Dir::kHwCounters, "np_cnp_sent", "np_cnp_packets_sent_total"},
    {Dir::kHwCounters, "np_ecn_marked_roce_packets", "np_ecn_marked_roce_packets_received_total"},
    {Dir::kHwCounters, "out_of_buffer", "out_of_buffer_drops_total"},
    {Dir::kHwCounters, "out_of_sequence", "out_of_sequence_packets_received_total"},
    {Dir::kHwCounters, "packet_seq_err", "packet_sequence_errors_total"},
    {Dir::kHwCounters, "req_cqe_error", "req_cqes_errors_total"},
    {Dir::kHwCounters, "req_cqe_flush_error", "req_cqes_flush_errors_total"},
    {Dir::kHwCounters, "req_remote_access_errors", "req_remote_access_errors_total"},
    {Dir::kHwCounters, "req_remote_invalid_request", "req_remote_invalid_request_errors_total"},
    {Dir::kHwCounters, "resp_cqe_error", "resp_cqes_errors_total"},
    {Dir::kHwCounters, "resp_cqe_flush_error", "resp_cqes_flush_errors_total"},
    {Dir::kHwCounters, "resp_local_length_error", "resp_local_length_errors_total"},
    {Dir::kHwCounters, "resp_remote_access_errors", "resp_remote_access_errors_total"},
    {Dir::kHwCounters, "rnr_nak_retry_err", "rnr_nak_retry_packets_received_total"},
    {Dir::kHwCounters, "roce_adp_retrans", "roce_adp_retransmits_total"},
    {Dir::kHwCounters, "roce_adp_retrans_to", "roce_adp_retransmits_timeout_total"},
    {Dir::kHwCounters, "roce_slow_restart", "roce_slow_restart_used_total"},
    {Dir::kHwCounters, "roce_slow_restart_cnps", "roce_slow_restart_cnps_total"},
    {Dir::kHwCounters, "roce_slow_restart_trans", "roce_slow_restart_total"},
    {Dir::kHwCounters, "rp_cnp_handled", "rp_cnp_packets_handled_total"},
    {Dir::kHwCounters, "rp_cnp_ignored", "rp_cnp_ignored_packets_received_total"},
    {Dir::kHwCounters, "rx_atomic_requests", "rx_atomic_requests_total"},
    {Dir::kHwCounters, "rx_dct_connect", "rx_dct_connect_requests_total"},
    {Dir::kHwCounters, "rx_read_requests", "rx_read_requests_total"},
    {Dir::kHwCounters, "rx_write_requests", "rx_write_requests_total"},
    {Dir::kHwCounters, "rx_icrc_encapsulated", "rx_icrc_encapsulated_errors_total"},
};
constexpr size_t kNumCounters = std::size(kCounterSpecs);

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool ParseProcfsUint(std::string_view s, uint64_t& v) {
  if (s.substr(0, 2) == "0x") return procfs::ParseUint(s.substr(2), v, 16);
  return procfs::ParseUint(s, v, 10);
}

// "<id>: <name>" as in state and phys_state.
bool ParseState(std::string_view s, uint64_t& id) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || s.find(':', colon + 1) != std::string_view::npos) {
    return false;
  }
  return procfs::ParseUint(procfs::TrimSpace(s.substr(0, colon)), id) && id <= UINT32_MAX;
}

// "40 Gb/sec (4X QDR)" -> bytes per second. The number is parsed at float32 precision, as
// the procfs library does.
bool ParseRate(std::string_view s, uint64_t& rate) {
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return false;
  double v;
  if (!procfs::ParseDouble(procfs::TrimSpace(s.substr(0, sp)), v)) return false;
  double gbps = static_cast<double>(static_cast<float>(v));
  double bytes = gbps * 125000000;
  rate = bytes <= 0 ? 0 : static_cast<uint64_t>(bytes);
  return true;
}

class InfinibandCollector : public Collector {
 public:
  explicit InfinibandCollector(const CollectorContext& ctx)
      : root_(ctx.paths.Sys("class/infiniband")) {}

  Status Update(MetricSet& out) override {
    auto devs = procfs::ListDir(root_);
    if (!devs.ok()) {
      if (devs.status().IsNotFound()) return Status::NotFound("no InfiniBand devices: " + root_);
      return devs.status();
    }
    // Parse everything first: a failure exports nothing, as in node_exporter.
    n_ports_ = 0;
    n_devs_ = 0;
    for (const std::string& d : *devs) {
      LOOKOUT_RETURN_IF_ERROR(ParseDevice(d).Annotate("error obtaining InfiniBand class info"));
    }
    size_t p = 0;
    for (size_t i = 0; i < n_devs_; ++i) {
      const Device& d = devices_[i];
      out.Gauge("node_infiniband_info", "Text attributes of the InfiniBand device; always 1.", 1,
                {{"device", d.name},
                 {"board_id", d.board_id},
                 {"firmware_version", d.fw_ver},
                 {"hca_type", d.hca_type}});
      for (size_t k = 0; k < d.ports; ++k, ++p) Emit(d.name, ports_[p], out);
    }
    return Status::Ok();
  }

 private:
  struct Device {
    std::string name, board_id, fw_ver, hca_type;
    size_t ports = 0;
  };
  struct Port {
    std::string port;
    uint64_t state = 0, phys_state = 0, rate = 0;
    bool has[kNumCounters];
    uint64_t value[kNumCounters];
    bool has_lifespan = false;
    uint64_t lifespan = 0;
  };

  Status ParseDevice(const std::string& name) {
    if (n_devs_ == devices_.size()) devices_.emplace_back();
    Device& d = devices_[n_devs_];
    d.name = name;
    d.ports = 0;
    procfs::JoinPath(dir_, root_, name);
    auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, "fw_ver"), buf_);
    if (!r.ok()) return procfs::SysReadStatus(r, path_);
    d.fw_ver.assign(r.value);
    d.board_id.clear();
    d.hca_type.clear();
    for (std::string* field : {&d.board_id, &d.hca_type}) {
      r = procfs::SysReadFile(
          procfs::JoinPath(path_, dir_, field == &d.board_id ? "board_id" : "hca_type"), buf_);
      if (r.ok()) {
        field->assign(r.value);
      } else if (!r.NotExist()) {
        return procfs::SysReadStatus(r, path_);
      }
    }
    procfs::JoinPath(ports_dir_, dir_, "ports");
    auto ports = procfs::ListDir(ports_dir_);
    if (!ports.ok()) return ports.status().Annotate("failed to list InfiniBand ports");
    // Ports in numeric order (node_exporter's output is sorted anyway).
    for (const std::string& p : *ports) {
      if (n_ports_ == ports_.size()) ports_.emplace_back();
      LOOKOUT_RETURN_IF_ERROR(ParsePort(name, p, ports_[n_ports_]));
      ++n_ports_;
      ++d.ports;
    }
    ++n_devs_;
    return Status::Ok();
  }

  Status ReadWhole(std::string_view file) {
    return procfs::ReadFile(procfs::JoinPath(path_, port_dir_, file), buf_, 4096);
  }

  Status ParsePort(std::string_view dev, const std::string& name, Port& p) {
    uint64_t num;
    if (!procfs::ParseUint(name, num) || num > UINT32_MAX) {
      return Status::InvalidArgument("bad InfiniBand port name " + name);
    }
    p.port = std::to_string(num);
    procfs::JoinPath(port_dir_, ports_dir_, name);
    LOOKOUT_RETURN_IF_ERROR(ReadWhole("state"));
    if (!ParseState(buf_, p.state)) return Status::InvalidArgument("bad state in " + path_);
    LOOKOUT_RETURN_IF_ERROR(ReadWhole("phys_state"));
    if (!ParseState(buf_, p.phys_state)) {
      return Status::InvalidArgument("bad phys_state in " + path_);
    }
    LOOKOUT_RETURN_IF_ERROR(ReadWhole("rate"));
    if (!ParseRate(buf_, p.rate)) return Status::InvalidArgument("bad rate in " + path_);

    for (size_t i = 0; i < kNumCounters; ++i) p.has[i] = false;
    p.has_lifespan = false;
    // The irdma and nvs_ drivers have no counters directory.
    if (!StartsWith(dev, "irdma") && !StartsWith(dev, "nvs_")) {
      LOOKOUT_RETURN_IF_ERROR(ParseCounters(Dir::kCounters, "counters", true, p));
      LOOKOUT_RETURN_IF_ERROR(ParseCounters(Dir::kCountersExt, "counters_ext", false, p));
    }
    if (StartsWith(dev, "irdma") || StartsWith(dev, "mlx5_")) {
      LOOKOUT_RETURN_IF_ERROR(ParseCounters(Dir::kHwCounters, "hw_counters", true, p));
      auto r = ReadCounter("hw_counters", "lifespan", p.lifespan);
      if (!r.ok()) return r;
      p.has_lifespan = found_;
    }
    return Status::Ok();
  }

  // Reads one counter file of `sub`; found_ tells whether it was there and numeric.
  Status ReadCounter(std::string_view sub, std::string_view file, uint64_t& v) {
    found_ = false;
    procfs::JoinPath(sub_dir_, port_dir_, sub);
    auto r = procfs::SysReadFile(procfs::JoinPath(path_, sub_dir_, file), buf_);
    if (!r.ok()) {
      if (r.NotExist() || r.Permission() || (!r.at_open && r.err == EOPNOTSUPP)) {
        return Status::Ok();
      }
      return procfs::SysReadStatus(r, path_);
    }
    if (!ParseProcfsUint(r.value, v)) {
      if (r.value.find("N/A (no PMA)") != std::string_view::npos) return Status::Ok();
      return Status::InvalidArgument("bad counter in " + path_);
    }
    found_ = true;
    return Status::Ok();
  }

  Status ParseCounters(Dir dir, std::string_view sub, bool required, Port& p) {
    procfs::JoinPath(sub_dir_, port_dir_, sub);
    if (!procfs::IsDir(sub_dir_)) {
      if (!required) return Status::Ok();
      return Status::NotFound("no " + std::string(sub) + " directory in " + port_dir_);
    }
    for (size_t i = 0; i < kNumCounters; ++i) {
      if (kCounterSpecs[i].dir != dir) continue;
      LOOKOUT_RETURN_IF_ERROR(ReadCounter(sub, kCounterSpecs[i].file, p.value[i]));
      if (!found_) continue;
      p.value[i] *= kCounterSpecs[i].multiply;
      p.has[i] = true;
    }
    return Status::Ok();
  }

  void Emit(std::string_view dev, const Port& p, MetricSet& out) {
    common::metrics::Label labels[] = {{"device", dev}, {"port", p.port}};
    out.Add("node_infiniband_state_id",
            "State of the port (1 down, 2 init, 3 armed, 4 active, 5 active defer).",
            MetricType::kGauge, static_cast<double>(p.state), labels);
    out.Add("node_infiniband_physical_state_id",
            "Physical state of the port (2 polling, 3 disabled, 5 link up, ...).",
            MetricType::kGauge, static_cast<double>(p.phys_state), labels);
    out.Add("node_infiniband_rate_bytes_per_second", "Signalling rate of the port.",
            MetricType::kGauge, static_cast<double>(p.rate), labels);
    if (p.has_lifespan) {
      out.Add("node_infiniband_lifespan_seconds", "Caching period of the hardware counters.",
              MetricType::kGauge, static_cast<double>(p.lifespan / 1000), labels);
    }
    for (size_t i = 0; i < kNumCounters; ++i) {
      if (!p.has[i]) continue;
      name_.assign("node_infiniband_");
      name_.append(kCounterSpecs[i].metric);
      out.Add(name_, "InfiniBand port counter.", MetricType::kCounter,
              static_cast<double>(p.value[i]), labels);
    }
  }

  std::string root_;
  std::vector<Device> devices_;
  std::vector<Port> ports_;
  size_t n_devs_ = 0, n_ports_ = 0;
  bool found_ = false;
  std::string dir_, ports_dir_, port_dir_, sub_dir_, path_, buf_, name_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "infiniband",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<InfinibandCollector>(ctx));
    },
});

}  // namespace agent
