#include "collector/model/labels.h"

#include <algorithm>

namespace collector::model {

bool IsValidLabelName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

Labels::Labels(std::vector<Label> ls) {
  std::sort(ls.begin(), ls.end(), [](const Label& a, const Label& b) { return a.name < b.name; });
  if (!ls.empty()) ls_ = std::make_shared<const std::vector<Label>>(std::move(ls));
}

Labels::Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> ls) {
  std::vector<Label> v;
  for (const auto& [n, val] : ls) v.push_back(Label{std::string(n), std::string(val)});
  *this = Labels(std::move(v));
}

const std::vector<Label>& Labels::Empty() {
  static const std::vector<Label> kEmpty;
  return kEmpty;
}

std::string_view Labels::Get(std::string_view name) const {
  for (const auto& l : items()) {
    if (l.name == name) return l.value;
  }
  return "";
}

bool Labels::Has(std::string_view name) const {
  for (const auto& l : items()) {
    if (l.name == name) return true;
  }
  return false;
}

uint64_t Labels::Hash() const {
  // FNV-1a over name\xff value\xff, then a final avalanche (splitmix64).
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& l : items()) {
    mix(l.name);
    mix(l.value);
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

std::string Labels::ToString() const {
  std::string s = "{";
  for (const auto& l : items()) {
    if (s.size() > 1) s += ", ";
    s += l.name;
    s += "=\"";
    for (char c : l.value) {
      if (c == '"' || c == '\\') s += '\\';
      if (c == '\n') {
        s += "\\n";
        continue;
      }
      s += c;
    }
    s += '"';
  }
  s += '}';
  return s;
}

size_t Labels::ByteSize() const {
  size_t n = 0;
  for (const auto& l : items()) n += l.name.size() + l.value.size();
  return n;
}

int Labels::Compare(const Labels& a, const Labels& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = a.items()[i].name.compare(b.items()[i].name); c != 0) return c < 0 ? -1 : 1;
    if (int c = a.items()[i].value.compare(b.items()[i].value); c != 0) return c < 0 ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

LabelsBuilder::LabelsBuilder(const Labels& base) : ls_(base.items()) {}

LabelsBuilder& LabelsBuilder::Set(std::string_view name, std::string_view value) {
  for (auto& l : ls_) {
    if (l.name == name) {
      l.value = std::string(value);
      return *this;
    }
  }
  ls_.push_back(Label{std::string(name), std::string(value)});
  return *this;
}

LabelsBuilder& LabelsBuilder::Del(std::string_view name) {
  ls_.erase(std::remove_if(ls_.begin(), ls_.end(), [&](const Label& l) { return l.name == name; }),
            ls_.end());
  return *this;
}

Labels LabelsBuilder::Build() const {
  std::vector<Label> out;
  for (const auto& l : ls_) {
    if (!l.value.empty()) out.push_back(l);
  }
  return Labels(std::move(out));
}

}  // namespace collector::model
