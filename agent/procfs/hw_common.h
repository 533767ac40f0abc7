#pragma once
// Helpers shared by the sysfs hardware collectors (hwmon, thermal_zone, netclass, ...):
// node_exporter's include/exclude device filter, Go-compatible string clean-ups and sysfs
// attribute reads into caller-owned buffers.
// Errors: RegexFilter::Make returns InvalidArgument for a pattern that does not compile; the read
// helpers follow fs.h (NotFound for a missing file, IOError otherwise).
// Thread affinity: none; a RegexFilter is immutable after Make and may be shared.

#include <optional>
#include <string>
#include <string_view>

#include "agent/procfs/flag_regex.h"
#include "common/base/status.h"
#include "common/base/utf8.h"

namespace agent::procfs {

// node_exporter's deviceFilter: a name is ignored when it matches the exclude pattern, or when an
// include pattern is set and the name does not match it. Patterns are Go regexps matched anywhere
// in the name (unanchored), through FlagRegex.
class RegexFilter {
 public:
  RegexFilter() = default;
  // Empty strings mean "no pattern".
  static common::Result<RegexFilter> Make(std::string_view exclude, std::string_view include);
  bool Ignored(std::string_view name) const;
  bool empty() const { return !exclude_ && !include_; }

 private:
  std::optional<FlagRegex> exclude_;
  std::optional<FlagRegex> include_;
};

// Go's strings.ToValidUTF8(s, "\uFFFD"): each run of invalid bytes becomes one U+FFFD.
// Returns `s` unchanged (no copy into `out`) when it is valid; otherwise fills `out` and returns
// a view of it.
using common::ToValidUtf8;  // common/base/utf8.h

// Strips leading and trailing '\n' only (Go's strings.Trim(s, "\n")).
std::string_view TrimNewlines(std::string_view s);

// Reads a sysfs attribute into `buf` and returns it with surrounding whitespace removed
// (Go's strings.TrimSpace over the file, as the procfs library's sysfs readers do).
common::Result<std::string_view> ReadAttr(const std::string& path, std::string& buf);

// prometheus/procfs's util.SysReadFile: open, a single read(2) of at most 128 bytes (broken
// drivers may return EAGAIN, which must not be retried), then TrimSpace. `err` is 0 on success,
// else the errno of the open (at_open true: Go's *PathError) or of the read (a bare errno);
// the procfs library decides per attribute which of these it tolerates.
struct SysReadResult {
  int err = 0;
  bool at_open = false;
  std::string_view value;  // into the caller's buffer
  bool ok() const { return err == 0; }
  // os.IsNotExist / os.IsPermission.
  bool NotExist() const;
  bool Permission() const;
};
SysReadResult SysReadFile(const std::string& path, std::string& buf);
// Status for a failed read ("read PATH: strerror").
common::Status SysReadStatus(const SysReadResult& r, const std::string& path);

// hwmon naming (node_exporter's cleanMetricName): lower-cases `in`, replaces every rune outside
// [a-z0-9:_] with '_' and trims '_' from both ends, into `out`.
void CleanMetricName(std::string_view in, std::string& out);
// Splits an hwmon attribute file name as ^([^0-9]+)([0-9]*)?(_(.+))?$ does (leftmost-first):
// "temp1_crit_alarm" -> type "temp", num 1, prop "crit_alarm"; "beep_enable" -> type
// "beep_enable", num 0, prop "". False when the name does not fit the pattern.
bool SplitSensorFilename(std::string_view name, std::string_view& type, int& num,
                         std::string_view& prop);

// Builds dir + "/" + name into `out` (reusing its capacity) and returns it.
const std::string& JoinPath(std::string& out, std::string_view dir, std::string_view name);

}  // namespace agent::procfs
