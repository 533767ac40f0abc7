#pragma once
// FlagRegex: the regular expressions of node_exporter's include/exclude flags.
//
// node_exporter compiles these with Go's RE2 syntax and tests them with MatchString, an
// unanchored search. This wraps std::regex (ECMAScript), which agrees with RE2 on the patterns
// the flags use in practice (alternation, classes, anchors, repetition); it also accepts RE2's
// leading "(?i)" and "(?P<name>" groups. Compile errors (and std::regex's exceptions) become a
// Status here, so callers never see an exception. <regex> stays inside the .cc.
// Thread affinity: a compiled FlagRegex is immutable; Search() may run on any thread.

#include <memory>
#include <string_view>

#include "common/base/status.h"

namespace agent::procfs {

class FlagRegex {
 public:
  FlagRegex(FlagRegex&&) noexcept;
  FlagRegex& operator=(FlagRegex&&) noexcept;
  ~FlagRegex();

  // InvalidArgument naming the pattern when it does not compile.
  static common::Result<FlagRegex> Compile(std::string_view pattern);
  // True when the pattern matches anywhere in `s` (Go's Regexp.MatchString).
  bool Search(std::string_view s) const;

 private:
  struct Impl;
  explicit FlagRegex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agent::procfs
