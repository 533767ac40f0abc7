#include "common/expfmt/parser.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>

// How this mirrors Prometheus 2.42 (model/textparse/promlex.l and promparse.go). Every rule
// below was checked against a real Prometheus 2.42.0; parser_test.cc keeps those cases.
// - The body is read as if a '\n' followed it (Prometheus appends one), so a missing final
//   newline is fine: at(size) is that virtual newline.
// - Tokens are separated by runs of spaces and tabs in every state. A sample line must not start
//   with blanks (2.42 keeps them in the metric name, which then fails validation); comment and
//   HELP/TYPE lines may.
// - golex leaves NUL out of negated character classes. Prometheus works around that by skipping
//   NUL bytes while advancing inside label values, comments and HELP/TYPE text, but not at the
//   first byte of a token. So NULs are invisible inside those tokens; a NUL where a line starts,
//   right after `# `, or anywhere in a `#comment` without a blank ends the input (successfully);
//   a NUL anywhere else is an error.
// - The lexer does not backtrack: `# HELP` without a blank after it is an ordinary comment, and
//   the HELP/TYPE text is the rest of the line after the name minus its first byte (so
//   `# TYPE m  counter`, with two spaces, names the type " counter" and is rejected).

namespace common::expfmt {
namespace {

enum : uint8_t {
  kNameStart = 1,   // [a-zA-Z_:]
  kNameChar = 2,    // [a-zA-Z0-9_:]
  kLabelStart = 4,  // [a-zA-Z_]
  kLabelChar = 8,   // [a-zA-Z0-9_]
  kValueChar = 16,  // [^{ \t\n] without NUL
  kDigit = 32,      // [0-9]
};

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t f = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (alpha || c == '_' || c == ':') f |= kNameStart | kNameChar;
    if (digit) f |= kNameChar | kLabelChar | kDigit;
    if (alpha || c == '_') f |= kLabelStart | kLabelChar;
    if (c != 0 && c != '{' && c != ' ' && c != '\t' && c != '\n') f |= kValueChar;
    t[c] = f;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClass = MakeClasses();

inline bool IsBlank(unsigned char c) { return c == ' ' || c == '\t'; }

enum class NumResult { kOk, kSyntax, kRange };

bool EqualsIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Sign of the decimal exponent of a well-formed unsigned decimal that did not fit a double:
// true when it is too large (overflow), false when too small (underflow).
bool TooLarge(std::string_view r) {
  size_t j = 0;
  int64_t e = 0;
  bool found = false;
  int64_t int_digits = 0;
  while (j < r.size() && IsDigit(r[j])) {
    if (!found && r[j] != '0') {
      found = true;
      int_digits = 0;
    }
    if (found) ++int_digits;
    ++j;
  }
  if (found) {
    e = int_digits - 1;
  } else if (j < r.size() && r[j] == '.') {
    int64_t zeros = 0;
    for (size_t k = j + 1; k < r.size() && IsDigit(r[k]); ++k) {
      if (r[k] != '0') break;
      ++zeros;
    }
    e = -(zeros + 1);
  }
  while (j < r.size() && (r[j] | 0x20) != 'e') ++j;
  if (j < r.size()) {
    ++j;
    bool neg = false;
    if (j < r.size() && (r[j] == '+' || r[j] == '-')) neg = r[j++] == '-';
    int64_t x = 0;
    for (; j < r.size(); ++j) x = std::min<int64_t>(x * 10 + (r[j] - '0'), int64_t{1} << 40);
    e += neg ? -x : x;
  }
  return e > 0;
}

// Go's strconv.ParseFloat(s, 64) as Prometheus calls it: decimal notation, inf/infinity (any
// case, optional sign), nan (any case, unsigned); no hex floats or underscores (Prometheus
// rejects 'p', 'P' and '_' before calling Go). Overflow is an error, underflow rounds to zero.
NumResult ParseGoFloat(std::string_view s, double* out) {
  bool neg = false;
  size_t k = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    k = 1;
  }
  const std::string_view r = s.substr(k);
  if (r.empty()) return NumResult::kSyntax;
  const char c0 = static_cast<char>(r[0] | 0x20);
  if (c0 == 'i') {
    if (!EqualsIgnoreCase(r, "inf") && !EqualsIgnoreCase(r, "infinity")) return NumResult::kSyntax;
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return NumResult::kOk;
  }
  if (c0 == 'n') {
    if (k != 0 || !EqualsIgnoreCase(r, "nan")) return NumResult::kSyntax;
    *out = std::numeric_limits<double>::quiet_NaN();
    return NumResult::kOk;
  }
  size_t j = 0;
  size_t digits = 0;
  while (j < r.size() && IsDigit(r[j])) ++j, ++digits;
  if (j < r.size() && r[j] == '.') {
    ++j;
    while (j < r.size() && IsDigit(r[j])) ++j, ++digits;
  }
  if (digits == 0) return NumResult::kSyntax;
  if (j < r.size() && (r[j] | 0x20) == 'e') {
    ++j;
    if (j < r.size() && (r[j] == '+' || r[j] == '-')) ++j;
    if (j >= r.size() || !IsDigit(r[j])) return NumResult::kSyntax;
    while (j < r.size() && IsDigit(r[j])) ++j;
  }
  if (j != r.size()) return NumResult::kSyntax;
  double v = 0;
  const auto res = std::from_chars(r.data(), r.data() + r.size(), v);
  if (res.ec == std::errc() && res.ptr == r.data() + r.size()) {
    *out = neg ? -v : v;
    return NumResult::kOk;
  }
  if (res.ec == std::errc::result_out_of_range) {
    if (TooLarge(r)) return NumResult::kRange;
    *out = neg ? -0.0 : 0.0;
    return NumResult::kOk;
  }
  return NumResult::kSyntax;
}

// Go's utf8.Valid: rejects overlong forms, surrogates and code points above U+10FFFF.
bool ValidUtf8(std::string_view sv) {
  const auto* p = reinterpret_cast<const unsigned char*>(sv.data());
  const auto* end = p + sv.size();
  while (p < end) {
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p >= end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p <= need) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k <= need; ++k) {
      if (p[k] < 0x80 || p[k] > 0xBF) return false;
    }
    p += need + 1;
  }
  return true;
}

// Prometheus' lvalReplacer: \" -> ", \\ -> \, \n -> newline; any other backslash stays.
void UnescapeLabelValue(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\\' && i + 1 < in.size()) {
      const char e = in[i + 1];
      if (e == '"' || e == '\\' || e == 'n') {
        out->push_back(e == 'n' ? '\n' : e);
        ++i;
        continue;
      }
    }
    out->push_back(c);
  }
}

// Go's %q-like rendering of a piece of the input for error messages: control bytes escaped, and
// bytes above 0x7f too unless the piece is valid UTF-8 (messages may end up in JSON).
std::string Quote(std::string_view s) {
  const bool utf8 = ValidUtf8(s);
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

}  // namespace

TextParser::TextParser(std::string_view body) : body_(body) {}

TextParser::Entry TextParser::End() {
  done_ = true;
  return Entry::kEnd;
}

TextParser::Entry TextParser::Fail(size_t at, std::string_view what) {
  done_ = true;
  const size_t n = body_.size();
  at = std::min(at, n);
  const size_t line = 1 + static_cast<size_t>(std::count(body_.begin(), body_.begin() + at, '\n'));
  size_t ls = 0;
  if (at > 0) {
    const size_t p = body_.rfind('\n', at - 1);
    if (p != std::string_view::npos) ls = p + 1;
  }
  size_t le = body_.find('\n', at);
  if (le == std::string_view::npos) le = n;
  std::string_view text = body_.substr(ls, le - ls);
  constexpr size_t kMaxShown = 160;
  const bool cut = text.size() > kMaxShown;
  if (cut) text = text.substr(0, kMaxShown);
  std::string msg = "line " + std::to_string(line) + ": " + std::string(what) + " in " +
                    Quote(text) + (cut ? "..." : "");
  status_ = Status::InvalidArgument(msg);
  return Entry::kError;
}

TextParser::Entry TextParser::Next() { return Next(std::string_view()); }

TextParser::Entry TextParser::Next(std::string_view known) {
  if (done_) return status_.ok() ? Entry::kEnd : Entry::kError;
  labels_.clear();
  labels_parsed_ = false;
  known_hit_ = false;
  any_escape_ = false;
  has_ts_ = false;
  ts_ = 0;
  series_ = {};
  help_ = {};
  const auto* b = reinterpret_cast<const unsigned char*>(body_.data());
  const size_t n = body_.size();
  size_t i = pos_;
  bool indented = false;
  for (;;) {
    if (i >= n) {
      // At n the appended newline (a blank line), past it the end.
      if (i == n) {
        ++i;
        continue;
      }
      return End();
    }
    const unsigned char c = b[i];
    if (c == '\n') {
      ++i;
      indented = false;
    } else if (IsBlank(c)) {
      do ++i;
      while (i < n && IsBlank(b[i]));
      indented = true;
    } else if (kClass[c] & kNameStart) {
      // Prometheus 2.42 keeps the indentation in the metric name and then rejects the name.
      if (indented) return Fail(i, "invalid metric name: a sample line must not be indented");
      return ParseSeries(i, known);
    } else if (c == '#') {
      return ParseComment(i);
    } else if (c == 0) {
      return End();
    } else {
      return Fail(i, "expected a metric name, a comment or a blank line");
    }
  }
}

TextParser::Entry TextParser::ParseComment(size_t i) {
  const auto* b = reinterpret_cast<const unsigned char*>(body_.data());
  const size_t n = body_.size();
  auto at = [&](size_t j) -> unsigned char { return j < n ? b[j] : (j == n ? '\n' : 0); };
  // The lexer's next() in comment states: NUL bytes after the first are stepped over.
  auto adv_skip = [&](size_t& j) -> unsigned char {
    ++j;
    while (j < n && b[j] == 0) ++j;
    return at(j);
  };
  const size_t start = i;
  ++i;
  unsigned char c = at(i);
  if (!IsBlank(c)) return ConsumeComment(start, i, /*skip_nul=*/false);  // `#foo`
  do c = at(++i);
  while (IsBlank(c));
  // `# `: HELP or TYPE followed by blanks starts metadata; anything else is a comment.
  for (;;) {
    if (c == 'H' || c == 'T') {
      const bool help = c == 'H';
      const char* rest = help ? "ELP" : "YPE";
      for (int k = 0; k < 3; ++k) {
        c = adv_skip(i);
        if (c != static_cast<unsigned char>(rest[k])) return ConsumeComment(start, i, true);
      }
      c = adv_skip(i);
      if (!IsBlank(c)) return ConsumeComment(start, i, true);
      do c = adv_skip(i);
      while (IsBlank(c));
      return ParseMeta(i, help);
    }
    if (!IsBlank(c)) return ConsumeComment(start, i, true);
    do c = adv_skip(i);
    while (IsBlank(c));
  }
}

TextParser::Entry TextParser::ConsumeComment(size_t start, size_t i, bool skip_nul) {
  const char* b = body_.data();
  const size_t n = body_.size();
  if (i < n && b[i] == 0) return End();  // the lexer's consumeComment stops at a NUL: EOF
  if (i < n) {
    const void* nl = std::memchr(b + i, '\n', n - i);
    const size_t e = nl ? static_cast<size_t>(static_cast<const char*>(nl) - b) : n;
    if (!skip_nul && std::memchr(b + i, 0, e - i) != nullptr) return End();
    i = e;
  }
  help_ = body_.substr(start, std::min(i, n) - start);
  pos_ = i + 1;
  return Entry::kComment;
}

TextParser::Entry TextParser::ParseMeta(size_t i, bool help) {
  const auto* b = reinterpret_cast<const unsigned char*>(body_.data());
  const size_t n = body_.size();
  auto at = [&](size_t j) -> unsigned char { return j < n ? b[j] : (j == n ? '\n' : 0); };
  unsigned char c = at(i);
  while (IsBlank(c)) c = at(++i);
  if (!(kClass[c] & kNameStart)) {
    return Fail(i,
                help ? "expected a metric name after HELP" : "expected a metric name after TYPE");
  }
  const size_t ns = i;
  do ++i;
  while (i < n && (kClass[b[i]] & kNameChar));
  name_ = body_.substr(ns, i - ns);
  // The text token: the rest of the line, NULs after its first byte stepped over. A run of
  // blanks right before the newline is a separate blank token, leaving the text empty.
  size_t ts = i;
  c = at(i);
  if (IsBlank(c)) {
    ++i;
    while (i < n && (IsBlank(b[i]) || b[i] == 0)) ++i;
    c = at(i);
    if (c == '\n') ts = i;
  }
  if (c != '\n' && c != 0) {
    const void* nl = i < n ? std::memchr(b + i, '\n', n - i) : nullptr;
    i = nl ? static_cast<size_t>(static_cast<const unsigned char*>(nl) - b) : n;
  }
  std::string_view text = body_.substr(std::min(ts, n), std::min(i, n) - std::min(ts, n));
  text = text.size() > 1 ? text.substr(1) : std::string_view();
  if (help) {
    if (!ValidUtf8(text)) return Fail(i, "HELP text is not valid UTF-8");
    help_ = text;
  } else if (text == "counter") {
    type_ = MetricType::kCounter;
  } else if (text == "gauge") {
    type_ = MetricType::kGauge;
  } else if (text == "histogram") {
    type_ = MetricType::kHistogram;
  } else if (text == "summary") {
    type_ = MetricType::kSummary;
  } else if (text == "untyped") {
    type_ = MetricType::kUntyped;
  } else {
    return Fail(ts, "invalid metric type " + Quote(text));
  }
  if (at(i) != '\n') return Fail(i, "linebreak expected after metadata");
  pos_ = i + 1;
  return help ? Entry::kHelp : Entry::kType;
}

TextParser::Entry TextParser::ParseSeries(size_t i, std::string_view known) {
  const auto* b = reinterpret_cast<const unsigned char*>(body_.data());
  const size_t n = body_.size();
  const size_t ns = i;
  // The series text as last time? `known` was accepted, so the same bytes parse to the same
  // name and labels, and are valid. It ends at the name or at the `}` that closes the labels:
  // without labels, the name must end where `known` does and no `{` may follow.
  if (!known.empty() && known.size() <= n - ns &&
      std::memcmp(b + ns, known.data(), known.size()) == 0) {
    size_t e = ns + known.size();
    const bool has_labels = known.back() == '}';
    if (has_labels || e >= n || !(kClass[b[e]] & kNameChar)) {
      size_t j = e;
      while (j < n && IsBlank(b[j])) ++j;
      if (has_labels || j >= n || b[j] != '{') {
        size_t ne = ns + 1;
        while (ne < e && (kClass[b[ne]] & kNameChar)) ++ne;
        name_ = body_.substr(ns, ne - ns);
        labels_at_ = 0;
        if (has_labels) {
          labels_at_ = ne;
          while (b[labels_at_] != '{') ++labels_at_;
        }
        series_ = body_.substr(ns, e - ns);
        known_hit_ = true;
        return ParseSample(ns, j);
      }
    }
  }
  do ++i;
  while (i < n && (kClass[b[i]] & kNameChar));
  name_ = body_.substr(ns, i - ns);
  size_t series_end = i;
  while (i < n && IsBlank(b[i])) ++i;
  if (i < n && b[i] == '{') {
    ++i;
    if (!ParseLabels(i)) return Entry::kError;
    series_end = i;
    while (i < n && IsBlank(b[i])) ++i;
  }
  series_ = body_.substr(ns, series_end - ns);
  return ParseSample(ns, i);
}

// The value and timestamp of a sample line starting at `ns`; `i` is at the value.
TextParser::Entry TextParser::ParseSample(size_t ns, size_t i) {
  const auto* b = reinterpret_cast<const unsigned char*>(body_.data());
  const size_t n = body_.size();
  if (i >= n || !(kClass[b[i]] & kValueChar)) return Fail(i, "expected a value after the metric");
  const size_t vs = i;
  do ++i;
  while (i < n && (kClass[b[i]] & kValueChar));
  const std::string_view vtext = body_.substr(vs, i - vs);
  switch (ParseGoFloat(vtext, &value_)) {
    case NumResult::kOk:
      break;
    case NumResult::kSyntax:
      return Fail(vs, "invalid value " + Quote(vtext));
    case NumResult::kRange:
      return Fail(vs, "value out of range " + Quote(vtext));
  }
  if (std::isnan(value_)) value_ = std::bit_cast<double>(kNormalNaNBits);
  while (i < n && IsBlank(b[i])) ++i;
  if (i < n && (kClass[b[i]] & kDigit)) {
    const size_t ts0 = i;
    uint64_t v = 0;
    bool overflow = false;
    do {
      const uint64_t d = b[i] - '0';
      if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - d) / 10) {
        overflow = true;
      } else {
        v = v * 10 + d;
      }
      ++i;
    } while (i < n && (kClass[b[i]] & kDigit));
    if (overflow) return Fail(ts0, "timestamp out of range");
    has_ts_ = true;
    ts_ = static_cast<int64_t>(v);
    while (i < n && IsBlank(b[i])) ++i;
    if (i < n && b[i] != '\n') return Fail(i, "expected the end of the line after the timestamp");
  } else if (i < n && b[i] != '\n') {
    return Fail(i, "expected a timestamp or the end of the line");
  }
  if (!known_hit_ && !CheckDuplicateLabels(ns)) return Entry::kError;
  pos_ = i + 1;
  return Entry::kSeries;
}

bool TextParser::ParseLabels(size_t& i) {
  const auto* b = reinterpret_cast<const unsigned char*>(body_.data());
  const size_t n = body_.size();
  for (;;) {
    while (i < n && IsBlank(b[i])) ++i;
    if (i >= n) {
      Fail(i, "expected a label name");
      return false;
    }
    if (b[i] == '}') {
      ++i;
      return true;
    }
    if (!(kClass[b[i]] & kLabelStart)) {
      Fail(i, "expected a label name");
      return false;
    }
    const size_t ls = i;
    do ++i;
    while (i < n && (kClass[b[i]] & kLabelChar));
    const std::string_view lname = body_.substr(ls, i - ls);
    while (i < n && IsBlank(b[i])) ++i;
    if (i >= n || b[i] != '=') {
      Fail(i, "expected '=' after the label name");
      return false;
    }
    ++i;
    // The value token: its first byte is read as is, later NULs are stepped over.
    if (i < n && IsBlank(b[i])) {
      ++i;
      while (i < n && (IsBlank(b[i]) || b[i] == 0)) ++i;
    }
    if (i >= n || b[i] != '"') {
      Fail(i, "expected a quoted label value");
      return false;
    }
    const size_t vs = ++i;
    bool esc = false;
    for (;;) {
      while (i < n && b[i] != '"' && b[i] != '\\') ++i;
      if (i >= n) {
        Fail(vs - 1, "unterminated label value");
        return false;
      }
      if (b[i] == '"') break;
      esc = true;
      ++i;
      while (i < n && b[i] == 0) ++i;
      if (i >= n || b[i] == '\n') {
        Fail(i, "backslash before a line break in a label value");
        return false;
      }
      ++i;
    }
    const std::string_view raw = body_.substr(vs, i - vs);
    ++i;
    while (i < n && b[i] == 0) ++i;  // the lexer's lookahead after `"` still skips NULs
    if (!ValidUtf8(raw)) {
      Fail(vs, "label value is not valid UTF-8");
      return false;
    }
    labels_.emplace_back(lname, raw);
    any_escape_ |= esc;
    while (i < n && IsBlank(b[i])) ++i;
    if (i < n && b[i] == ',') ++i;
  }
}

bool TextParser::CheckDuplicateLabels(size_t at) {
  const size_t k = labels_.size();
  for (const auto& l : labels_) {
    if (l.first == "__name__") {
      Fail(at, "duplicate label name \"__name__\" (the metric name)");
      return false;
    }
  }
  if (k < 2) return true;
  std::string_view dup;
  if (k <= 16) {
    for (size_t x = 1; x < k && dup.empty(); ++x) {
      for (size_t y = 0; y < x; ++y) {
        if (labels_[x].first == labels_[y].first) {
          dup = labels_[x].first;
          break;
        }
      }
    }
  } else {
    names_scratch_.clear();
    for (const auto& l : labels_) names_scratch_.push_back(l.first);
    std::sort(names_scratch_.begin(), names_scratch_.end());
    const auto it = std::adjacent_find(names_scratch_.begin(), names_scratch_.end());
    if (it != names_scratch_.end()) dup = *it;
  }
  if (dup.empty()) return true;
  Fail(at, "duplicate label name " + Quote(dup));
  return false;
}

const std::vector<std::pair<std::string_view, std::string_view>>& TextParser::Labels() {
  if (labels_parsed_) return labels_;
  labels_parsed_ = true;
  if (known_hit_ && labels_at_ != 0) {
    // Skipped by Next(known): the same bytes were accepted before, so this cannot fail.
    size_t i = labels_at_ + 1;
    ParseLabels(i);
  }
  if (!any_escape_) return labels_;
  size_t need = 0;
  for (const auto& l : labels_) {
    if (l.second.find('\\') != std::string_view::npos) ++need;
  }
  // Size the storage before taking views into it, so they are not moved afterwards.
  if (unescaped_.size() < need) unescaped_.resize(need);
  size_t u = 0;
  for (auto& l : labels_) {
    if (l.second.find('\\') == std::string_view::npos) continue;
    std::string& s = unescaped_[u++];
    UnescapeLabelValue(l.second, &s);
    l.second = s;
  }
  return labels_;
}

std::string TextParser::UnescapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (size_t i = 0; i < help.size(); ++i) {
    if (help[i] == '\\' && i + 1 < help.size() && (help[i + 1] == '\\' || help[i + 1] == 'n')) {
      out.push_back(help[i + 1] == 'n' ? '\n' : '\\');
      ++i;
      continue;
    }
    out.push_back(help[i]);
  }
  return out;
}

}  // namespace common::expfmt
