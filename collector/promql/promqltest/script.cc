#include "collector/promql/promqltest/script.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "collector/promql/parser/lexer.h"
#include "common/base/units.h"

namespace collector::promql::promqltest {

using common::Result;
using common::Status;

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualFold(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }

// Splits off the first whitespace-separated word; `rest` is what follows, left-trimmed.
std::string_view NextWord(std::string_view s, std::string_view* rest) {
  s = Trim(s);
  size_t i = 0;
  while (i < s.size() && !IsSpace(s[i])) ++i;
  *rest = Trim(s.substr(i));
  return s.substr(0, i);
}

Status LineError(int line, std::string_view msg) {
  return Status::InvalidArgument(std::to_string(line) + ": " + std::string(msg));
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }
bool IsMetricStart(char c) { return IsIdentStart(c) || c == ':'; }
bool IsMetricChar(char c) { return IsIdentChar(c) || c == ':'; }

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


// Scans a sample number at s[*pos] (sign, digits, '.', exponent, or Inf/NaN) and parses it.
Result<double> ScanNumber(std::string_view s, size_t* pos) {
  size_t i = *pos;
  size_t start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  auto word_at = [&](std::string_view w) {
    return s.size() - i >= w.size() && EqualFold(s.substr(i, w.size()), w);
  };
  if (word_at("infinity")) {
    i += 8;
  } else if (word_at("inf")) {
    i += 3;
  } else if (word_at("nan")) {
    i += 3;
  } else {
    size_t digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
    }
    if (digits == 0) return Status::InvalidArgument("expected a number");
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      size_t j = i + 1;
      if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
      size_t ed = j;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      if (j > ed) i = j;
    }
  }
  std::string num(s.substr(start, i - start));
  double v;
  std::string_view body = num;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualFold(body, "inf") || EqualFold(body, "infinity")) {
    v = neg ? -HUGE_VAL : HUGE_VAL;
  } else if (EqualFold(body, "nan")) {
    v = std::nan("");
  } else {
    errno = 0;
    char* end = nullptr;
    v = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size()) return Status::InvalidArgument("bad number \"" + num + "\"");
    // Go's ParseFloat rejects out-of-range values; strtod saturates. Keep strtod's result (the
    // scripts use -1E+308 and similar, which are in range).
  }
  *pos = i;
  return v;
}

// Reads a decimal repetition count.
Result<uint64_t> ScanCount(std::string_view s, size_t* pos) {
  size_t i = *pos;
  uint64_t n = 0;
  size_t start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    if (n > 100'000'000) return Status::InvalidArgument("repetition count too large");
    ++i;
  }
  if (i == start) return Status::InvalidArgument("expected a repetition count after 'x'");
  *pos = i;
  return n;
}

// Reads `{{ ... }}` at s[*pos]; advances past the closing braces.
Status SkipHistogram(std::string_view s, size_t* pos) {
  if (s.substr(*pos, 2) != "{{") return Status::InvalidArgument("expected '{{'");
  size_t end = s.find("}}", *pos + 2);
  if (end == std::string_view::npos) return Status::InvalidArgument("unterminated '{{' histogram");
  *pos = end + 2;
  return Status::Ok();
}

Status ExpandItem(std::string_view tok, std::vector<SeqValue>& out) {
  if (tok.substr(0, 2) == "{{") {
    size_t i = 0;
    LOOKOUT_RETURN_IF_ERROR(SkipHistogram(tok, &i));
    uint64_t n = 0;
    if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) {
      ++i;
      LOOKOUT_RETURN_IF_ERROR(SkipHistogram(tok, &i));
      if (i >= tok.size() || tok[i] != 'x') {
        return Status::InvalidArgument("expected 'x' after histogram increment in \"" + std::string(tok) + "\"");
      }
    }
    if (i < tok.size()) {
      if (tok[i] != 'x') return Status::InvalidArgument("unexpected text after histogram: \"" + std::string(tok) + "\"");
      ++i;
      auto c = ScanCount(tok, &i);
      if (!c.ok()) return c.status();
      n = *c;
      if (i != tok.size()) return Status::InvalidArgument("unexpected text after histogram: \"" + std::string(tok) + "\"");
    }
    out.insert(out.end(), n + 1, SeqValue{SeqValue::Kind::kHistogram, 0});
    return Status::Ok();
  }
  if (tok == "_") {
    out.push_back({SeqValue::Kind::kOmitted, 0});
    return Status::Ok();
  }
  if (tok.substr(0, 2) == "_x") {
    size_t i = 2;
    auto c = ScanCount(tok, &i);
    if (!c.ok() || i != tok.size()) return Status::InvalidArgument("bad item \"" + std::string(tok) + "\"");
    out.insert(out.end(), *c, SeqValue{SeqValue::Kind::kOmitted, 0});
    return Status::Ok();
  }
  if (EqualFold(tok, "stale")) {
    out.push_back({SeqValue::Kind::kStale, 0});
    return Status::Ok();
  }
  if (EqualFold(tok.substr(0, 5), "stale")) {
    return Status::InvalidArgument("'stale' cannot be combined with anything: \"" + std::string(tok) + "\"");
  }
  size_t i = 0;
  auto a = ScanNumber(tok, &i);
  if (!a.ok()) return Status::InvalidArgument("bad value \"" + std::string(tok) + "\"");
  if (i == tok.size()) {
    out.push_back({SeqValue::Kind::kFloat, *a});
    return Status::Ok();
  }
  double inc = 0;
  if (tok[i] == '+' || tok[i] == '-') {
    bool neg = tok[i] == '-';
    ++i;
    if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) {
      return Status::InvalidArgument("bad value \"" + std::string(tok) + "\"");
    }
    auto b = ScanNumber(tok, &i);
    if (!b.ok()) return Status::InvalidArgument("bad increment in \"" + std::string(tok) + "\"");
    inc = neg ? -*b : *b;
    if (i >= tok.size() || tok[i] != 'x') {
      return Status::InvalidArgument("expected 'x' after the increment in \"" + std::string(tok) + "\"");
    }
  }
  if (tok[i] != 'x') return Status::InvalidArgument("bad value \"" + std::string(tok) + "\"");
  ++i;
  auto n = ScanCount(tok, &i);
  if (!n.ok() || i != tok.size()) return Status::InvalidArgument("bad repetition in \"" + std::string(tok) + "\"");
  double cur = *a;
  for (uint64_t k = 0; k <= *n; ++k) {
    out.push_back({SeqValue::Kind::kFloat, cur});
    cur = cur + inc;  // repeated addition, as upstream
  }
  return Status::Ok();
}

Result<int64_t> ParseIntBase(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return Status::InvalidArgument("empty");
  int base = 10;
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    if (p == 'x') base = 16, prefixed = true;
    else if (p == 'o') base = 8, prefixed = true;
    else if (p == 'b') base = 2, prefixed = true;
    else base = 8;
  }
  if (prefixed) s.remove_prefix(2);
  if (s.empty()) return Status::InvalidArgument("no digits");
  uint64_t v = 0;
  bool last_us = true;
  for (char c : s) {
    if (c == '_' && prefixed) {  // Go allows underscores with a base prefix
      if (last_us) return Status::InvalidArgument("bad underscore");
      last_us = true;
      continue;
    }
    int d = HexVal(c);
    if (d < 0 || d >= base) return Status::InvalidArgument("bad digit");
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
      return Status::InvalidArgument("out of range");
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    last_us = false;
  }
  if (last_us) return Status::InvalidArgument("bad underscore");
  if (v > static_cast<uint64_t>(INT64_MAX) + (neg ? 1 : 0)) return Status::InvalidArgument("out of range");
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

struct Line {
  int no;
  std::string_view text;
};

// Splits the script into trimmed lines; comment lines become empty.
std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> out;
  int no = 0;
  while (true) {
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    ++no;
    l = Trim(l);
    if (!l.empty() && l[0] == '#') l = {};
    out.push_back({no, l});
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

Result<SeriesLine> ParseSeriesLine(const Line& l) {
  std::string_view rest;
  auto labels = ParseSeriesLiteral(l.text, &rest);
  if (!labels.ok()) return LineError(l.no, labels.status().message());
  auto vals = ExpandValues(rest);
  if (!vals.ok()) return LineError(l.no, vals.status().message());
  SeriesLine s;
  s.line = l.no;
  s.labels = std::move(labels).value();
  s.values = std::move(vals).value();
  for (const auto& v : s.values) s.has_histogram |= v.kind == SeqValue::Kind::kHistogram;
  return s;
}

Result<LoadCmd> ParseLoad(const Line& header, std::string_view keyword, std::string_view args,
                          const std::vector<Line>& body) {
  LoadCmd c;
  c.line = header.no;
  std::string kw = Lower(keyword);
  if (kw == "load_with_nhcb") {
    c.with_nhcb = true;
    c.has_histograms = true;
  } else if (kw != "load") {
    return LineError(header.no, "invalid load command \"" + std::string(keyword) + "\"");
  }
  std::string_view extra;
  std::string_view step = NextWord(args, &extra);
  if (step.empty() || !extra.empty()) return LineError(header.no, "invalid load command (expected `load <step>`)");
  auto ms = ParseScriptDuration(step);
  if (!ms.ok()) return LineError(header.no, ms.status().message());
  c.step_ms = *ms;
  std::map<model::Labels, size_t> index;
  // An `@st` line waiting for its series line (the next line).
  std::optional<SeriesLine> pending_st;
  for (const auto& l : body) {
    size_t sp = l.text.find_first_of(" \t");
    std::string_view first = l.text.substr(0, sp);
    if (first.size() > 3 && first.substr(first.size() - 3) == "@st") {
      if (pending_st) return LineError(l.no, "an `@st` line must be followed by its series line");
      c.has_start_timestamps = true;
      std::string_view rest;
      auto labels = ParseSeriesLiteral(first.substr(0, first.size() - 3), &rest);
      if (!labels.ok()) return LineError(l.no, labels.status().message());
      auto offs = ExpandStartTimestampOffsets(sp == std::string_view::npos ? "" : l.text.substr(sp));
      if (!offs.ok()) return LineError(l.no, offs.status().message());
      pending_st.emplace();
      pending_st->line = l.no;
      pending_st->labels = std::move(labels).value();
      pending_st->st_offsets = std::move(offs).value();
      continue;
    }
    auto s = ParseSeriesLine(l);
    if (!s.ok()) return s.status();
    if (pending_st) {
      if (!(pending_st->labels == s->labels)) {
        return LineError(l.no, "series " + s->labels.ToString() + " does not match the `@st` line " +
                                   pending_st->labels.ToString() + " before it");
      }
      if (pending_st->st_offsets.size() != s->values.size()) {
        return LineError(l.no, "the `@st` line has " + std::to_string(pending_st->st_offsets.size()) +
                                   " slots, the series line " + std::to_string(s->values.size()));
      }
      s->st_offsets = std::move(pending_st->st_offsets);
      pending_st.reset();
    }
    c.has_histograms |= s->has_histogram;
    auto [it, inserted] = index.emplace(s->labels, c.series.size());
    if (inserted) {
      c.series.push_back(std::move(s).value());
    } else {
      c.series[it->second] = std::move(s).value();
    }
  }
  if (pending_st) return LineError(pending_st->line, "an `@st` line must be followed by its series line");
  return c;
}

// Scans a signed duration (`-30s`, `+1m`, `1m30s`, `-59999ms`, `0`) at s[*pos], in ms.
Result<int64_t> ScanSignedDuration(std::string_view s, size_t* pos) {
  size_t i = *pos;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    ++i;
  }
  size_t start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (s.substr(i, 2) == "ms") {
      i += 2;
    } else if (i < s.size() && std::string_view("smhdwy").find(s[i]) != std::string_view::npos) {
      ++i;
    }
  }
  if (i == start) return Status::InvalidArgument("expected a duration");
  auto ms = ParseScriptDuration(s.substr(start, i - start));
  if (!ms.ok()) return ms.status();
  *pos = i;
  return neg ? -*ms : *ms;
}

Result<Expectation::Type> ParseExpectType(std::string_view w) {
  using T = Expectation::Type;
  if (w == "fail") return T::kFail;
  if (w == "warn") return T::kWarn;
  if (w == "info") return T::kInfo;
  if (w == "no_warn") return T::kNoWarn;
  if (w == "no_info") return T::kNoInfo;
  if (w == "ordered") return T::kOrdered;
  return Status::InvalidArgument("unknown expectation type \"" + std::string(w) + "\"");
}

Result<EvalCmd> ParseEval(const Line& header, std::string_view keyword, std::string_view args,
                          const std::vector<Line>& body) {
  EvalCmd c;
  c.line = header.no;
  std::string kw = Lower(keyword);
  using T = Expectation::Type;
  if (kw == "eval_fail") {
    c.expects.push_back({header.no, T::kFail, Expectation::Match::kAny, ""});
  } else if (kw == "eval_ordered") {
    c.expects.push_back({header.no, T::kOrdered, Expectation::Match::kAny, ""});
  } else if (kw == "eval_warn") {
    c.expects.push_back({header.no, T::kWarn, Expectation::Match::kAny, ""});
  } else if (kw == "eval_info") {
    c.expects.push_back({header.no, T::kInfo, Expectation::Match::kAny, ""});
  } else if (kw != "eval") {
    return LineError(header.no, "invalid eval command \"" + std::string(keyword) + "\"");
  }
  std::string_view rest;
  std::string_view mode = NextWord(args, &rest);
  if (EqualFold(mode, "instant")) {
    std::string_view at = NextWord(rest, &rest);
    if (!EqualFold(at, "at")) return LineError(header.no, "invalid eval instant (expected `at <time>`)");
    std::string_view t = NextWord(rest, &rest);
    auto ms = ParseScriptDuration(t, true);
    if (!ms.ok()) return LineError(header.no, ms.status().message());
    c.start_ms = c.end_ms = *ms;
  } else if (EqualFold(mode, "range")) {
    if (kw == "eval_ordered") return LineError(header.no, "eval_ordered is not supported for range queries");
    c.range = true;
    std::string_view w = NextWord(rest, &rest);
    if (!EqualFold(w, "from")) return LineError(header.no, "invalid eval range (expected `from <t> to <t> step <d>`)");
    auto s = ParseScriptDuration(NextWord(rest, &rest), true);
    w = NextWord(rest, &rest);
    if (!EqualFold(w, "to")) return LineError(header.no, "invalid eval range (expected `to <t>`)");
    auto e = ParseScriptDuration(NextWord(rest, &rest), true);
    w = NextWord(rest, &rest);
    if (!EqualFold(w, "step")) return LineError(header.no, "invalid eval range (expected `step <d>`)");
    auto st = ParseScriptDuration(NextWord(rest, &rest));
    for (const Status* x : {&s.status(), &e.status(), &st.status()}) {
      if (!x->ok()) return LineError(header.no, x->message());
    }
    if (*e < *s) return LineError(header.no, "invalid eval range: end is before start");
    if (*st <= 0) return LineError(header.no, "invalid eval range: step must be positive");
    c.start_ms = *s;
    c.end_ms = *e;
    c.step_ms = *st;
  } else {
    return LineError(header.no, "invalid eval command: expected `instant` or `range`, got \"" +
                                    std::string(mode) + "\"");
  }
  if (rest.empty()) return LineError(header.no, "eval without an expression");
  c.expr = std::string(rest);

  bool scalar_seen = false;
  for (const auto& l : body) {
    if (l.text.find("{{") != std::string_view::npos) c.body_has_histogram = true;
    std::string_view r;
    std::string_view w0 = NextWord(l.text, &r);
    if (w0 == "expect") {
      std::string_view r2;
      std::string_view w1 = NextWord(r, &r2);
      if (w1 == "range") {
        std::string_view r3;
        std::string_view w2 = NextWord(r2, &r3);
        if (w2 != "vector") return LineError(l.no, "invalid `expect range vector` line");
        if (c.range) return LineError(l.no, "`expect range vector` is only for instant queries");
        std::string_view a = r3;
        if (NextWord(a, &a) != "from") return LineError(l.no, "invalid `expect range vector` line");
        auto f = ParseScriptDuration(NextWord(a, &a), true);
        if (NextWord(a, &a) != "to") return LineError(l.no, "invalid `expect range vector` line");
        auto t = ParseScriptDuration(NextWord(a, &a), true);
        if (NextWord(a, &a) != "step") return LineError(l.no, "invalid `expect range vector` line");
        auto st = ParseScriptDuration(NextWord(a, &a));
        if (!f.ok() || !t.ok() || !st.ok() || !a.empty() || *st <= 0) {
          return LineError(l.no, "invalid `expect range vector` line");
        }
        c.range_vector = true;
        c.rv_from_ms = *f;
        c.rv_to_ms = *t;
        c.rv_step_ms = *st;
        continue;
      }
      if (w1 == "string") {
        if (c.range) return LineError(l.no, "`expect string` is only for instant queries");
        size_t pos = 0;
        auto s = parser::ReadGoQuoted(r2, &pos);
        if (!s.ok() || pos != r2.size()) return LineError(l.no, "invalid `expect string` line: expected one quoted string");
        c.string = std::move(s).value();
        continue;
      }
      // expect <type>[ <msg|regex>: <text>]
      std::string_view type_word = w1;
      std::string_view after = r2;
      // `expect fail msg:...` may have no space after the type when the type has the colon
      // attached; the type itself never contains ':'.
      auto type = ParseExpectType(type_word);
      if (!type.ok()) return LineError(l.no, type.status().message());
      Expectation ex;
      ex.line = l.no;
      ex.type = *type;
      if (!after.empty()) {
        size_t colon = after.find(':');
        std::string_view m = colon == std::string_view::npos ? after : Trim(after.substr(0, colon));
        if (m == "msg") {
          ex.match = Expectation::Match::kMsg;
        } else if (m == "regex") {
          ex.match = Expectation::Match::kRegex;
        } else {
          return LineError(l.no, "invalid expect line: expected `msg:` or `regex:`, got \"" +
                                     std::string(after) + "\"");
        }
        ex.text = std::string(Trim(after.substr(colon + 1)));
        if (ex.type == T::kOrdered || ex.type == T::kNoWarn || ex.type == T::kNoInfo) {
          return LineError(l.no, "`expect " + std::string(type_word) + "` takes no message");
        }
      }
      if (ex.type == T::kOrdered && c.range) return LineError(l.no, "range queries cannot be `expect ordered`");
      if (ex.type == T::kFail && c.Has(T::kFail)) return LineError(l.no, "more than one `expect fail`");
      auto conflict = [&](T a, T b) {
        return (ex.type == a && c.Has(b)) || (ex.type == b && c.Has(a));
      };
      if (conflict(T::kWarn, T::kNoWarn) || conflict(T::kInfo, T::kNoInfo)) {
        return LineError(l.no, "conflicting expectations (warn/no_warn or info/no_info)");
      }
      c.expects.push_back(std::move(ex));
      continue;
    }
    if (w0 == "expected_fail_message" || w0 == "expected_fail_regexp") {
      Expectation ex;
      ex.line = l.no;
      ex.type = T::kFail;
      ex.match = w0 == "expected_fail_message" ? Expectation::Match::kMsg : Expectation::Match::kRegex;
      ex.text = std::string(r);
      bool replaced = false;
      for (auto& e : c.expects) {
        if (e.type == T::kFail) {
          e = ex;
          replaced = true;
        }
      }
      if (!replaced) c.expects.push_back(std::move(ex));
      continue;
    }
    if (r.empty()) {
      auto f = ParseScalarExpectation(w0);
      if (f.ok()) {
        if (scalar_seen || !c.series.empty()) return LineError(l.no, "a scalar expectation must stand alone");
        scalar_seen = true;
        c.scalar = *f;
        continue;
      }
    }
    auto s = ParseSeriesLine(l);
    if (!s.ok()) return s.status();
    if (scalar_seen) return LineError(l.no, "a scalar expectation must stand alone");
    if (!c.range && !c.range_vector && s->values.size() != 1) {
      return LineError(l.no, "expecting multiple values in instant evaluation not allowed");
    }
    c.series.push_back(std::move(s).value());
  }
  if (c.range_vector && (c.range || c.scalar || c.string)) {
    return LineError(header.no, "`expect range vector` cannot be combined with a scalar or string");
  }
  if (c.Has(T::kOrdered) && c.range) return LineError(header.no, "range queries cannot be `expect ordered`");
  return c;
}

}  // namespace

std::string_view ExpectationTypeName(Expectation::Type t) {
  switch (t) {
    case Expectation::Type::kFail: return "fail";
    case Expectation::Type::kWarn: return "warn";
    case Expectation::Type::kInfo: return "info";
    case Expectation::Type::kNoWarn: return "no_warn";
    case Expectation::Type::kNoInfo: return "no_info";
    case Expectation::Type::kOrdered: return "ordered";
  }
  return "?";
}

const Expectation* EvalCmd::Find(Expectation::Type t) const {
  for (const auto& e : expects) {
    if (e.type == t) return &e;
  }
  return nullptr;
}

Result<double> ParseSampleNumber(std::string_view s) {
  size_t i = 0;
  auto v = ScanNumber(s, &i);
  if (!v.ok() || i != s.size()) return Status::InvalidArgument("bad number \"" + std::string(s) + "\"");
  return v;
}

Result<double> ParseScalarExpectation(std::string_view s) {
  s = Trim(s);
  if (s.empty()) return Status::InvalidArgument("empty number");
  auto i = ParseIntBase(s);
  if (i.ok()) return static_cast<double>(*i);
  std::string str(s);
  std::string_view body = s;
  bool neg = false;
  if (body[0] == '+' || body[0] == '-') {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualFold(body, "inf") || EqualFold(body, "infinity")) return neg ? -HUGE_VAL : HUGE_VAL;
  if (EqualFold(body, "nan")) return std::nan("");
  // strtod also accepts "nan(...)", "infinity" spellings and hex floats; Go's ParseFloat accepts
  // hex floats only with a 'p' exponent. Refuse anything that is not a plain or hex-p number.
  for (char c : body) {
    if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-' || c == 'x' || c == 'X' || c == 'p' || c == 'P' || c == '_')) {
      return Status::InvalidArgument("not a number: \"" + str + "\"");
    }
  }
  char* end = nullptr;
  double v = std::strtod(str.c_str(), &end);
  if (end != str.c_str() + str.size()) return Status::InvalidArgument("not a number: \"" + str + "\"");
  return v;
}

Result<std::vector<SeqValue>> ExpandValues(std::string_view text) {
  std::vector<SeqValue> out;
  size_t i = 0;
  while (true) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i >= text.size()) break;
    size_t start = i;
    if (text.substr(i, 2) == "{{") {
      // A histogram item: {{...}}[+-{{...}}][xN], with spaces inside the braces.
      LOOKOUT_RETURN_IF_ERROR(SkipHistogram(text, &i));
      if (i < text.size() && (text[i] == '+' || text[i] == '-') && text.substr(i + 1, 2) == "{{") {
        ++i;
        LOOKOUT_RETURN_IF_ERROR(SkipHistogram(text, &i));
      }
    }
    while (i < text.size() && !IsSpace(text[i])) ++i;
    LOOKOUT_RETURN_IF_ERROR(ExpandItem(text.substr(start, i - start), out));
  }
  return out;
}

Result<std::vector<std::optional<int64_t>>> ExpandStartTimestampOffsets(std::string_view text) {
  std::vector<std::optional<int64_t>> out;
  size_t i = 0;
  while (true) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i >= text.size()) break;
    size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    std::string_view tok = text.substr(start, i - start);
    auto bad = [&] { return Status::InvalidArgument("bad start-timestamp item \"" + std::string(tok) + "\""); };
    if (tok == "_") {
      out.emplace_back(std::nullopt);
      continue;
    }
    if (tok.substr(0, 2) == "_x") {
      size_t j = 2;
      auto n = ScanCount(tok, &j);
      if (!n.ok() || j != tok.size()) return bad();
      out.insert(out.end(), *n, std::nullopt);
      continue;
    }
    size_t j = 0;
    auto first = ScanSignedDuration(tok, &j);
    if (!first.ok()) return bad();
    if (j == tok.size()) {
      out.emplace_back(*first);
      continue;
    }
    int64_t step = 0;
    if (tok[j] == '+' || tok[j] == '-') {
      auto d = ScanSignedDuration(tok, &j);  // the sign is the operator
      if (!d.ok()) return bad();
      step = *d;
    }
    if (j >= tok.size() || tok[j] != 'x') return bad();
    ++j;
    auto n = ScanCount(tok, &j);
    if (!n.ok() || j != tok.size()) return bad();
    int64_t cur = *first;
    for (uint64_t k = 0; k <= *n; ++k, cur += step) out.emplace_back(cur);
  }
  return out;
}

Result<model::Labels> ParseSeriesLiteral(std::string_view line, std::string_view* rest) {
  std::string_view s = Trim(line);
  size_t i = 0;
  std::vector<model::Label> ls;
  std::string name;
  bool have_name = false;
  if (i < s.size() && IsMetricStart(s[i])) {
    size_t st = i;
    while (i < s.size() && IsMetricChar(s[i])) ++i;
    name = std::string(s.substr(st, i - st));
    have_name = true;
  }
  size_t j = i;
  while (j < s.size() && IsSpace(s[j])) ++j;
  bool braces = j < s.size() && s[j] == '{' && s.substr(j, 2) != "{{";
  if (!have_name && !braces) {
    return Status::InvalidArgument("expected a series (metric name or `{`): \"" + std::string(s) + "\"");
  }
  if (braces) {
    i = j + 1;
    while (true) {
      while (i < s.size() && IsSpace(s[i])) ++i;
      if (i >= s.size()) return Status::InvalidArgument("unterminated `{` in series \"" + std::string(s) + "\"");
      if (s[i] == '}') {
        ++i;
        break;
      }
      std::string lname;
      bool quoted = false;
      if (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
        auto q = parser::ReadGoQuoted(s, &i);
        if (!q.ok()) return q.status();
        lname = std::move(q).value();
        quoted = true;
      } else if (IsIdentStart(s[i])) {
        size_t st = i;
        while (i < s.size() && IsIdentChar(s[i])) ++i;
        lname = std::string(s.substr(st, i - st));
      } else {
        return Status::InvalidArgument("unexpected character '" + std::string(1, s[i]) +
                                       "' in label matching of \"" + std::string(s) + "\"");
      }
      while (i < s.size() && IsSpace(s[i])) ++i;
      if (quoted && i < s.size() && (s[i] == ',' || s[i] == '}')) {
        // `{"metric.name"}`: a quoted metric name (Prometheus 3).
        if (have_name) return Status::InvalidArgument("metric name given twice in \"" + std::string(s) + "\"");
        name = std::move(lname);
        have_name = true;
      } else {
        if (i >= s.size() || s[i] != '=') {
          return Status::InvalidArgument("expected `=` after label name in \"" + std::string(s) + "\"");
        }
        ++i;
        if (i < s.size() && (s[i] == '~' || s[i] == '=')) {
          return Status::InvalidArgument("only equality matchers are allowed in a series: \"" + std::string(s) + "\"");
        }
        while (i < s.size() && IsSpace(s[i])) ++i;
        auto v = parser::ReadGoQuoted(s, &i);
        if (!v.ok()) return Status::InvalidArgument(std::string(v.status().message()) + " in \"" + std::string(s) + "\"");
        if (lname == model::kMetricName) {
          if (have_name) return Status::InvalidArgument("metric name given twice in \"" + std::string(s) + "\"");
          name = std::move(v).value();
          have_name = true;
        } else {
          for (const auto& l : ls) {
            if (l.name == lname) return Status::InvalidArgument("duplicate label \"" + lname + "\" in \"" + std::string(s) + "\"");
          }
          ls.push_back({std::move(lname), std::move(v).value()});
        }
      }
      while (i < s.size() && IsSpace(s[i])) ++i;
      if (i < s.size() && s[i] == ',') {
        ++i;
        continue;
      }
      if (i < s.size() && s[i] == '}') continue;
      return Status::InvalidArgument("expected `,` or `}` in \"" + std::string(s) + "\"");
    }
  }
  if (i < s.size() && !IsSpace(s[i])) {
    return Status::InvalidArgument("unexpected text after series: \"" + std::string(s) + "\"");
  }
  if (have_name) ls.push_back({std::string(model::kMetricName), name});
  if (rest != nullptr) *rest = Trim(s.substr(i));
  // Empty label values mean "absent", as in Prometheus.
  std::erase_if(ls, [](const model::Label& l) { return l.value.empty(); });
  return model::Labels(std::move(ls));
}

Result<int64_t> ParseScriptDuration(std::string_view s, bool allow_negative) {
  s = Trim(s);
  bool neg = false;
  if (allow_negative && !s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  if (s.empty()) return Status::InvalidArgument("empty duration");
  auto ms = common::ParseDurationMs(s);
  if (!ms.ok()) return ms.status();
  return neg ? -*ms : *ms;
}

Result<Script> ParseScript(std::string_view text, std::string name) {
  Script script;
  script.name = std::move(name);
  std::vector<Line> lines = SplitLines(text);
  size_t i = 0;
  while (i < lines.size()) {
    if (lines[i].text.empty()) {
      ++i;
      continue;
    }
    const Line& header = lines[i];
    std::vector<Line> body;
    size_t j = i + 1;
    while (j < lines.size() && !lines[j].text.empty()) body.push_back(lines[j++]);
    i = j;
    std::string_view args;
    std::string_view keyword = NextWord(header.text, &args);
    std::string kw = Lower(keyword);
    if (kw == "clear") {
      // `clear` is one line; what follows directly is the next command.
      if (!args.empty()) return LineError(header.no, "`clear` takes no arguments");
      i = static_cast<size_t>(&header - lines.data()) + 1;
      script.commands.emplace_back(std::in_place_type<ClearCmd>, ClearCmd{header.no});
    } else if (kw.starts_with("load")) {
      auto c = ParseLoad(header, keyword, args, body);
      if (!c.ok()) return c.status();
      script.commands.emplace_back(std::in_place_type<LoadCmd>, std::move(c).value());
    } else if (kw.starts_with("eval")) {
      auto c = ParseEval(header, keyword, args, body);
      if (!c.ok()) return c.status();
      script.commands.emplace_back(std::in_place_type<EvalCmd>, std::move(c).value());
    } else {
      return LineError(header.no, "invalid command \"" + std::string(keyword) + "\"");
    }
  }
  return script;
}

Result<Script> ParseScriptFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(errno, "open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("read " + path);
  std::string base = path.substr(path.find_last_of('/') + 1);
  auto s = ParseScript(ss.str(), base);
  if (!s.ok()) return Status::InvalidArgument(path + ":" + std::string(s.status().message()));
  return s;
}

}  // namespace collector::promql::promqltest
