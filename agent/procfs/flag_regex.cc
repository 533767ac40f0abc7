#include "agent/procfs/flag_regex.h"

#include <string>

namespace agent::procfs {

common::Result<FlagRegex> FlagRegex::Compile(std::string_view pattern) {
  std::string p(pattern);
  auto flags = std::regex::ECMAScript | std::regex::optimize;
  if (p.rfind("(?i)", 0) == 0) {
    p.erase(0, 4);
    flags |= std::regex::icase;
  }
  // RE2 named groups (?P<name>...) become plain groups; names are never used by the filters.
  for (size_t at = p.find("(?P<"); at != std::string::npos; at = p.find("(?P<", at)) {
    size_t close = p.find('>', at);
    if (close == std::string::npos) break;
    p.replace(at, close - at + 1, "(");
  }
  FlagRegex r;
  try {
    r.re_.assign(p, flags);
  } catch (const std::regex_error& e) {
    return common::Status::InvalidArgument("bad regular expression \"" + std::string(pattern) +
                                           "\": " + e.what());
  }
  return r;
}

bool FlagRegex::Search(std::string_view s) const {
  try {
    return std::regex_search(s.begin(), s.end(), re_);
  } catch (const std::regex_error&) {
    // Only on pathological backtracking (error_complexity/error_stack): treat as no match.
    return false;
  }
}

}  // namespace agent::procfs
