#include "agent/collector.h"

#include <algorithm>

namespace agent {

std::string Paths::Join(std::string_view a, std::string_view b) {
  std::string s(a);
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (b.empty()) return s;
  if (s.empty() || s.back() != '/') s += '/';
  s += b;
  return s;
}

void FlagValues::Set(const std::string& name, std::string v) {
  for (auto& [n, vals] : values_) {
    if (n == name) {
      vals.assign(1, std::move(v));
      return;
    }
  }
  values_.push_back({name, {std::move(v)}});
}

void FlagValues::Append(const std::string& name, std::string v) {
  for (auto& [n, vals] : values_) {
    if (n == name) {
      vals.push_back(std::move(v));
      return;
    }
  }
  values_.push_back({name, {std::move(v)}});
}

std::string FlagValues::Get(std::string_view name) const {
  for (const auto& [n, vals] : values_) {
    if (n == name && !vals.empty()) return vals.back();
  }
  return "";
}

bool FlagValues::GetBool(std::string_view name) const { return Get(name) == "true"; }

std::vector<std::string> FlagValues::GetList(std::string_view name) const {
  for (const auto& [n, vals] : values_) {
    if (n == name) return vals;
  }
  return {};
}

namespace {
std::vector<CollectorInfo>& Table() {
  static std::vector<CollectorInfo> table;
  return table;
}
}  // namespace

bool RegisterCollector(CollectorInfo info) {
  auto& t = Table();
  auto pos = std::lower_bound(t.begin(), t.end(), info.name,
                              [](const CollectorInfo& c, const std::string& n) { return c.name < n; });
  t.insert(pos, std::move(info));
  return true;
}

const std::vector<CollectorInfo>& AllCollectors() { return Table(); }

}  // namespace agent
