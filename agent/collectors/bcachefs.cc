// bcachefs: node_bcachefs_* from sysfs fs/bcachefs/<uuid>/ (one directory per mounted
// filesystem), as node_exporter reads it through procfs' bcachefs package:
//   btree_cache_size, compression_stats, errors, btree_write_stats  (human-readable sizes such
//   as "2.05G" are KiB-based multiples), counters/<name> ("since filesystem creation: N"),
//   dev-<n>/{label,state,bucket_size,nbuckets,durability,io_done,io_errors}.
// Missing optional files count as empty. Without fs/bcachefs, or with no filesystem in it, the
// collector reports no data (NotFound). A file that does not parse fails the whole pass and, as
// upstream reads everything before exporting, no sample of this pass is exposed.

#include <sys/stat.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collector.h"
#include "agent/collectors/pending_samples.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

// Go's uint64(float64) on amd64, made defined for every input.
double TruncateToUint64(double d) {
  if (std::isnan(d) || d >= 18446744073709551616.0) return 9223372036854775808.0;
  if (d < 0) {
    if (d <= -9223372036854775808.0) return 9223372036854775808.0;
    return static_cast<double>(static_cast<uint64_t>(static_cast<int64_t>(d)));
  }
  return static_cast<double>(static_cast<uint64_t>(d));
}

// "2.05G", "512k", "720": a number with an optional binary-multiple suffix (k, M, G, T, P, E).
bool ParseHumanBytes(std::string_view s, double& out) {
  s = procfs::TrimSpace(s);
  if (s.empty()) return false;
  double mult = 1;
  switch (s.back()) {
    case 'k':
    case 'K':
      mult = 1024.0;
      break;
    case 'm':
    case 'M':
      mult = 1024.0 * 1024;
      break;
    case 'g':
    case 'G':
      mult = 1024.0 * 1024 * 1024;
      break;
    case 't':
    case 'T':
      mult = 1024.0 * 1024 * 1024 * 1024;
      break;
    case 'p':
    case 'P':
      mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
      break;
    case 'e':
    case 'E':
      mult = 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024;
      break;
    default:
      break;
  }
  if (mult != 1) s = procfs::TrimSpace(s.substr(0, s.size() - 1));
  double v;
  if (!procfs::ParseDouble(s, v)) return false;
  out = TruncateToUint64(v * mult);
  return true;
}

// node_exporter's SanitizeMetricName: each run of characters outside [0-9A-Za-z_], together
// with the underscores around it, becomes one underscore.
void AppendSanitized(std::string_view s, std::string& out) {
  auto valid = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && s[j] == '_') ++j;
    if (j < s.size() && !valid(s[j])) {
      while (j < s.size() && !valid(s[j])) ++j;
      while (j < s.size() && s[j] == '_') ++j;
      out.push_back('_');
      i = j;
    } else {
      out.push_back(s[i]);
      ++i;
    }
  }
}

// A directory entry that is itself a directory (not following symlinks, like Go's
// DirEntry.IsDir).
bool IsRealDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status Bad(const std::string& path) { return Status::InvalidArgument("cannot parse " + path); }

class BcachefsCollector : public Collector {
 public:
  explicit BcachefsCollector(const CollectorContext& ctx) : base_(ctx.paths.Sys("fs/bcachefs")) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(base_);
    if (!entries.ok()) {
      if (entries.status().IsNotFound()) return Status::NotFound("no bcachefs in " + base_);
      return entries.status();
    }
    pending_.Clear();
    size_t filesystems = 0;
    for (const std::string& uuid : *entries) {
      std::string dir = base_ + "/" + uuid;
      if (!IsRealDir(dir)) continue;
      ++filesystems;
      LOOKOUT_RETURN_IF_ERROR(ReadFilesystem(dir, uuid));
    }
    if (filesystems == 0) return Status::NotFound("no bcachefs filesystem in " + base_);
    pending_.Flush(out);
    return Status::Ok();
  }

 private:
  // Reads `path` into buf_; false (and OK) when it does not exist.
  Result<bool> ReadOptional(const std::string& path) {
    Status s = procfs::ReadFile(path, buf_);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return s;
    return true;
  }

  Status ReadFilesystem(const std::string& dir, const std::string& uuid) {
    pending_.Add("node_bcachefs_info", "Present bcachefs filesystem (always 1).",
                 MetricType::kGauge, 1, {{"uuid", uuid}});

    double cache = 0;
    {
      std::string path = dir + "/btree_cache_size";
      auto r = ReadOptional(path);
      if (!r.ok()) return r.status();
      if (*r && !procfs::TrimSpace(buf_).empty() && !ParseHumanBytes(buf_, cache)) {
        return Bad(path);
      }
    }
    pending_.Add("node_bcachefs_btree_cache_size_bytes", "Memory used by the btree node cache.",
                 MetricType::kGauge, cache, {{"uuid", uuid}});

    LOOKOUT_RETURN_IF_ERROR(ReadCompression(dir + "/compression_stats", uuid));
    LOOKOUT_RETURN_IF_ERROR(ReadErrors(dir + "/errors", uuid));
    LOOKOUT_RETURN_IF_ERROR(ReadCounters(dir + "/counters", uuid));
    LOOKOUT_RETURN_IF_ERROR(ReadBtreeWrites(dir + "/btree_write_stats", uuid));
    return ReadDevices(dir, uuid);
  }

  // A stats table: a header line, then rows "<key>[:] <field> <field> ...". Calls `row(key)`
  // with fields_ set for each row of at least 3 fields; `row` returns false for a malformed row,
  // which fails the file. A missing file is no error.
  template <typename Row>
  Status ForEachStatsRow(const std::string& path, Row row) {
    auto r = ReadOptional(path);
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
    bool first = true;
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      if (first) {
        first = false;
        return;
      }
      procfs::SplitFields(line, fields_);
      if (fields_.size() < 3) return;
      std::string_view key = fields_[0];
      if (!key.empty() && key.back() == ':') key.remove_suffix(1);
      if (!row(key)) st = Bad(path);
    });
    return st;
  }

  // Header line, then "<algorithm>[:] <compressed> <uncompressed> [<average extent>]".
  Status ReadCompression(const std::string& path, const std::string& uuid) {
    size_t scope = pending_.size();
    return ForEachStatsRow(path, [&](std::string_view algo) {
      double compressed, uncompressed, avg;
      if (!ParseHumanBytes(fields_[1], compressed) || !ParseHumanBytes(fields_[2], uncompressed) ||
          (fields_.size() >= 4 && !ParseHumanBytes(fields_[3], avg))) {
        return false;
      }
      // Both families are keyed by algorithm; a repeated algorithm keeps its last line.
      pending_.Add("node_bcachefs_compression_compressed_bytes",
                   "Compressed size of the data written with this algorithm.", MetricType::kGauge,
                   compressed, {{"uuid", uuid}, {"algorithm", algo}}, scope);
      pending_.Add("node_bcachefs_compression_uncompressed_bytes",
                   "Uncompressed size of the data written with this algorithm.", MetricType::kGauge,
                   uncompressed, {{"uuid", uuid}, {"algorithm", algo}}, scope);
      return true;
    });
  }

  // "<error type> <count> [<last time>]".
  Status ReadErrors(const std::string& path, const std::string& uuid) {
    auto r = ReadOptional(path);
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
    size_t scope = pending_.size();
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (fields_.size() < 2) return;
      uint64_t count, ts;
      if (!procfs::ParseUint(fields_[1], count) ||
          (fields_.size() >= 3 && !procfs::ParseUint(fields_[2], ts))) {
        st = Bad(path);
        return;
      }
      pending_.Add("node_bcachefs_errors_total", "Errors recorded, by error type.",
                   MetricType::kCounter, static_cast<double>(count),
                   {{"uuid", uuid}, {"error_type", fields_[0]}}, scope);
    });
    return st;
  }

  // One file per counter: "since mount: N" and "since filesystem creation: N".
  Status ReadCounters(const std::string& dir, const std::string& uuid) {
    auto names = procfs::ListDir(dir);
    if (!names.ok()) {
      if (names.status().IsNotFound()) return Status::Ok();
      return names.status();
    }
    for (const std::string& counter : *names) {
      std::string path = dir + "/" + counter;
      if (IsRealDir(path)) continue;
      auto r = ReadOptional(path);
      if (!r.ok()) return r.status();
      if (!*r) continue;  // gone since the listing: upstream counts it as zero
      double since_creation = 0;
      bool seen = false;
      Status st;
      procfs::ForEachLine(buf_, [&](std::string_view line) {
        if (!st.ok()) return;
        constexpr std::string_view kMount = "since mount:";
        constexpr std::string_view kCreation = "since filesystem creation:";
        double v = 0;
        if (line.substr(0, kMount.size()) == kMount) {
          if (!ParseHumanBytes(line.substr(kMount.size()), v)) st = Bad(path);
          seen = true;
        } else if (line.substr(0, kCreation.size()) == kCreation) {
          if (!ParseHumanBytes(line.substr(kCreation.size()), v)) st = Bad(path);
          since_creation = v;
          seen = true;
        }
      });
      LOOKOUT_RETURN_IF_ERROR(st);
      if (!seen) return Bad(path);
      name_.assign("node_bcachefs_");
      AppendSanitized(counter, name_);
      name_.append("_total");
      pending_.Add(name_, "bcachefs event counter since the filesystem was created.",
                   MetricType::kCounter, since_creation, {{"uuid", uuid}});
    }
    return Status::Ok();
  }

  // Header line, then "<type>: <count> <average size>".
  Status ReadBtreeWrites(const std::string& path, const std::string& uuid) {
    size_t scope = pending_.size();
    return ForEachStatsRow(path, [&](std::string_view type) {
      uint64_t count;
      double size;
      if (!procfs::ParseUint(fields_[1], count) || !ParseHumanBytes(fields_[2], size)) return false;
      pending_.Add("node_bcachefs_btree_writes_total", "Btree node writes, by write type.",
                   MetricType::kCounter, static_cast<double>(count),
                   {{"uuid", uuid}, {"type", type}}, scope);
      pending_.Add("node_bcachefs_btree_write_average_size_bytes",
                   "Average size of a btree node write, by write type.", MetricType::kGauge, size,
                   {{"uuid", uuid}, {"type", type}}, scope);
      return true;
    });
  }

  // A sysfs attribute holding a plain unsigned number; 0 when missing.
  Status ReadUintAttr(const std::string& path, double& out) {
    out = 0;
    auto r = ReadOptional(path);
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
    uint64_t v;
    if (!procfs::ParseUint(procfs::TrimSpace(buf_), v)) return Bad(path);
    out = static_cast<double>(v);
    return Status::Ok();
  }

  // A sysfs attribute as trimmed text; "" when it cannot be read.
  void ReadText(const std::string& path, std::string& out) {
    out.clear();
    if (procfs::ReadFile(path, buf_).ok()) out.assign(procfs::TrimSpace(buf_));
  }

  Status ReadDevices(const std::string& dir, const std::string& uuid) {
    auto entries = procfs::ListDir(dir);
    if (!entries.ok()) return entries.status();
    for (const std::string& entry : *entries) {
      if (entry.rfind("dev-", 0) != 0) continue;
      std::string dev_dir = dir + "/" + entry;
      if (!IsRealDir(dev_dir)) continue;
      std::string_view dev = std::string_view(entry).substr(4);

      ReadText(dev_dir + "/label", label_);
      ReadText(dev_dir + "/state", state_);
      pending_.Add("node_bcachefs_device_info", "Device of a bcachefs filesystem (always 1).",
                   MetricType::kGauge, 1,
                   {{"uuid", uuid}, {"device", dev}, {"label", label_}, {"state", state_}});

      double bucket_size = 0;
      ReadText(dev_dir + "/bucket_size", text_);
      if (!text_.empty() && !ParseHumanBytes(text_, bucket_size)) {
        return Bad(dev_dir + "/bucket_size");
      }
      pending_.Add("node_bcachefs_device_bucket_size_bytes", "Bucket size of the device.",
                   MetricType::kGauge, bucket_size, {{"uuid", uuid}, {"device", dev}});

      double v;
      LOOKOUT_RETURN_IF_ERROR(ReadUintAttr(dev_dir + "/nbuckets", v));
      pending_.Add("node_bcachefs_device_buckets", "Buckets on the device.", MetricType::kGauge, v,
                   {{"uuid", uuid}, {"device", dev}});
      LOOKOUT_RETURN_IF_ERROR(ReadUintAttr(dev_dir + "/durability", v));
      pending_.Add("node_bcachefs_device_durability", "Durability setting of the device.",
                   MetricType::kGauge, v, {{"uuid", uuid}, {"device", dev}});

      LOOKOUT_RETURN_IF_ERROR(ReadIoDone(dev_dir + "/io_done", uuid, dev));
      LOOKOUT_RETURN_IF_ERROR(ReadIoErrors(dev_dir + "/io_errors", uuid, dev));
    }
    return Status::Ok();
  }

  // "read:" / "write:" section lines, each followed by "<data type> : <bytes>" lines.
  Status ReadIoDone(const std::string& path, const std::string& uuid, std::string_view dev) {
    auto r = ReadOptional(path);
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
    size_t scope = pending_.size();
    std::string_view op;
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      line = procfs::TrimSpace(line);
      if (line.empty()) return;
      if (line == "read:" || line == "write:") {
        op = line.substr(0, line.size() - 1);
        return;
      }
      if (op.empty()) return;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) return;
      uint64_t v;
      if (!procfs::ParseUint(procfs::TrimSpace(line.substr(colon + 1)), v)) {
        st = Bad(path);
        return;
      }
      pending_.Add("node_bcachefs_device_io_done_bytes_total",
                   "Bytes of I/O done on the device, by operation and data type.",
                   MetricType::kCounter, static_cast<double>(v),
                   {{"uuid", uuid},
                    {"device", dev},
                    {"operation", op},
                    {"data_type", procfs::TrimSpace(line.substr(0, colon))}},
                   scope);
    });
    return st;
  }

  // The "IO errors since filesystem creation" section: "<type>: <count>" lines.
  Status ReadIoErrors(const std::string& path, const std::string& uuid, std::string_view dev) {
    auto r = ReadOptional(path);
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
    size_t scope = pending_.size();
    constexpr std::string_view kCreation = "IO errors since filesystem creation";
    constexpr std::string_view kSince = "IO errors since ";
    bool in_section = false;
    bool done = false;
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok() || done) return;
      if (line.substr(0, kCreation.size()) == kCreation) {
        in_section = true;
        return;
      }
      if (line.substr(0, kSince.size()) == kSince) {
        done = true;
        return;
      }
      if (!in_section) return;
      line = procfs::TrimSpace(line);
      size_t colon = line.find(':');
      if (line.empty() || colon == std::string_view::npos) return;
      uint64_t v;
      if (!procfs::ParseUint(procfs::TrimSpace(line.substr(colon + 1)), v)) {
        st = Bad(path);
        return;
      }
      pending_.Add(
          "node_bcachefs_device_io_errors_total", "I/O errors on the device, by type.",
          MetricType::kCounter, static_cast<double>(v),
          {{"uuid", uuid}, {"device", dev}, {"type", procfs::TrimSpace(line.substr(0, colon))}},
          scope);
    });
    return st;
  }

  std::string base_;
  std::string buf_;
  std::string name_;
  std::string label_;
  std::string state_;
  std::string text_;
  std::vector<std::string_view> fields_;
  PendingSamples pending_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "bcachefs",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<BcachefsCollector>(ctx));
    },
});

}  // namespace agent
