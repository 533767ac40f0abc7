// zfs: node_zfs_* from the SPL kstat files of ZFS on Linux (procfs spl/kstat/zfs).
//
// Three sources, as node_exporter reads them:
//  - global kstat files (arcstats, dbufstats, ...): one untyped family per uint64/int64 entry,
//    named node_zfs_<subsystem>_<entry> (dashes become underscores);
//  - per pool: <pool>/io (a header row of field names and one row of values),
//    <pool>/objset-* (per dataset kstats) and <pool>/state (one word: ONLINE, DEGRADED, ...).
// Without spl/kstat/zfs (no ZFS module) the collector reports no data (a NotFound failure, as
// node_exporter's ErrNoData also fails the scrape of this collector). A global kstat file that
// does not exist is skipped (older modules lack some); one that does not parse fails the pass.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

// Subsystem (metric infix) -> kstat file name.
struct KstatFile {
  std::string_view subsystem;
  std::string_view file;
  std::string_view help;
};
constexpr std::array<KstatFile, 11> kKstatFiles = {{
    {"abd", "abdstats", "ZFS ABD (aggregate buffer) statistic, from kstat abdstats."},
    {"arc", "arcstats", "ZFS adaptive replacement cache statistic, from kstat arcstats."},
    {"dbuf", "dbufstats", "ZFS DMU buffer cache statistic, from kstat dbufstats."},
    {"dmu_tx", "dmu_tx", "ZFS DMU transaction statistic, from kstat dmu_tx."},
    {"dnode", "dnodestats", "ZFS dnode statistic, from kstat dnodestats."},
    {"fm", "fm", "ZFS fault management statistic, from kstat fm."},
    {"vdev_cache", "vdev_cache_stats", "ZFS vdev cache statistic, from kstat vdev_cache_stats."},
    {"vdev_mirror", "vdev_mirror_stats",
     "ZFS vdev mirror statistic, from kstat vdev_mirror_stats."},
    {"xuio", "xuio_stats", "ZFS zero-copy I/O statistic, from kstat xuio_stats."},
    {"zfetch", "zfetchstats", "ZFS prefetch statistic, from kstat zfetchstats."},
    {"zil", "zil", "ZFS intent log statistic, from kstat zil."},
}};

// Pool states exposed by node_zfs_zpool_state, one series each.
constexpr std::array<std::string_view, 7> kPoolStates = {
    "online", "degraded", "faulted", "offline", "removed", "unavail", "suspended"};

// kstat data types (column 2) that carry a number we export.
constexpr std::string_view kKstatInt64 = "3";
constexpr std::string_view kKstatUint64 = "4";

bool IsHeader(const std::vector<std::string_view>& f) {
  return f.size() == 3 && f[0] == "name" && f[1] == "type" && f[2] == "data";
}

bool ValidNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':';
}

// The text of `line` after its first two whitespace-separated fields, trailing space trimmed.
std::string_view RestAfterTwoFields(std::string_view line) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  };
  auto skip_word = [&] {
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
  };
  skip_space();
  skip_word();
  skip_space();
  skip_word();
  skip_space();
  return procfs::TrimSpace(line.substr(i));
}

class ZfsCollector : public Collector {
 public:
  explicit ZfsCollector(const CollectorContext& ctx) : base_(ctx.paths.Proc("spl/kstat/zfs")) {}

  Status Update(MetricSet& out) override {
    if (!procfs::Exists(base_)) {
      return Status::NotFound("ZFS statistics are not available: no " + base_);
    }
    for (const KstatFile& k : kKstatFiles) {
      std::string path = base_ + "/" + std::string(k.file);
      Status s = procfs::ReadFile(path, buf_);
      if (s.IsNotFound()) continue;
      LOOKOUT_RETURN_IF_ERROR(s);
      LOOKOUT_RETURN_IF_ERROR(ParseKstat(path, k, out));
    }
    return UpdatePools(out);
  }

 private:
  // Builds name_ = prefix + field (dashes to underscores); false when the result is not a valid
  // metric name (such an entry is skipped).
  bool BuildName(std::string_view prefix, std::string_view field) {
    name_.assign(prefix);
    for (char c : field) {
      if (c == '-') c = '_';
      if (!ValidNameChar(c)) return false;
      name_.push_back(c);
    }
    return true;
  }

  // True when `key` was already seen in the current file; records it otherwise. client_golang
  // keeps the first of duplicate series, so we do too.
  bool SeenBefore(std::string_view key) {
    for (std::string_view s : seen_) {
      if (s == key) return true;
    }
    seen_.push_back(key);
    return false;
  }

  // Reads a "name type data" kstat file already in buf_.
  Status ParseKstat(const std::string& path, const KstatFile& k, MetricSet& out) {
    prefix_.assign("node_zfs_");
    prefix_.append(k.subsystem);
    prefix_.push_back('_');
    seen_.clear();
    bool started = false;
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (!started) {
        started = IsHeader(fields_);
        return;
      }
      if (fields_.size() < 3) return;
      double v;
      if (fields_[1] == kKstatUint64) {
        uint64_t u;
        if (!procfs::ParseUint(fields_[2], u)) {
          st = Status::InvalidArgument("bad value for " + std::string(fields_[0]) + " in " + path);
          return;
        }
        v = static_cast<double>(u);
      } else if (fields_[1] == kKstatInt64) {
        int64_t i;
        if (!procfs::ParseInt(fields_[2], i)) {
          st = Status::InvalidArgument("bad value for " + std::string(fields_[0]) + " in " + path);
          return;
        }
        v = static_cast<double>(i);
      } else {
        return;
      }
      if (SeenBefore(fields_[0]) || !BuildName(prefix_, fields_[0])) return;
      out.Untyped(name_, k.help, v);
    });
    LOOKOUT_RETURN_IF_ERROR(st);
    if (!started) return Status::InvalidArgument("no kstat header in " + path);
    return Status::Ok();
  }

  Status UpdatePools(MetricSet& out) {
    auto entries = procfs::ListDir(base_);
    if (!entries.ok()) return entries.status();
    pools_ = std::move(*entries);
    // node_exporter walks all io files, then all objset files, then all state files.
    for (const std::string& pool : pools_) {
      std::string path = base_ + "/" + pool + "/io";
      if (!procfs::Exists(path)) continue;
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path, buf_));
      LOOKOUT_RETURN_IF_ERROR(ParsePoolIo(path, pool, out));
    }
    for (const std::string& pool : pools_) {
      std::string dir = base_ + "/" + pool;
      if (!procfs::IsDir(dir)) continue;
      auto files = procfs::ListDir(dir);
      if (!files.ok()) continue;  // the pool went away since the listing
      for (const std::string& f : *files) {
        if (f.rfind("objset-", 0) != 0) continue;
        std::string path = dir + "/" + f;
        LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path, buf_));
        LOOKOUT_RETURN_IF_ERROR(ParseObjset(path, pool, out));
      }
    }
    for (const std::string& pool : pools_) {
      std::string path = base_ + "/" + pool + "/state";
      if (!procfs::Exists(path)) continue;
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path, buf_));
      std::string_view first = buf_;
      first = first.substr(0, first.find('\n'));
      state_.assign(first);
      for (char& c : state_) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      for (std::string_view s : kPoolStates) {
        out.Gauge("node_zfs_zpool_state", "1 if the pool is in this state, else 0.",
                  state_ == s ? 1 : 0, {{"zpool", pool}, {"state", s}});
      }
    }
    return Status::Ok();
  }

  // <pool>/io: a header row starting with "nread" (12+ names), then rows of values.
  Status ParsePoolIo(const std::string& path, const std::string& pool, MetricSet& out) {
    header_.clear();
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (header_.empty()) {
        if (fields_.size() >= 12 && fields_[0] == "nread") header_ = fields_;
        return;
      }
      if (fields_.size() < header_.size()) {
        st = Status::InvalidArgument("short row in " + path);
        return;
      }
      for (size_t i = 0; i < header_.size(); ++i) {
        uint64_t u;
        if (!procfs::ParseUint(fields_[i], u)) {
          st = Status::InvalidArgument("bad value for " + std::string(header_[i]) + " in " + path);
          return;
        }
        if (!BuildName("node_zfs_zpool_", header_[i])) continue;
        out.Untyped(name_, "ZFS pool I/O statistic, from kstat <pool>/io.", static_cast<double>(u),
                    {{"zpool", pool}});
      }
    });
    return st;
  }

  // <pool>/objset-*: a "name type data" kstat whose dataset_name entry labels the rest.
  Status ParseObjset(const std::string& path, const std::string& pool, MetricSet& out) {
    bool started = false;
    dataset_.clear();
    seen_.clear();
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (!started) {
        started = IsHeader(fields_);
        return;
      }
      if (fields_.size() < 3) return;
      if (fields_[0] == "dataset_name") {
        dataset_.assign(RestAfterTwoFields(line));
        return;
      }
      if (fields_[1] != kKstatUint64) return;
      uint64_t u;
      if (!procfs::ParseUint(fields_[2], u)) {
        st = Status::InvalidArgument("bad value for " + std::string(fields_[0]) + " in " + path);
        return;
      }
      if (SeenBefore(fields_[0]) || !BuildName("node_zfs_zpool_dataset_", fields_[0])) return;
      out.Untyped(name_, "ZFS dataset statistic, from kstat <pool>/objset-*.",
                  static_cast<double>(u), {{"zpool", pool}, {"dataset", dataset_}});
    });
    LOOKOUT_RETURN_IF_ERROR(st);
    if (!started) return Status::InvalidArgument("no kstat header in " + path);
    return Status::Ok();
  }

  std::string base_;
  std::string buf_;
  std::string name_;
  std::string prefix_;
  std::string state_;
  std::string dataset_;
  std::vector<std::string> pools_;
  std::vector<std::string_view> fields_;
  std::vector<std::string_view> header_;
  std::vector<std::string_view> seen_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "zfs",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<ZfsCollector>(ctx));
    },
});

}  // namespace agent
