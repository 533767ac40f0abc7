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
  // Go's Expand: $name or ${name}; name is the longest run of [A-Za-z0-9_]; $$ is a literal $.
  // A name that is a number refers to that group; an unknown name expands to "".
  for (size_t i = 0; i < rewrite.size(); ++i) {
    char c = rewrite[i];
    if (c != '$' || i + 1 >= rewrite.size()) {
      out += c;
      continue;
    }
    if (rewrite[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    bool braced = rewrite[j] == '{';
    if (braced) ++j;
    size_t start = j;
    while (j < rewrite.size() && (std::isalnum(static_cast<unsigned char>(rewrite[j])) ||
                                  rewrite[j] == '_')) {
      ++j;
    }
    name = std::string(rewrite.substr(start, j - start));
    if (braced) {
      if (j >= rewrite.size() || rewrite[j] != '}' || name.empty()) {
        out += c;  // not a valid reference: keep the '$' literally
        continue;
      }
      ++j;
    }
    if (name.empty()) {
      out += c;
      continue;
    }
    int idx = -1;
    bool numeric = std::all_of(name.begin(), name.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
    if (numeric) {
      idx = name.size() < 9 ? std::stoi(name) : -1;
    } else if (auto it = names.find(name); it != names.end()) {
      idx = it->second;
    }
    if (idx >= 0 && idx < n) out.append(groups[static_cast<size_t>(idx)].data(), groups[static_cast<size_t>(idx)].size());
    i = j - 1;
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
