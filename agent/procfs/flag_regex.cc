#include "agent/procfs/flag_regex.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s regex compiler when
// optimizing with sanitizers; the warning is about the library's own temporaries.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <string>

namespace agent::procfs {

struct FlagRegex::Impl {
  std::regex re;
};

FlagRegex::FlagRegex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FlagRegex::FlagRegex(FlagRegex&&) noexcept = default;
FlagRegex& FlagRegex::operator=(FlagRegex&&) noexcept = default;
FlagRegex::~FlagRegex() = default;

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
  auto impl = std::make_unique<Impl>();
  try {
    impl->re.assign(p, flags);
  } catch (const std::regex_error& e) {
    return common::Status::InvalidArgument("bad regular expression \"" + std::string(pattern) +
                                           "\": " + e.what());
  }
  return FlagRegex(std::move(impl));
}

bool FlagRegex::Search(std::string_view s) const {
  try {
    return std::regex_search(s.begin(), s.end(), impl_->re);
  } catch (const std::regex_error&) {
    // Only on pathological backtracking (error_complexity/error_stack): treat as no match.
    return false;
  }
}

}  // namespace agent::procfs

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
