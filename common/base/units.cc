#include "common/base/units.h"

#include <cctype>
#include <string>

namespace common {

Result<int64_t> ParseDurationMs(std::string_view s) {
  if (s == "0") return int64_t{0};
  if (s.empty()) return Status::InvalidArgument("empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start || i - start > 15) {
      return Status::InvalidArgument("not a valid duration string: \"" + std::string(s) + "\"");
    }
    int64_t n = std::stoll(std::string(s.substr(start, i - start)));
    size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view u = s.substr(ustart, i - ustart);
    int64_t mult;
    if (u == "ms") mult = 1;
    else if (u == "s") mult = 1000;
    else if (u == "m") mult = 60000;
    else if (u == "h") mult = 3600000;
    else if (u == "d") mult = 86400000;
    else if (u == "w") mult = 7 * 86400000ll;
    else if (u == "y") mult = 365 * 86400000ll;
    else return Status::InvalidArgument("not a valid duration string: \"" + std::string(s) + "\"");
    total += n * mult;
  }
  return total;
}

Result<uint64_t> ParseBytes(std::string_view s) {
  if (s == "0") return uint64_t{0};
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 15) return Status::InvalidArgument("not a valid size: \"" + std::string(s) + "\"");
  uint64_t n = std::stoull(std::string(s.substr(0, i)));
  std::string_view u = s.substr(i);
  static constexpr std::string_view kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  uint64_t mult = 1;
  for (std::string_view k : kUnits) {
    if (u == k) return n * mult;
    mult *= 1024;
  }
  return Status::InvalidArgument("not a valid size unit in \"" + std::string(s) +
                                 "\" (use B, KB, MB, GB, TB, PB or EB)");
}

}  // namespace common
