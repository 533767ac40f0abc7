#pragma once
// Helpers shared by the sysfs hardware collectors (hwmon, thermal_zone, netclass, ...):
// node_exporter's include/exclude device filter, Go-compatible string clean-ups and sysfs
// attribute reads into caller-owned buffers.
// Errors: RegexFilter::Make returns InvalidArgument for a pattern that does not compile; the read
// helpers follow fs.h (NotFound for a missing file, IOError otherwise).
// Thread affinity: none; a RegexFilter is immutable after Make and may be shared.

#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace agent::procfs {

// node_exporter's deviceFilter: a name is ignored when it matches the exclude pattern, or when an
// include pattern is set and the name does not match it. Patterns are Go regexps matched anywhere
// in the name (unanchored); they are compiled with std::regex (ECMAScript), which covers the
// syntax used in practice. A leading "(?i)" is honoured as case-insensitive matching.
class RegexFilter {
 public:
  RegexFilter() = default;
  // Empty strings mean "no pattern".
  static common::Result<RegexFilter> Make(std::string_view exclude, std::string_view include);
  bool Ignored(std::string_view name) const;
  bool empty() const { return !exclude_ && !include_; }

 private:
  std::shared_ptr<const std::regex> exclude_;
  std::shared_ptr<const std::regex> include_;
};

// Compiles one Go-style pattern (see RegexFilter); InvalidArgument naming `what` on failure.
common::Result<std::shared_ptr<const std::regex>> CompileGoRegex(std::string_view pattern,
                                                                 std::string_view what);
// Unanchored search, as Go's Regexp.MatchString.
bool RegexSearch(const std::regex& re, std::string_view s);

// Go's strings.ToValidUTF8(s, "\uFFFD"): each run of invalid bytes becomes one U+FFFD.
// Returns `s` unchanged (no copy into `out`) when it is valid; otherwise fills `out` and returns
// a view of it.
std::string_view ToValidUtf8(std::string_view s, std::string& out);

// Strips leading and trailing '\n' only (Go's strings.Trim(s, "\n")).
std::string_view TrimNewlines(std::string_view s);

// Reads a sysfs attribute into `buf` and returns it with surrounding whitespace removed
// (Go's strings.TrimSpace over the file, as the procfs library's sysfs readers do).
common::Result<std::string_view> ReadAttr(const std::string& path, std::string& buf);

// Builds dir + "/" + name into `out` (reusing its capacity) and returns it.
const std::string& JoinPath(std::string& out, std::string_view dir, std::string_view name);

}  // namespace agent::procfs
