// tapestats: node_tape_* I/O statistics of SCSI tape drives, from
// /sys/class/scsi_tape/st<N>/stats/ (the st<N> entries only; the nst / mode variants are the same
// drive). --collector.tapestats.ignored-devices (regexp, default "^$") leaves drives out.
// Every stats file must read and parse, or the collector fails.

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

enum Stat {
  kInFlight,
  kIoNs,
  kOtherCnt,
  kReadByteCnt,
  kReadCnt,
  kReadNs,
  kResidCnt,
  kWriteByteCnt,
  kWriteCnt,
  kWriteNs,
  kNumStats
};
constexpr std::string_view kStatFiles[kNumStats] = {
    "in_flight", "io_ns",     "other_cnt",      "read_byte_cnt", "read_cnt",
    "read_ns",   "resid_cnt", "write_byte_cnt", "write_cnt",     "write_ns"};

// st<digits>
bool IsTapeName(std::string_view n) {
  if (n.size() < 3 || n.substr(0, 2) != "st") return false;
  for (char c : n.substr(2)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ParseProcfsUint(std::string_view s, uint64_t& v) {
  if (s.substr(0, 2) == "0x") return procfs::ParseUint(s.substr(2), v, 16);
  return procfs::ParseUint(s, v, 10);
}

class TapestatsCollector : public Collector {
 public:
  TapestatsCollector(const CollectorContext& ctx, procfs::FlagRegex ignored)
      : root_(ctx.paths.Sys("class/scsi_tape")), ignored_(std::move(ignored)) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(root_);
    if (!entries.ok()) {
      if (entries.status().IsNotFound()) return Status::NotFound("no SCSI tapes: " + root_);
      return entries.status();
    }
    n_ = 0;
    for (const std::string& e : *entries) {
      if (!IsTapeName(e)) continue;
      if (n_ == tapes_.size()) tapes_.emplace_back();
      Tape& t = tapes_[n_];
      t.name = e;
      LOOKOUT_RETURN_IF_ERROR(Parse(t).Annotate("error obtaining SCSITape class info"));
      ++n_;
    }
    for (size_t i = 0; i < n_; ++i) {
      const Tape& t = tapes_[i];
      if (ignored_.Search(t.name)) continue;
      auto v = [&](Stat s) { return static_cast<double>(t.stat[s]); };
      const std::string_view d = t.name;
      out.Gauge("node_tape_io_now", "I/Os in flight to the tape drive.", v(kInFlight),
                {{"device", d}});
      out.Counter("node_tape_io_time_seconds_total",
                  "Time spent on all I/O of the tape drive, tape movement included.",
                  v(kIoNs) * 0.000000001, {{"device", d}});
      out.Counter("node_tape_io_others_total", "Commands other than reads and writes issued.",
                  v(kOtherCnt), {{"device", d}});
      out.Counter("node_tape_read_bytes_total", "Bytes read from the tape drive.", v(kReadByteCnt),
                  {{"device", d}});
      out.Counter("node_tape_reads_completed_total", "Read requests issued to the tape drive.",
                  v(kReadCnt), {{"device", d}});
      out.Counter("node_tape_read_time_seconds_total", "Time spent waiting for reads.",
                  v(kReadNs) * 0.000000001, {{"device", d}});
      out.Counter("node_tape_residual_total",
                  "Reads or writes that ended with a non-zero residual count.", v(kResidCnt),
                  {{"device", d}});
      out.Counter("node_tape_written_bytes_total", "Bytes written to the tape drive.",
                  v(kWriteByteCnt), {{"device", d}});
      out.Counter("node_tape_writes_completed_total", "Write requests issued to the tape drive.",
                  v(kWriteCnt), {{"device", d}});
      out.Counter("node_tape_write_time_seconds_total", "Time spent waiting for writes.",
                  v(kWriteNs) * 0.000000001, {{"device", d}});
    }
    return Status::Ok();
  }

 private:
  struct Tape {
    std::string name;
    uint64_t stat[kNumStats] = {};
  };

  Status Parse(Tape& t) {
    procfs::JoinPath(dir_, root_, t.name);
    dir_ += "/stats";
    auto files = procfs::ListDir(dir_);
    if (!files.ok()) return files.status();
    for (size_t s = 0; s < kNumStats; ++s) t.stat[s] = 0;
    for (const std::string& f : *files) {
      auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, f), buf_);
      if (!r.ok()) return procfs::SysReadStatus(r, path_);
      for (size_t s = 0; s < kNumStats; ++s) {
        if (kStatFiles[s] != f) continue;
        if (!ParseProcfsUint(r.value, t.stat[s])) {
          return Status::InvalidArgument("bad counter in " + path_);
        }
      }
    }
    return Status::Ok();
  }

  std::string root_;
  procfs::FlagRegex ignored_;
  std::vector<Tape> tapes_;
  size_t n_ = 0;
  std::string dir_, path_, buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "tapestats",
    .default_enabled = true,
    .flags =
        {
            {.name = "collector.tapestats.ignored-devices",
             .help = "Regexp of tape devices to leave out of the tapestats collector.",
             .default_value = "^$",
             .kind = FlagSpec::Kind::kString},
        },
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      auto re = procfs::FlagRegex::Compile(ctx.flags.Get("collector.tapestats.ignored-devices"));
      if (!re.ok()) return re.status().Annotate("--collector.tapestats.ignored-devices");
      return std::unique_ptr<Collector>(std::make_unique<TapestatsCollector>(ctx, std::move(*re)));
    },
});

}  // namespace agent
