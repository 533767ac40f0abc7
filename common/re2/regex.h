#pragma once
// Regex: RE2 (Debian's libre2) behind a small value type, so re2.h stays in this folder.
// RE2 runs in time linear in the input, so user-supplied patterns cannot blow up.
// Thread-safe: a compiled Regex may be shared by threads.

#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace common::re2 {

class Regex {
 public:
  // Compiles `pattern` fully anchored as Prometheus does: ^(?s:pattern)$ (dot matches newline).
  static Result<Regex> CompileAnchored(std::string_view pattern);
  // Compiles `pattern` as it is (unanchored search semantics in PartialMatch).
  static Result<Regex> Compile(std::string_view pattern);

  bool FullMatch(std::string_view s) const;
  bool PartialMatch(std::string_view s) const;
  // Replaces the match of the whole (anchored) pattern with `rewrite` ($1 / ${1} / ${name}
  // expand groups, as Go's Regexp.Expand). Returns false when `s` does not match.
  bool ExpandMatch(std::string_view s, std::string_view rewrite, std::string& out) const;
  const std::string& pattern() const { return pattern_; }
  // When the pattern is a plain string (no metacharacters), returns true and sets `lit`.
  bool IsLiteral(std::string& lit) const;

  struct Impl;  // defined in regex.cc

 private:
  std::shared_ptr<const Impl> impl_;
  std::string pattern_;
};

}  // namespace common::re2
