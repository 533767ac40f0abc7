// mountstats: per-mount NFS client statistics (node_mountstats_nfs_*) from procfs
// self/mountstats, labelled with the server address ("addr" super option) from self/mountinfo,
// whose entries come in the same order.
//
// Format of an NFS entry (see the kernel's nfs_show_stats):
//   device SRV:/export mounted on /mnt with fstype nfs4 statvers=1.1
//   \t age: N / bytes: 8 numbers / events: 27 numbers / xprt: PROTO numbers...
//   \t per-op statistics, then "OP: 8+ numbers" lines up to a blank line.
// As procfs does, any malformed entry fails the pass before anything is exported. Mounts that
// share (export, protocol, server address) are exported once, with the first one's numbers; the
// mountpoint_info series is kept for every distinct mount point.

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

// Cumulative millisecond counters are taken modulo 2^53, as upstream does, so they stay exact
// in a double.
constexpr uint64_t kFloat64Mantissa = uint64_t{1} << 53;

struct Family {
  uint8_t index;
  std::string_view name;
  std::string_view help;
};

constexpr std::array<Family, 8> kBytes = {{
    {0, "node_mountstats_nfs_read_bytes_total", "Bytes read by applications with read(2)."},
    {1, "node_mountstats_nfs_write_bytes_total", "Bytes written by applications with write(2)."},
    {2, "node_mountstats_nfs_direct_read_bytes_total", "Bytes read with O_DIRECT."},
    {3, "node_mountstats_nfs_direct_write_bytes_total", "Bytes written with O_DIRECT."},
    {4, "node_mountstats_nfs_total_read_bytes_total", "Bytes read from the server."},
    {5, "node_mountstats_nfs_total_write_bytes_total", "Bytes written to the server."},
    {6, "node_mountstats_nfs_read_pages_total", "Pages read through mmap."},
    {7, "node_mountstats_nfs_write_pages_total", "Pages written through mmap."},
}};
constexpr size_t kBytesLen = 8;

// The events line holds 27 counters; index 18 (congestion wait) is not exported.
constexpr std::array<Family, 26> kEvents = {{
    {0, "node_mountstats_nfs_event_inode_revalidate_total", "Inode attribute revalidations."},
    {1, "node_mountstats_nfs_event_dnode_revalidate_total", "Dentry revalidations."},
    {2, "node_mountstats_nfs_event_data_invalidate_total", "Inode data cache invalidations."},
    {3, "node_mountstats_nfs_event_attribute_invalidate_total",
     "Inode attribute cache invalidations."},
    {4, "node_mountstats_nfs_event_vfs_open_total", "Files and directories opened."},
    {5, "node_mountstats_nfs_event_vfs_lookup_total", "Directory lookups."},
    {6, "node_mountstats_nfs_event_vfs_access_total", "Permission checks."},
    {7, "node_mountstats_nfs_event_vfs_update_page_total", "Page updates."},
    {8, "node_mountstats_nfs_event_vfs_read_page_total", "Single pages read."},
    {9, "node_mountstats_nfs_event_vfs_read_pages_total", "Page groups read."},
    {10, "node_mountstats_nfs_event_vfs_write_page_total", "Single pages written."},
    {11, "node_mountstats_nfs_event_vfs_write_pages_total", "Page groups written."},
    {12, "node_mountstats_nfs_event_vfs_getdents_total", "Directory reads (getdents)."},
    {13, "node_mountstats_nfs_event_vfs_setattr_total", "Inode attribute changes."},
    {14, "node_mountstats_nfs_event_vfs_flush_total", "Flushes of pending writes."},
    {15, "node_mountstats_nfs_event_vfs_fsync_total", "fsync calls."},
    {16, "node_mountstats_nfs_event_vfs_lock_total", "File locking attempts."},
    {17, "node_mountstats_nfs_event_vfs_file_release_total", "Files closed and released."},
    {19, "node_mountstats_nfs_event_truncation_total", "File truncations."},
    {20, "node_mountstats_nfs_event_write_extension_total", "Writes that extended a file."},
    {21, "node_mountstats_nfs_event_silly_rename_total", "Open files removed (silly renames)."},
    {22, "node_mountstats_nfs_event_short_read_total", "Reads the server answered short."},
    {23, "node_mountstats_nfs_event_short_write_total", "Writes the server took short."},
    {24, "node_mountstats_nfs_event_jukebox_delay_total", "EJUKEBOX replies from the server."},
    {25, "node_mountstats_nfs_event_pnfs_read_total", "pNFS reads."},
    {26, "node_mountstats_nfs_event_pnfs_write_total", "pNFS writes."},
}};
constexpr size_t kEventsLen = 27;

// Transport values, after expanding UDP lines to the TCP layout:
// port, bind, connect, connect idle, idle seconds, sends, receives, bad xids, active requests,
// backlog, max slots, sending queue, pending queue.
constexpr size_t kTransportLen = 13;
struct TransportFamily {
  uint8_t index;
  std::string_view name;
  MetricType type;
  std::string_view help;
};
constexpr std::array<TransportFamily, 10> kTransport = {{
    {1, "node_mountstats_nfs_transport_bind_total", MetricType::kCounter,
     "Connections established from scratch."},
    {2, "node_mountstats_nfs_transport_connect_total", MetricType::kCounter, "TCP connects."},
    {4, "node_mountstats_nfs_transport_idle_time_seconds", MetricType::kGauge,
     "Time since the last RPC traffic."},
    {5, "node_mountstats_nfs_transport_sends_total", MetricType::kCounter, "RPC requests sent."},
    {6, "node_mountstats_nfs_transport_receives_total", MetricType::kCounter,
     "RPC replies received."},
    {7, "node_mountstats_nfs_transport_bad_transaction_ids_total", MetricType::kCounter,
     "Replies with an unknown transaction id."},
    {9, "node_mountstats_nfs_transport_backlog_queue_total", MetricType::kCounter,
     "Cumulative backlog queue length."},
    {10, "node_mountstats_nfs_transport_maximum_rpc_slots", MetricType::kGauge,
     "Most RPC slots ever in use at once."},
    {11, "node_mountstats_nfs_transport_sending_queue_total", MetricType::kCounter,
     "Cumulative sending queue length."},
    {12, "node_mountstats_nfs_transport_pending_queue_total", MetricType::kCounter,
     "Cumulative pending queue length."},
}};

// Per-operation values: requests, transmissions, major timeouts, bytes sent, bytes received,
// queue ms, response ms, request ms (then optional errors, not exported).
constexpr size_t kOpLen = 8;
struct OpFamily {
  uint8_t index;
  std::string_view name;
  bool millis;  // cumulative milliseconds, exported as seconds
  std::string_view help;
};
constexpr std::array<OpFamily, 8> kOps = {{
    {0, "node_mountstats_nfs_operations_requests_total", false, "Requests of this operation."},
    {1, "node_mountstats_nfs_operations_transmissions_total", false,
     "RPC transmissions of this operation."},
    {2, "node_mountstats_nfs_operations_major_timeouts_total", false,
     "Major timeouts of this operation."},
    {3, "node_mountstats_nfs_operations_sent_bytes_total", false,
     "Bytes sent for this operation, headers included."},
    {4, "node_mountstats_nfs_operations_received_bytes_total", false,
     "Bytes received for this operation, headers included."},
    {5, "node_mountstats_nfs_operations_queue_time_seconds_total", true,
     "Time requests of this operation waited before transmission."},
    {6, "node_mountstats_nfs_operations_response_time_seconds_total", true,
     "Time between transmission and reply for this operation."},
    {7, "node_mountstats_nfs_operations_request_time_seconds_total", true,
     "Time from queueing to completion for this operation."},
}};

struct Transport {
  std::string protocol;
  std::array<uint64_t, kTransportLen> v{};
};
struct Op {
  std::string name;
  std::array<uint64_t, kOpLen> v{};
};
struct Mount {
  std::string device;
  std::string mount_point;
  bool nfs = false;  // has NFS statistics
  double age = 0;
  std::array<uint64_t, kBytesLen> bytes{};
  std::array<uint64_t, kEventsLen> events{};
  std::vector<Transport> transports;
  std::vector<Op> ops;
};

// The directory of the agent's own process under procfs, resolved once as upstream does with
// procfs' Self(): the target of the "self" link. A plain file holding the pid (a fixture tree
// copied without its symlinks) is accepted too; anything else falls back to "self".
std::string SelfDir(const Paths& paths) {
  std::string self = paths.Proc("self");
  auto link = procfs::ReadLink(self);
  if (link.ok()) return *link;
  auto text = procfs::ReadTrimmed(self);
  uint64_t pid;
  if (text.ok() && procfs::ParseUint(*text, pid)) return *text;
  return "self";
}

class MountstatsCollector : public Collector {
 public:
  explicit MountstatsCollector(const CollectorContext& ctx)
      : stats_path_(ctx.paths.Proc(SelfDir(ctx.paths) + "/mountstats")),
        info_path_(ctx.paths.Proc(SelfDir(ctx.paths) + "/mountinfo")) {}

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(stats_path_, buf_));
    LOOKOUT_RETURN_IF_ERROR(ParseMountstats());
    LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(info_path_, buf_));
    LOOKOUT_RETURN_IF_ERROR(ParseMountinfo());

    seen_devices_.clear();
    seen_mountpoints_.clear();
    for (size_t i = 0; i < used_; ++i) {
      const Mount& m = mounts_[i];
      if (!m.nfs) continue;
      const std::string& addr = i < addrs_used_ ? addrs_[i] : empty_;
      for (const Transport& t : m.transports) {
        key_.assign(m.device).append("\n").append(t.protocol).append("\n").append(addr);
        std::string mp_key = key_ + "\n" + m.mount_point;
        if (!Contains(seen_mountpoints_, mp_key)) {
          seen_mountpoints_.push_back(std::move(mp_key));
          out.Gauge("node_mountstats_nfs_mountpoint_info", "NFS mount point (always 1).", 1,
                    {{"export", m.device},
                     {"protocol", t.protocol},
                     {"mountaddr", addr},
                     {"mountpoint", m.mount_point}});
        }
        if (Contains(seen_devices_, key_)) break;
        seen_devices_.push_back(key_);
        Emit(m, t.protocol, addr, out);
      }
    }
    return Status::Ok();
  }

 private:
  static bool Contains(const std::vector<std::string>& v, const std::string& s) {
    for (const std::string& e : v) {
      if (e == s) return true;
    }
    return false;
  }

  void Emit(const Mount& m, std::string_view proto, std::string_view addr, MetricSet& out) {
    out.Counter("node_mountstats_nfs_age_seconds_total", "Time since the NFS mount was made.",
                m.age, {{"export", m.device}, {"protocol", proto}, {"mountaddr", addr}});
    for (const Family& f : kBytes) {
      out.Counter(f.name, f.help, static_cast<double>(m.bytes[f.index]),
                  {{"export", m.device}, {"protocol", proto}, {"mountaddr", addr}});
    }
    for (size_t i = 0; i < m.transports.size(); ++i) {
      std::string idx = std::to_string(i);
      const Transport& t = m.transports[i];
      for (const TransportFamily& f : kTransport) {
        uint64_t v = t.v[f.index];
        if (f.index == 4) v %= kFloat64Mantissa;
        out.Add(
            f.name, f.help, f.type, static_cast<double>(v),
            {{"export", m.device}, {"protocol", proto}, {"mountaddr", addr}, {"transport", idx}});
      }
    }
    for (const Op& op : m.ops) {
      for (const OpFamily& f : kOps) {
        double v = f.millis ? static_cast<double>(op.v[f.index] % kFloat64Mantissa) / 1000.0
                            : static_cast<double>(op.v[f.index]);
        out.Counter(f.name, f.help, v,
                    {{"export", m.device},
                     {"protocol", proto},
                     {"mountaddr", addr},
                     {"operation", op.name}});
      }
    }
    for (const Family& f : kEvents) {
      out.Counter(f.name, f.help, static_cast<double>(m.events[f.index]),
                  {{"export", m.device}, {"protocol", proto}, {"mountaddr", addr}});
    }
  }

  Status Bad(std::string_view what) const {
    return Status::InvalidArgument("invalid " + std::string(what) + " in " + stats_path_);
  }

  // Parses fields_[first..], which must hold exactly N numbers, into `out`.
  template <size_t N>
  bool ParseNumbers(size_t first, std::array<uint64_t, N>& out) {
    out.fill(0);
    if (fields_.size() - first != N) return false;
    for (size_t i = 0; i < N; ++i) {
      if (!procfs::ParseUint(fields_[first + i], out[i])) return false;
    }
    return true;
  }

  Mount& NextMount() {
    if (used_ == mounts_.size()) mounts_.emplace_back();
    Mount& m = mounts_[used_++];
    m.nfs = false;
    m.age = 0;
    m.bytes.fill(0);
    m.events.fill(0);
    m.transports.clear();
    m.ops.clear();
    return m;
  }

  // The mountstats file, into mounts_[0, used_).
  Status ParseMountstats() {
    used_ = 0;
    lines_.clear();
    procfs::ForEachLine(buf_, [&](std::string_view line) { lines_.push_back(line); });
    size_t i = 0;
    while (i < lines_.size()) {
      procfs::SplitFields(lines_[i++], fields_);
      if (fields_.empty() || fields_[0] != "device") continue;
      if (fields_.size() < 8 || fields_[2] != "mounted" || fields_[3] != "on" ||
          fields_[5] != "with" || fields_[6] != "fstype") {
        return Bad("device line");
      }
      Mount& m = NextMount();
      m.device.assign(fields_[1]);
      m.mount_point.assign(fields_[4]);
      if (fields_.size() == 8) continue;  // no statistics
      if (fields_[7] != "nfs" && fields_[7] != "nfs4") return Bad("statistics of a non-NFS mount");
      std::string_view version = fields_[8];
      if (version.substr(0, 9) == "statvers=") version.remove_prefix(9);
      m.nfs = true;
      LOOKOUT_RETURN_IF_ERROR(ParseNfs(i, version, m));
    }
    return Status::Ok();
  }

  // The statistics lines of one NFS mount, from lines_[i]; leaves i after them.
  Status ParseNfs(size_t& i, std::string_view version, Mount& m) {
    version_.assign(version);  // fields_ is reused below
    bool per_op = false;
    while (i < lines_.size() && !per_op) {
      procfs::SplitFields(lines_[i++], fields_);
      if (fields_.empty()) break;
      std::string_view key = fields_[0];
      if (key == "age:") {
        if (fields_.size() < 2) return Bad("age line");
        double age;
        if (!procfs::ParseDouble(fields_[1], age) || !std::isfinite(age) ||
            std::fabs(age) >= 9223372036.0) {
          return Bad("age line");
        }
        m.age = age;
      } else if (key == "bytes:") {
        if (fields_.size() < 2 || !ParseNumbers(1, m.bytes)) return Bad("bytes line");
      } else if (key == "events:") {
        if (fields_.size() < 2 || !ParseNumbers(1, m.events)) return Bad("events line");
      } else if (key == "xprt:") {
        if (fields_.size() < 3) return Bad("xprt line");
        LOOKOUT_RETURN_IF_ERROR(ParseTransport(m));
      } else if (key == "opts:") {
        if (fields_.size() < 2) return Bad("opts line");
      } else if (key == "per-op") {
        per_op = true;
      }
    }
    // Per-operation lines follow, up to a blank line. (Like upstream, this also runs when the
    // block above ended at a blank line without a "per-op" header.)
    while (i < lines_.size()) {
      procfs::SplitFields(lines_[i++], fields_);
      if (fields_.empty()) break;
      if (fields_.size() < kOpLen + 1) return Bad("per-op line");
      Op op;
      std::string_view name = fields_[0];
      if (!name.empty() && name.back() == ':') name.remove_suffix(1);
      op.name.assign(name);
      for (size_t k = 1; k < fields_.size(); ++k) {
        uint64_t v;
        if (!procfs::ParseUint(fields_[k], v)) return Bad("per-op line");
        if (k - 1 < kOpLen) op.v[k - 1] = v;
      }
      m.ops.push_back(std::move(op));
    }
    return Status::Ok();
  }

  // "xprt: PROTO n1 n2 ..." with a length fixed by protocol and statistics version.
  Status ParseTransport(Mount& m) {
    std::string_view proto = fields_[1];
    size_t n = fields_.size() - 2;
    size_t want;
    bool tcp = proto == "tcp";
    if (!tcp && proto != "udp") return Bad("xprt protocol");
    if (version_ == "1.0") {
      want = tcp ? 10 : 7;
    } else if (version_ == "1.1") {
      want = tcp ? 13 : 10;
    } else {
      return Bad("statistics version");
    }
    if (n != want) return Bad("xprt line");
    Transport t;
    t.protocol.assign(proto);
    std::array<uint64_t, kTransportLen> raw{};
    for (size_t k = 0; k < n; ++k) {
      if (!procfs::ParseUint(fields_[2 + k], raw[k])) return Bad("xprt line");
    }
    if (tcp) {
      t.v = raw;
    } else {
      // UDP has no connect count, connect idle time or idle time: insert zeros for them.
      t.v[0] = raw[0];
      t.v[1] = raw[1];
      for (size_t k = 2; k + 3 < kTransportLen; ++k) t.v[k + 3] = raw[k];
    }
    m.transports.push_back(std::move(t));
    return Status::Ok();
  }

  // The "addr" super option of each mountinfo line, in file order, into addrs_.
  Status ParseMountinfo() {
    addrs_used_ = 0;
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::Split(line, ' ', fields_);
      size_t n = fields_.size();
      int64_t id;
      if (n < 10 || fields_[n - 4] != "-" || !procfs::ParseInt(fields_[0], id) ||
          !procfs::ParseInt(fields_[1], id)) {
        st = Status::InvalidArgument("invalid line in " + info_path_);
        return;
      }
      if (addrs_used_ == addrs_.size()) addrs_.emplace_back();
      std::string& addr = addrs_[addrs_used_++];
      addr.clear();
      // Super options are "k=v,k,..."; a repeated key keeps its last value.
      procfs::Split(fields_[n - 1], ',', opts_);
      for (std::string_view opt : opts_) {
        size_t eq = opt.find('=');
        if (opt.substr(0, eq) != "addr") continue;
        if (eq == std::string_view::npos) {
          addr.clear();
        } else {
          std::string_view v = opt.substr(eq + 1);
          addr.assign(v.substr(0, v.find('=')));
        }
      }
    });
    return st;
  }

  std::string stats_path_;
  std::string info_path_;
  std::string buf_;
  std::string version_;
  std::string key_;
  const std::string empty_;
  std::vector<std::string_view> lines_;
  std::vector<std::string_view> fields_;
  std::vector<std::string_view> opts_;
  std::vector<Mount> mounts_;
  size_t used_ = 0;
  std::vector<std::string> addrs_;
  size_t addrs_used_ = 0;
  std::vector<std::string> seen_devices_;
  std::vector<std::string> seen_mountpoints_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "mountstats",
    .default_enabled = false,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<MountstatsCollector>(ctx));
    },
});

}  // namespace agent
