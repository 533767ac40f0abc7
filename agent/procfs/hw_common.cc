#include "agent/procfs/hw_common.h"

#include "agent/procfs/fs.h"

namespace agent::procfs {

common::Result<std::shared_ptr<const std::regex>> CompileGoRegex(std::string_view pattern,
                                                                 std::string_view what) {
  auto flags = std::regex::ECMAScript | std::regex::optimize;
  if (pattern.substr(0, 4) == "(?i)") {
    pattern.remove_prefix(4);
    flags |= std::regex::icase;
  }
  try {
    return std::shared_ptr<const std::regex>(
        std::make_shared<const std::regex>(pattern.begin(), pattern.end(), flags));
  } catch (const std::regex_error& e) {
    return Status::InvalidArgument(std::string(what) + ": bad regexp \"" + std::string(pattern) +
                                   "\": " + e.what());
  }
}

bool RegexSearch(const std::regex& re, std::string_view s) {
  return std::regex_search(s.begin(), s.end(), re);
}

common::Result<RegexFilter> RegexFilter::Make(std::string_view exclude, std::string_view include) {
  RegexFilter f;
  if (!exclude.empty()) {
    auto r = CompileGoRegex(exclude, "exclude pattern");
    if (!r.ok()) return r.status();
    f.exclude_ = std::move(*r);
  }
  if (!include.empty()) {
    auto r = CompileGoRegex(include, "include pattern");
    if (!r.ok()) return r.status();
    f.include_ = std::move(*r);
  }
  return f;
}

bool RegexFilter::Ignored(std::string_view name) const {
  if (exclude_ && RegexSearch(*exclude_, name)) return true;
  if (include_ && !RegexSearch(*include_, name)) return true;
  return false;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
size_t Utf8SeqLen(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string_view ToValidUtf8(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    size_t n = Utf8SeqLen(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return s;
  out.assign(s.substr(0, i));
  bool in_bad = false;
  while (i < s.size()) {
    size_t n = Utf8SeqLen(s, i);
    if (n == 0) {
      if (!in_bad) out += "\xEF\xBF\xBD";
      in_bad = true;
      ++i;
      continue;
    }
    in_bad = false;
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

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

const std::string& JoinPath(std::string& out, std::string_view dir, std::string_view name) {
  out.assign(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out.append(name);
  return out;
}

}  // namespace agent::procfs
