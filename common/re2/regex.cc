#include "common/re2/regex.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace common::re2 {

struct Regex::Impl {
  std::unique_ptr<::re2::RE2> re;
};

namespace {
Result<std::shared_ptr<const Regex::Impl>> Build(const std::string& full, std::string_view shown) {
  ::re2::RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  auto impl = std::make_shared<Regex::Impl>();
  impl->re = std::make_unique<::re2::RE2>(full, o);
  if (!impl->re->ok()) {
    return Status::InvalidArgument("invalid regular expression \"" + std::string(shown) +
                                   "\": " + impl->re->error());
  }
  return std::shared_ptr<const Regex::Impl>(impl);
}
}  // namespace

Result<Regex> Regex::CompileAnchored(std::string_view pattern) {
  auto impl = Build("^(?s:" + std::string(pattern) + ")$", pattern);
  if (!impl.ok()) return impl.status();
  Regex r;
  r.impl_ = *impl;
  r.pattern_ = std::string(pattern);
  return r;
}

Result<Regex> Regex::Compile(std::string_view pattern) {
  auto impl = Build(std::string(pattern), pattern);
  if (!impl.ok()) return impl.status();
  Regex r;
  r.impl_ = *impl;
  r.pattern_ = std::string(pattern);
  return r;
}

bool Regex::FullMatch(std::string_view s) const {
  return ::re2::RE2::FullMatch(::re2::StringPiece(s.data(), s.size()), *impl_->re);
}

bool Regex::PartialMatch(std::string_view s) const {
  return ::re2::RE2::PartialMatch(::re2::StringPiece(s.data(), s.size()), *impl_->re);
}

namespace {

// Length of the template name at the start of `s`: the longest run of Unicode letters (\p{L}),
// decimal digits (\p{Nd}) and '_', as Go's regexp.extract (unicode.IsLetter/IsDigit).
size_t NameLength(std::string_view s) {
  static const ::re2::RE2 kName("[\\p{L}\\p{Nd}_]+");
  ::re2::StringPiece m;
  if (!kName.Match(::re2::StringPiece(s.data(), s.size()), 0, s.size(), ::re2::RE2::ANCHOR_START,
                   &m, 1)) {
    return 0;
  }
  return m.size();
}

// Go's extract(): the group number `name` denotes, or -1 when it is not a number (then it is
// looked up as a group name). Leading zeros make it a name ("01"), as do 10+ digits.
int GroupNumber(std::string_view name) {
  int num = 0;
  for (char ch : name) {
    if (ch < '0' || ch > '9' || num >= 100000000) return -1;
    num = num * 10 + (ch - '0');
  }
  if (name.size() > 1 && name[0] == '0') return -1;
  return num;
}

}  // namespace

bool Regex::ExpandMatch(std::string_view s, std::string_view rewrite, std::string& out) const {
  const ::re2::RE2& re = *impl_->re;
  int n = re.NumberOfCapturingGroups() + 1;
  std::vector<::re2::StringPiece> groups(static_cast<size_t>(n));
  if (!re.Match(::re2::StringPiece(s.data(), s.size()), 0, s.size(), ::re2::RE2::ANCHOR_BOTH,
                groups.data(), n)) {
    return false;
  }
  const auto& names = re.NamedCapturingGroups();
  out.clear();
  // Go's regexp.Expand: "$$" is a literal '$'; "$name" and "${name}" take the longest name of
  // letters, digits and '_'; a name that is a number (no leading zero) is a group index, else a
  // group name; an unknown or unmatched group expands to "". A malformed reference ("$", "${}",
  // "${x", "$-") keeps the '$' as text.
  size_t i = 0;
  while (i < rewrite.size()) {
    size_t dollar = rewrite.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(rewrite.substr(i));
      break;
    }
    out.append(rewrite.substr(i, dollar - i));
    i = dollar + 1;
    if (i < rewrite.size() && rewrite[i] == '$') {
      out += '$';
      ++i;
      continue;
    }
    size_t j = i;
    bool braced = j < rewrite.size() && rewrite[j] == '{';
    if (braced) ++j;
    size_t len = NameLength(rewrite.substr(j));
    if (len == 0 || (braced && (j + len >= rewrite.size() || rewrite[j + len] != '}'))) {
      out += '$';  // malformed: the '$' is text, and the rest is read again as text
      continue;
    }
    std::string_view name = rewrite.substr(j, len);
    i = j + len + (braced ? 1 : 0);
    int idx = GroupNumber(name);
    if (idx < 0) {
      auto it = names.find(std::string(name));
      if (it != names.end()) idx = it->second;
    }
    if (idx >= 0 && idx < n) {
      const ::re2::StringPiece& g = groups[static_cast<size_t>(idx)];
      out.append(g.data(), g.size());
    }
  }
  return true;
}

bool Regex::IsLiteral(std::string& lit) const {
  for (char c : pattern_) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) return false;
  }
  lit = pattern_;
  return true;
}

}  // namespace common::re2
