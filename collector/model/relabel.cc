#include "collector/model/relabel.h"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "common/tls/hash.h"

namespace collector::model {

namespace {

constexpr std::string_view kDefaultRegex = "(.*)";
constexpr std::string_view kDefaultReplacement = "$1";
constexpr std::string_view kDefaultSeparator = ";";

std::string_view ActionName(RelabelAction a) {
  switch (a) {
    case RelabelAction::kReplace:
      return "replace";
    case RelabelAction::kKeep:
      return "keep";
    case RelabelAction::kDrop:
      return "drop";
    case RelabelAction::kKeepEqual:
      return "keepequal";
    case RelabelAction::kDropEqual:
      return "dropequal";
    case RelabelAction::kHashMod:
      return "hashmod";
    case RelabelAction::kLabelMap:
      return "labelmap";
    case RelabelAction::kLabelDrop:
      return "labeldrop";
    case RelabelAction::kLabelKeep:
      return "labelkeep";
    case RelabelAction::kLowercase:
      return "lowercase";
    case RelabelAction::kUppercase:
      return "uppercase";
  }
  return "unknown";
}


// Prometheus' relabelTarget: a label name that may contain $1 / ${name} references.
bool IsValidNameTemplate(std::string_view s) {
  static const auto* re = [] {
    auto r = common::re2::Regex::CompileAnchored(R"((?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+)");
    return r.ok() ? new common::re2::Regex(std::move(r.value())) : nullptr;
  }();
  return re != nullptr && re->FullMatch(s);
}

bool HasVar(std::string_view s) { return s.find('$') != std::string_view::npos; }

// --- Unicode case mapping, as Go's strings.ToLower / strings.ToUpper ------------------------

// glibc's C.UTF-8 locale carries Unicode's simple case mappings (the same unicode.ToLower/
// ToUpper use). Created once, never freed; nullptr when the locale is missing (then only ASCII
// letters change case).
locale_t Utf8Locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

// Decodes one UTF-8 sequence at s[i]; invalid input yields U+FFFD with width 1 (as Go).
char32_t DecodeRune(std::string_view s, size_t i, size_t& width) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  width = 1;
  if (c < 0x80) return c;
  size_t n;
  char32_t r, min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, r = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, r = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, r = c & 0x07, min = 0x10000;
  } else {
    return 0xFFFD;
  }
  if (i + n > s.size()) return 0xFFFD;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0xFFFD;
    r = (r << 6) | (b(k) & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return 0xFFFD;
  width = n;
  return r;
}

void AppendRune(std::string& out, char32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

std::string ChangeCase(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
  if (ascii) {
    for (char c : s) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out += c;
    }
    return out;
  }
  locale_t loc = Utf8Locale();
  for (size_t i = 0; i < s.size();) {
    size_t w;
    char32_t r = DecodeRune(s, i, w);
    i += w;
    if (loc != nullptr) {
      wint_t m =
          upper ? towupper_l(static_cast<wint_t>(r), loc) : towlower_l(static_cast<wint_t>(r), loc);
      r = static_cast<char32_t>(m);
    } else if (r < 0x80) {
      if (upper && r >= 'a' && r <= 'z') r = r - 'a' + 'A';
      if (!upper && r >= 'A' && r <= 'Z') r = r - 'A' + 'a';
    }
    AppendRune(out, r);
  }
  return out;
}

// --- The working label set -----------------------------------------------------------------

// Labels being relabeled: unsorted, no empty values (setting "" deletes, as labels.Builder).
class Work {
 public:
  explicit Work(const Labels& base) {
    ls_.reserve(base.size() + 4);
    for (const auto& l : base) {
      if (!l.value.empty()) ls_.push_back(l);
    }
  }
  std::string_view Get(std::string_view name) const {
    for (const auto& l : ls_) {
      if (l.name == name) return l.value;
    }
    return "";
  }
  void Set(std::string_view name, std::string_view value) {
    if (value.empty()) return Del(name);
    for (auto& l : ls_) {
      if (l.name == name) {
        l.value.assign(value);
        return;
      }
    }
    ls_.push_back(Label{std::string(name), std::string(value)});
  }
  void Del(std::string_view name) {
    ls_.erase(
        std::remove_if(ls_.begin(), ls_.end(), [&](const Label& l) { return l.name == name; }),
        ls_.end());
  }
  // A copy, so the caller may Set/Del while walking it (labels.Builder.Range).
  std::vector<Label> Snapshot() const { return ls_; }
  Labels Build() && { return Labels(std::move(ls_)); }

 private:
  std::vector<Label> ls_;
};

bool Apply(const RelabelConfig& cfg, Work& w) {
  std::string val;
  for (size_t i = 0; i < cfg.source_labels.size(); ++i) {
    if (i > 0) val += cfg.separator;
    val += w.Get(cfg.source_labels[i]);
  }
  const common::re2::Regex& re = *cfg.re;
  switch (cfg.action) {
    case RelabelAction::kDrop:
      return !re.FullMatch(val);
    case RelabelAction::kKeep:
      return re.FullMatch(val);
    case RelabelAction::kDropEqual:
      return w.Get(cfg.target_label) != val;
    case RelabelAction::kKeepEqual:
      return w.Get(cfg.target_label) == val;
    case RelabelAction::kReplace: {
      // Fast path: set (or, with an empty replacement, delete) the target literally.
      if (val.empty() && cfg.regex == kDefaultRegex && !HasVar(cfg.target_label) &&
          !HasVar(cfg.replacement)) {
        w.Set(cfg.target_label, cfg.replacement);
        break;
      }
      std::string target, res;
      if (!re.ExpandMatch(val, cfg.target_label, target)) break;  // no match: no change
      if (!IsValidLabelName(target)) break;
      (void)re.ExpandMatch(val, cfg.replacement, res);
      if (res.empty()) {
        w.Del(target);
      } else {
        w.Set(target, res);
      }
      break;
    }
    case RelabelAction::kLowercase:
      w.Set(cfg.target_label, ChangeCase(val, /*upper=*/false));
      break;
    case RelabelAction::kUppercase:
      w.Set(cfg.target_label, ChangeCase(val, /*upper=*/true));
      break;
    case RelabelAction::kHashMod: {
      std::array<uint8_t, 16> sum = common::tls::Md5(val);
      uint64_t tail = 0;
      for (size_t i = 8; i < 16; ++i) tail = (tail << 8) | sum[i];  // big-endian sum[8:16]
      w.Set(cfg.target_label, std::to_string(tail % cfg.modulus));
      break;
    }
    case RelabelAction::kLabelMap: {
      std::string name;
      for (const auto& l : w.Snapshot()) {
        // Go sets even an empty expansion; an empty name can never be a label, so skip it.
        if (re.ExpandMatch(l.name, cfg.replacement, name) && !name.empty()) w.Set(name, l.value);
      }
      break;
    }
    case RelabelAction::kLabelDrop:
      for (const auto& l : w.Snapshot()) {
        if (re.FullMatch(l.name)) w.Del(l.name);
      }
      break;
    case RelabelAction::kLabelKeep:
      for (const auto& l : w.Snapshot()) {
        if (!re.FullMatch(l.name)) w.Del(l.name);
      }
      break;
  }
  return true;
}

bool RelabelWork(Work& w, std::span<const RelabelConfig> cfgs) {
  for (const auto& cfg : cfgs) {
    if (cfg.re == nullptr) continue;  // not compiled: Compile() must succeed before use
    if (!Apply(cfg, w)) return false;
  }
  return true;
}

}  // namespace

common::Result<RelabelAction> ParseRelabelAction(std::string_view s) {
  std::string lower = ChangeCase(s, /*upper=*/false);
  for (int i = 0; i <= static_cast<int>(RelabelAction::kUppercase); ++i) {
    auto a = static_cast<RelabelAction>(i);
    if (ActionName(a) == lower) return a;
  }
  return common::Status::InvalidArgument("unknown relabel action \"" + std::string(s) + "\"");
}

common::Status RelabelConfig::Compile() {
  using common::Status;
  const std::string act(ActionName(action));
  auto compiled = common::re2::Regex::CompileAnchored(regex);
  if (!compiled.ok()) return compiled.status();
  for (const auto& n : source_labels) {
    if (!IsValidLabelName(n)) {
      return Status::InvalidArgument("\"" + n + "\" is not a valid label name in 'source_labels'");
    }
  }
  if (action == RelabelAction::kHashMod && modulus == 0) {
    return Status::InvalidArgument("relabel configuration for hashmod requires non-zero modulus");
  }
  bool needs_target = action == RelabelAction::kReplace || action == RelabelAction::kHashMod ||
                      action == RelabelAction::kLowercase || action == RelabelAction::kUppercase ||
                      action == RelabelAction::kKeepEqual || action == RelabelAction::kDropEqual;
  if (needs_target && target_label.empty()) {
    return Status::InvalidArgument("relabel configuration for " + act +
                                   " action requires 'target_label' value");
  }
  auto bad_target = [&] {
    return Status::InvalidArgument("\"" + target_label + "\" is invalid 'target_label' for " + act +
                                   " action");
  };
  if (action == RelabelAction::kReplace) {
    bool ok =
        HasVar(target_label) ? IsValidNameTemplate(target_label) : IsValidLabelName(target_label);
    if (!ok) return bad_target();
  }
  bool case_or_equal = action == RelabelAction::kLowercase || action == RelabelAction::kUppercase ||
                       action == RelabelAction::kKeepEqual || action == RelabelAction::kDropEqual;
  if ((case_or_equal || action == RelabelAction::kHashMod) && !IsValidLabelName(target_label)) {
    return bad_target();
  }
  if (case_or_equal && replacement != kDefaultReplacement) {
    return Status::InvalidArgument("'replacement' can not be set for " + act + " action");
  }
  if (action == RelabelAction::kLabelMap && !IsValidNameTemplate(replacement)) {
    return Status::InvalidArgument("\"" + replacement + "\" is invalid 'replacement' for " + act +
                                   " action");
  }
  if (action == RelabelAction::kKeepEqual || action == RelabelAction::kDropEqual) {
    if (regex != kDefaultRegex || modulus != 0 || separator != kDefaultSeparator ||
        replacement != kDefaultReplacement) {
      return Status::InvalidArgument(act +
                                     " action requires only 'source_labels' and `target_label`, "
                                     "and no other fields");
    }
  }
  if (action == RelabelAction::kLabelDrop || action == RelabelAction::kLabelKeep) {
    if (!source_labels.empty() || !target_label.empty() || modulus != 0 ||
        separator != kDefaultSeparator || replacement != kDefaultReplacement) {
      return Status::InvalidArgument(act + " action requires only 'regex', and no other fields");
    }
  }
  re = std::make_shared<const common::re2::Regex>(std::move(compiled.value()));
  return Status::Ok();
}

bool Relabel(LabelsBuilder& lb, std::span<const RelabelConfig> cfgs) {
  Work w(lb.Build());
  if (!RelabelWork(w, cfgs)) return false;
  lb = LabelsBuilder(std::move(w).Build());
  return true;
}

bool Relabel(const Labels& in, std::span<const RelabelConfig> cfgs, Labels& out) {
  Work w(in);
  if (!RelabelWork(w, cfgs)) return false;
  out = std::move(w).Build();
  return true;
}

}  // namespace collector::model
