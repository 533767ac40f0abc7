#include "agent/procfs/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>

namespace agent::procfs {

Status ReadFile(const std::string& path, std::string& buf, size_t limit) {
  buf.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  size_t cap = 4096;
  for (;;) {
    if (buf.size() + cap > limit) cap = limit - buf.size();
    if (cap == 0) break;
    size_t old = buf.size();
    buf.resize(old + cap);
    ssize_t n = ::read(fd, buf.data() + old, cap);
    if (n < 0) {
      if (errno == EINTR) {
        buf.resize(old);
        continue;
      }
      int e = errno;
      ::close(fd);
      buf.resize(old);
      return Status::FromErrno(e, "read " + path);
    }
    buf.resize(old + static_cast<size_t>(n));
    if (n == 0) break;
    if (cap < 65536) cap *= 2;
  }
  ::close(fd);
  return Status::Ok();
}

Result<std::string> ReadTrimmed(const std::string& path) {
  std::string buf;
  Status s = ReadFile(path, buf);
  if (!s.ok()) return s;
  while (!buf.empty() && (buf.back() == '\n' || buf.back() == ' ' || buf.back() == '\t' ||
                          buf.back() == '\r' || buf.back() == '\0')) {
    buf.pop_back();
  }
  return buf;
}

Result<uint64_t> ReadUint(const std::string& path) {
  auto r = ReadTrimmed(path);
  if (!r.ok()) return r.status();
  uint64_t v;
  if (!ParseUint(TrimSpace(*r), v)) return Status::InvalidArgument("bad number in " + path);
  return v;
}

Result<int64_t> ReadInt(const std::string& path) {
  auto r = ReadTrimmed(path);
  if (!r.ok()) return r.status();
  int64_t v;
  if (!ParseInt(TrimSpace(*r), v)) return Status::InvalidArgument("bad number in " + path);
  return v;
}

Result<double> ReadDouble(const std::string& path) {
  auto r = ReadTrimmed(path);
  if (!r.ok()) return r.status();
  double v;
  if (!ParseDouble(TrimSpace(*r), v)) return Status::InvalidArgument("bad number in " + path);
  return v;
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "opendir " + path);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::string> ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return Status::FromErrno(errno, "readlink " + path);
  return std::string(buf, static_cast<size_t>(n));
}

static bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void SplitFields(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !IsSpace(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
}

void Split(std::string_view s, char sep, std::vector<std::string_view>& out) {
  out.clear();
  for (;;) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool ParseUint(std::string_view s, uint64_t& out, int base) {
  if (s.empty()) return false;
  if (base == 16 && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  auto r = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool ParseInt(std::string_view s, int64_t& out, int base) {
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double& out) {
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return true;
  // Go accepts Inf/NaN spellings too.
  if (s == "Inf" || s == "inf" || s == "+Inf") { out = __builtin_inf(); return true; }
  if (s == "-Inf" || s == "-inf") { out = -__builtin_inf(); return true; }
  if (s == "NaN" || s == "nan") { out = __builtin_nan(""); return true; }
  return false;
}

std::string CleanPath(std::string_view p) {
  if (p.empty()) return ".";
  bool rooted = p.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view e = p.substr(i, j - i);
    i = j + 1;
    if (e.empty() || e == ".") continue;
    if (e == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(e);
      }
      continue;
    }
    parts.push_back(e);
  }
  std::string out;
  if (rooted) out.push_back('/');
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out.push_back('/');
    out.append(parts[k].data(), parts[k].size());
  }
  if (out.empty()) out.push_back('.');
  return out;
}

}  // namespace agent::procfs
