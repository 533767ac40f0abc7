// os: node_os_info and node_os_version from os-release (etc/os-release, else usr/lib/os-release
// under --path.rootfs), and node_os_support_end_timestamp_seconds when SUPPORT_END is set.

#include <sys/stat.h>
#include <time.h>

#include <cerrno>

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

struct OsRelease {
  std::string name, id, id_like, pretty_name, variant, variant_id, version, version_id,
      version_codename, build_id, image_id, image_version, support_end;
};

bool IsKeyChar(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (!first && c >= '0' && c <= '9');
}

// Parses one shell-style value: 'single' quotes are literal, "double" quotes and bare words take
// backslash escapes, unquoted whitespace ends the value (a trailing # comment is allowed).
Status ParseValue(std::string_view v, std::string& out) {
  out.clear();
  size_t i = 0;
  while (i < v.size()) {
    char c = v[i];
    if (c == '\'') {
      size_t e = v.find('\'', i + 1);
      if (e == std::string_view::npos) return Status::InvalidArgument("unterminated quote");
      out.append(v.substr(i + 1, e - i - 1));
      i = e + 1;
    } else if (c == '"') {
      ++i;
      bool closed = false;
      while (i < v.size()) {
        char d = v[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
        }
        if (d == '\\' && i + 1 < v.size()) {
          char n = v[i + 1];
          if (n == '\\' || n == '"' || n == '$' || n == '`') {
            out.push_back(n);
          } else if (n == 'n') {
            out.push_back('\n');
          } else {
            out.push_back(d);
            out.push_back(n);
          }
          i += 2;
          continue;
        }
        out.push_back(d);
        ++i;
      }
      if (!closed) return Status::InvalidArgument("unterminated quote");
    } else if (c == '\\' && i + 1 < v.size()) {
      out.push_back(v[i + 1]);
      i += 2;
    } else if (c == ' ' || c == '\t') {
      std::string_view rest = procfs::TrimSpace(v.substr(i));
      if (!rest.empty() && rest.front() != '#') {
        return Status::InvalidArgument("unquoted whitespace in value");
      }
      break;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return Status::Ok();
}

Status ParseOsRelease(std::string_view content, const std::string& path, OsRelease& os) {
  os = OsRelease{};
  Status st;
  std::string value;
  int lineno = 0;
  procfs::ForEachLine(content, [&](std::string_view line) {
    ++lineno;
    if (!st.ok()) return;
    line = procfs::TrimSpace(line);
    if (line.empty() || line.front() == '#') return;
    if (line.substr(0, 7) == "export ") line = procfs::TrimSpace(line.substr(7));
    size_t eq = line.find('=');
    std::string_view key = line.substr(0, eq);
    bool key_ok = eq != std::string_view::npos && !key.empty();
    for (size_t i = 0; key_ok && i < key.size(); ++i) key_ok = IsKeyChar(key[i], i == 0);
    if (!key_ok) {
      st = Status::InvalidArgument(path + ":" + std::to_string(lineno) + ": bad line");
      return;
    }
    Status vs = ParseValue(line.substr(eq + 1), value);
    if (!vs.ok()) {
      st = vs.Annotate(path + ":" + std::to_string(lineno));
      return;
    }
    const std::pair<std::string_view, std::string*> fields[] = {
        {"NAME", &os.name},
        {"ID", &os.id},
        {"ID_LIKE", &os.id_like},
        {"PRETTY_NAME", &os.pretty_name},
        {"VARIANT", &os.variant},
        {"VARIANT_ID", &os.variant_id},
        {"VERSION", &os.version},
        {"VERSION_ID", &os.version_id},
        {"VERSION_CODENAME", &os.version_codename},
        {"BUILD_ID", &os.build_id},
        {"IMAGE_ID", &os.image_id},
        {"IMAGE_VERSION", &os.image_version},
        {"SUPPORT_END", &os.support_end}};
    for (const auto& [k, dst] : fields) {
      if (k == key) *dst = value;
    }
  });
  return st;
}

// The major.minor prefix of VERSION_ID ("20.04.2" -> 20.04); 0 when it starts with no digit.
double MajorMinor(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
  if (i == 0) return 0;
  if (i < v.size() && v[i] == '.') {
    ++i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
  }
  std::string_view s = v.substr(0, i);
  if (s.back() == '.') s.remove_suffix(1);
  double d = 0;
  procfs::ParseDouble(s, d);
  return d;
}

// Parses YYYY-MM-DD (Go's time.DateOnly) into seconds since the epoch at UTC midnight.
bool ParseDate(std::string_view s, double& out) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  uint64_t y, m, d;
  if (!procfs::ParseUint(s.substr(0, 4), y) || !procfs::ParseUint(s.substr(5, 2), m) ||
      !procfs::ParseUint(s.substr(8, 2), d)) {
    return false;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m < 1 || m > 12 || d < 1 || static_cast<int>(d) > kDays[m - 1] ||
      (m == 2 && d == 29 && !leap)) {
    return false;
  }
  struct tm t = {};
  t.tm_year = static_cast<int>(y) - 1900;
  t.tm_mon = static_cast<int>(m) - 1;
  t.tm_mday = static_cast<int>(d);
  out = static_cast<double>(::timegm(&t));
  return true;
}

class OsCollector : public Collector {
 public:
  explicit OsCollector(const CollectorContext& ctx)
      : files_{ctx.paths.Root("etc/os-release"), ctx.paths.Root("usr/lib/os-release")} {}

  Status Update(MetricSet& out) override {
    bool found = false;
    for (const std::string& path : files_) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) continue;
        return Status::FromErrno(errno, "stat " + path);
      }
      found = true;
      if (path != cached_path_ || st.st_mtim.tv_sec != mtime_.tv_sec ||
          st.st_mtim.tv_nsec != mtime_.tv_nsec) {
        cached_path_.clear();
        LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path, buf_));
        LOOKOUT_RETURN_IF_ERROR(ParseOsRelease(buf_, path, os_));
        version_ = MajorMinor(os_.version_id);
        if (!os_.support_end.empty() && !ParseDate(os_.support_end, support_end_)) {
          return Status::InvalidArgument("bad SUPPORT_END in " + path);
        }
        cached_path_ = path;
        mtime_ = st.st_mtim;
      }
      break;
    }
    if (!found) return Status::Unavailable("no os-release file under the root file system");
    out.Gauge("node_os_info", "Identification of the operating system from os-release; always 1.",
              1,
              {{"build_id", os_.build_id},
               {"id", os_.id},
               {"id_like", os_.id_like},
               {"image_id", os_.image_id},
               {"image_version", os_.image_version},
               {"name", os_.name},
               {"pretty_name", os_.pretty_name},
               {"variant", os_.variant},
               {"variant_id", os_.variant_id},
               {"version", os_.version},
               {"version_codename", os_.version_codename},
               {"version_id", os_.version_id}});
    if (version_ > 0) {
      out.Gauge("node_os_version", "Major.minor part of the operating system's VERSION_ID.",
                version_, {{"id", os_.id}, {"id_like", os_.id_like}, {"name", os_.name}});
    }
    if (!os_.support_end.empty()) {
      out.Gauge("node_os_support_end_timestamp_seconds",
                "End of support of the operating system (SUPPORT_END), in seconds since the epoch.",
                support_end_);
    }
    return Status::Ok();
  }

 private:
  std::string files_[2];
  std::string buf_;
  std::string cached_path_;
  struct timespec mtime_ = {};
  OsRelease os_;
  double version_ = 0;
  double support_end_ = 0;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "os",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<OsCollector>(ctx));
    },
});

}  // namespace agent
