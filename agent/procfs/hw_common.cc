#include "agent/procfs/hw_common.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "agent/procfs/fs.h"

namespace agent::procfs {

common::Result<RegexFilter> RegexFilter::Make(std::string_view exclude, std::string_view include) {
  RegexFilter f;
  if (!exclude.empty()) {
    auto r = FlagRegex::Compile(exclude);
    if (!r.ok()) return r.status().Annotate("exclude pattern");
    f.exclude_ = std::move(*r);
  }
  if (!include.empty()) {
    auto r = FlagRegex::Compile(include);
    if (!r.ok()) return r.status().Annotate("include pattern");
    f.include_ = std::move(*r);
  }
  return f;
}

bool RegexFilter::Ignored(std::string_view name) const {
  if (exclude_ && exclude_->Search(name)) return true;
  if (include_ && !include_->Search(name)) return true;
  return false;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.

}  // namespace


std::string_view TrimNewlines(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}

common::Result<std::string_view> ReadAttr(const std::string& path, std::string& buf) {
  Status s = ReadFile(path, buf, 1 << 20);
  if (!s.ok()) return s;
  return TrimSpace(buf);
}

bool SysReadResult::NotExist() const { return err == ENOENT; }
bool SysReadResult::Permission() const { return err == EACCES || err == EPERM; }

SysReadResult SysReadFile(const std::string& path, std::string& buf) {
  SysReadResult r;
  buf.resize(128);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.err = errno;
    r.at_open = true;
    buf.clear();
    return r;
  }
  ssize_t n;
  do {
    n = ::read(fd, buf.data(), buf.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    r.err = errno;
    ::close(fd);
    buf.clear();
    return r;
  }
  ::close(fd);
  buf.resize(static_cast<size_t>(n));
  r.value = TrimSpace(buf);
  return r;
}

common::Status SysReadStatus(const SysReadResult& r, const std::string& path) {
  return Status::FromErrno(r.err, (r.at_open ? "open " : "read ") + path);
}

// Lower-cases and replaces every rune outside [a-z0-9:_] with '_', then trims '_' from both
// ends (node_exporter's cleanMetricName).
void CleanMetricName(std::string_view in, std::string& out) {
  out.clear();
  size_t i = 0;
  while (i < in.size()) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      char l = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
      bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == ':' || l == '_';
      out += ok ? l : '_';
      ++i;
      continue;
    }
    // A multi-byte rune (or an invalid byte) is one replacement, except the two runes whose
    // lower case is ASCII: KELVIN SIGN -> 'k', LATIN CAPITAL I WITH DOT ABOVE -> 'i'.
    size_t n = 1;
    if (c >= 0xC2 && c <= 0xDF)
      n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      n = 4;
    bool valid = i + n <= in.size();
    for (size_t k = 1; valid && k < n; ++k) {
      valid = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    }
    if (!valid) n = 1;
    std::string_view rune = in.substr(i, n);
    if (rune == "\xE2\x84\xAA")
      out += 'k';
    else if (rune == "\xC4\xB0")
      out += 'i';
    else
      out += '_';
    i += n;
  }
  size_t b = out.find_first_not_of('_');
  if (b == std::string::npos) {
    out.clear();
    return;
  }
  out.erase(out.find_last_not_of('_') + 1);
  out.erase(0, b);
}

// Splits a sensor file name as the pattern ^([^0-9]+)([0-9]*)?(_(.+))?$ does (leftmost-first):
// type, numeric id (0 when absent) and property. False when the name does not fit.
bool SplitSensorFilename(std::string_view name, std::string_view& type, int& num,
                         std::string_view& prop) {
  size_t run = 0;
  while (run < name.size() && !(name[run] >= '0' && name[run] <= '9')) ++run;
  if (run == 0) return false;
  auto tail_ok = [](std::string_view rest, std::string_view& p) {
    if (rest.empty()) {
      p = {};
      return true;
    }
    if (rest.size() >= 2 && rest[0] == '_' && rest.find('\n') == std::string_view::npos) {
      p = rest.substr(1);
      return true;
    }
    return false;
  };
  // Longest type first; only the full non-digit run can be followed by digits.
  for (size_t len = run; len >= 1; --len) {
    std::string_view rest = name.substr(len);
    size_t digits = 0;
    if (len == run) {
      while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    }
    for (size_t d = digits + 1; d-- > 0;) {
      std::string_view p;
      if (!tail_ok(rest.substr(d), p)) continue;
      type = name.substr(0, len);
      prop = p;
      num = 0;
      if (d > 0) {
        int64_t v;
        if (!ParseInt(rest.substr(0, d), v) || v > INT_MAX) return false;
        num = static_cast<int>(v);
      }
      return true;
    }
  }
  return false;
}

const std::string& JoinPath(std::string& out, std::string_view dir, std::string_view name) {
  out.assign(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out.append(name);
  return out;
}

}  // namespace agent::procfs
