// PromQL lexer: a state machine after Prometheus' lex.go (statements, inside braces, duration
// expressions inside brackets), so token boundaries and error texts match upstream.

#include "collector/promql/parser/lexer.h"

#include <cstdio>
#include <unordered_map>

#include "common/base/utf8.h"

namespace collector::promql::parser {
namespace {

constexpr int kEofRune = -1;
constexpr uint32_t kRuneError = 0xFFFD;

bool IsSpace(int r) { return r == ' ' || r == '\t' || r == '\n' || r == '\r'; }
bool IsDigit(int r) { return r >= '0' && r <= '9'; }
bool IsAlpha(int r) { return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'); }
bool IsAlphaNumeric(int r) { return IsAlpha(r) || IsDigit(r); }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void AppendUtf8(std::string& out, uint32_t r) {
  if (r < 0x80) {
    out.push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (r >> 6)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (r >> 12)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (r >> 18)));
    out.push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// Decodes the rune at s[i]; invalid sequences give U+FFFD with width 1.
uint32_t DecodeRune(std::string_view s, size_t i, size_t* width) {
  size_t n = common::Utf8SeqLen(s, i);
  if (n == 0) {
    *width = 1;
    return kRuneError;
  }
  *width = n;
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  switch (n) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

bool IsPrintableRune(uint32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r >= 0x80 && r < 0xA0) return false;
  if (r == 0xAD) return false;
  if (r >= 0xD800 && r < 0xE000) return false;
  if (r > 0x10FFFF) return false;
  return true;
}

void AppendEscapedRune(std::string& out, uint32_t r, char quote) {
  char buf[16];
  if (r == static_cast<uint32_t>(quote) || r == '\\') {
    out.push_back('\\');
    out.push_back(static_cast<char>(r));
    return;
  }
  if (IsPrintableRune(r)) {
    AppendUtf8(out, r);
    return;
  }
  switch (r) {
    case '\a': out += "\\a"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\v': out += "\\v"; return;
    default: break;
  }
  if (r < ' ' || r == 0x7F) {
    std::snprintf(buf, sizeof(buf), "\\x%02x", r);
  } else if (r < 0x10000) {
    std::snprintf(buf, sizeof(buf), "\\u%04x", r);
  } else {
    std::snprintf(buf, sizeof(buf), "\\U%08x", r);
  }
  out += buf;
}

// Go's %#U.
std::string FormatU(int r) {
  uint32_t u = r < 0 ? kRuneError : static_cast<uint32_t>(r);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "U+%04X", u);
  std::string out = buf;
  if (IsPrintableRune(u)) {
    out += " '";
    AppendUtf8(out, u);
    out += "'";
  }
  return out;
}

int DigitVal(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return 16;
}

const std::unordered_map<std::string, Tok>& Keywords() {
  static const auto* kMap = new std::unordered_map<std::string, Tok>{
      {"and", Tok::kLand}, {"or", Tok::kLor}, {"unless", Tok::kLunless}, {"atan2", Tok::kAtan2},
      {"sum", Tok::kSum}, {"avg", Tok::kAvg}, {"count", Tok::kCount}, {"min", Tok::kMin},
      {"max", Tok::kMax}, {"group", Tok::kGroup}, {"stddev", Tok::kStddev},
      {"stdvar", Tok::kStdvar}, {"topk", Tok::kTopK}, {"bottomk", Tok::kBottomK},
      {"count_values", Tok::kCountValues}, {"quantile", Tok::kQuantile},
      {"limitk", Tok::kLimitK}, {"limit_ratio", Tok::kLimitRatio},
      {"offset", Tok::kOffset}, {"smoothed", Tok::kSmoothed}, {"anchored", Tok::kAnchored},
      {"by", Tok::kBy}, {"without", Tok::kWithout}, {"on", Tok::kOn},
      {"ignoring", Tok::kIgnoring}, {"group_left", Tok::kGroupLeft},
      {"group_right", Tok::kGroupRight}, {"fill", Tok::kFill}, {"fill_left", Tok::kFillLeft},
      {"fill_right", Tok::kFillRight}, {"bool", Tok::kBool}, {"start", Tok::kStart},
      {"end", Tok::kEnd}, {"step", Tok::kStep}, {"range", Tok::kRange},
      {"inf", Tok::kNumber}, {"nan", Tok::kNumber},
  };
  return *kMap;
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    while (!done_) {
      if (brace_open_) {
        LexInsideBraces();
      } else if (dur_state_) {
        LexDurationExpr();
      } else {
        LexStatements();
      }
    }
    return std::move(out_);
  }

 private:
  int Next() {
    if (pos_ >= in_.size()) {
      width_ = 0;
      return kEofRune;
    }
    size_t w = 0;
    uint32_t r = DecodeRune(in_, pos_, &w);
    width_ = w;
    pos_ += w;
    return static_cast<int>(r);
  }
  void Backup() { pos_ -= width_; }
  int Peek() {
    int r = Next();
    Backup();
    return r;
  }
  bool Accept(std::string_view valid) {
    int r = Next();
    if (r >= 0 && r < 128 && valid.find(static_cast<char>(r)) != std::string_view::npos) {
      return true;
    }
    Backup();
    return false;
  }
  bool Is(std::string_view valid) {
    int r = Peek();
    return r >= 0 && r < 128 && valid.find(static_cast<char>(r)) != std::string_view::npos;
  }
  void AcceptRun(std::string_view valid) {
    while (Accept(valid)) {
    }
  }
  void Emit(Tok k) {
    Token t;
    t.kind = k;
    t.pos = static_cast<int>(start_);
    t.val = std::string(in_.substr(start_, pos_ - start_));
    out_.push_back(std::move(t));
    start_ = pos_;
  }
  void Error(std::string msg) {
    Token t;
    t.kind = Tok::kError;
    t.pos = static_cast<int>(start_);
    t.val = std::move(msg);
    out_.push_back(std::move(t));
    done_ = true;
  }
  void SkipSpaces() {
    while (IsSpace(Peek())) Next();
    start_ = pos_;
  }
  bool SkipComment() {
    if (pos_ < in_.size() && in_[pos_] == '#') {
      while (pos_ < in_.size() && in_[pos_] != '\n' && in_[pos_] != '\r') ++pos_;
      start_ = pos_;
      return true;
    }
    return false;
  }

  void LexStatements() {
    if (SkipComment()) return;
    int r = Next();
    if (r == kEofRune) {
      if (paren_depth_ != 0) {
        Error("unclosed left parenthesis");
      } else if (bracket_open_) {
        Error("unclosed left bracket");
      } else {
        Emit(Tok::kEof);
        done_ = true;
      }
      return;
    }
    if (IsSpace(r)) {
      SkipSpaces();
      return;
    }
    switch (r) {
      case ',': Emit(Tok::kComma); return;
      case '*': Emit(Tok::kMul); return;
      case '/': Emit(Tok::kDiv); return;
      case '%': Emit(Tok::kMod); return;
      case '+': Emit(Tok::kAdd); return;
      case '-': Emit(Tok::kSub); return;
      case '^': Emit(Tok::kPow); return;
      case '=': {
        int t = Peek();
        if (t == '=') {
          Next();
          Emit(Tok::kEqlc);
        } else if (t == '~') {
          Error("unexpected character after '=': " + GoQuoteRune('~'));
        } else {
          Emit(Tok::kEql);
        }
        return;
      }
      case '!': {
        int t = Next();
        if (t != '=') {
          Error("unexpected character after '!': " + GoQuoteRune(t < 0 ? kRuneError : t));
          return;
        }
        Emit(Tok::kNeq);
        return;
      }
      case '<':
        if (Peek() == '=') {
          Next();
          Emit(Tok::kLte);
        } else if (Peek() == '/') {
          Next();
          Emit(Tok::kTrimUpper);
        } else {
          Emit(Tok::kLss);
        }
        return;
      case '>':
        if (Peek() == '=') {
          Next();
          Emit(Tok::kGte);
        } else if (Peek() == '/') {
          Next();
          Emit(Tok::kTrimLower);
        } else {
          Emit(Tok::kGtr);
        }
        return;
      default: break;
    }
    if (IsDigit(r) || (r == '.' && IsDigit(Peek()))) {
      Backup();
      LexNumberOrDuration();
      return;
    }
    if (r == '"' || r == '\'') {
      LexString(static_cast<char>(r));
      return;
    }
    if (r == '`') {
      LexRawString();
      return;
    }
    if (IsAlpha(r) || r == ':') {
      if (!bracket_open_) {
        Backup();
        LexKeywordOrIdentifier();
        return;
      }
      if (r == ':') {
        if (got_colon_) {
          Error("unexpected colon " + GoQuoteRune(':'));
          return;
        }
        Emit(Tok::kColon);
        got_colon_ = true;
        return;
      }
      if (ScanDurationKeyword()) return;
      Error("unexpected character: " + GoQuoteRune(static_cast<uint32_t>(r)) + ", expected " +
            GoQuoteRune(':'));
      return;
    }
    switch (r) {
      case '(':
        Emit(Tok::kLParen);
        ++paren_depth_;
        return;
      case ')':
        Emit(Tok::kRParen);
        if (--paren_depth_ < 0) {
          out_.pop_back();
          Error("unexpected right parenthesis " + GoQuoteRune(')'));
        }
        return;
      case '{':
        Emit(Tok::kLBrace);
        brace_open_ = true;
        return;
      case '[':
        if (bracket_open_) {
          Error("unexpected left bracket " + GoQuoteRune('['));
          return;
        }
        got_colon_ = false;
        Emit(Tok::kLBracket);
        SkipSpaces();
        bracket_open_ = true;
        dur_state_ = true;
        return;
      case ']':
        if (!bracket_open_) {
          Error("unexpected right bracket " + GoQuoteRune(']'));
          return;
        }
        Emit(Tok::kRBracket);
        bracket_open_ = false;
        return;
      case '@': Emit(Tok::kAt); return;
      default:
        Error("unexpected character: " + GoQuoteRune(static_cast<uint32_t>(r)));
        return;
    }
  }

  void LexInsideBraces() {
    if (SkipComment()) return;
    int r = Next();
    if (r == kEofRune) {
      Error("unexpected end of input inside braces");
      return;
    }
    if (IsSpace(r)) {
      SkipSpaces();
      return;
    }
    if (IsAlpha(r)) {
      while (IsAlphaNumeric(Next())) {
      }
      Backup();
      Emit(Tok::kIdentifier);
      return;
    }
    switch (r) {
      case ',': Emit(Tok::kComma); return;
      case '"':
      case '\'': LexString(static_cast<char>(r)); return;
      case '`': LexRawString(); return;
      case '=':
        if (Next() == '~') {
          Emit(Tok::kEqlRegex);
        } else {
          Backup();
          Emit(Tok::kEql);
        }
        return;
      case '!': {
        int nr = Next();
        if (nr == '~') {
          Emit(Tok::kNeqRegex);
        } else if (nr == '=') {
          Emit(Tok::kNeq);
        } else {
          Error("unexpected character after '!' inside braces: " +
                GoQuoteRune(nr < 0 ? kRuneError : nr));
        }
        return;
      }
      case '{': Error("unexpected left brace " + GoQuoteRune('{')); return;
      case '}':
        Emit(Tok::kRBrace);
        brace_open_ = false;
        return;
      default:
        Error("unexpected character inside braces: " + GoQuoteRune(static_cast<uint32_t>(r)));
        return;
    }
  }

  void LexDurationExpr() {
    int r = Next();
    if (r == kEofRune) {
      Error("unexpected end of input in duration expression");
      return;
    }
    if (IsSpace(r)) {
      SkipSpaces();
      return;
    }
    switch (r) {
      case ']':
        Emit(Tok::kRBracket);
        bracket_open_ = false;
        got_colon_ = false;
        dur_state_ = false;
        return;
      case ':': {
        bool first = !out_.empty() && out_.back().kind == Tok::kLBracket;
        Emit(Tok::kColon);
        if (first) {
          out_.pop_back();
          Error("unexpected colon before duration in duration expression");
          return;
        }
        if (got_colon_) {
          out_.pop_back();
          Error("unexpected repeated colon in duration expression");
          return;
        }
        got_colon_ = true;
        return;
      }
      case '(':
        Emit(Tok::kLParen);
        ++paren_depth_;
        return;
      case ')':
        Emit(Tok::kRParen);
        if (--paren_depth_ < 0) {
          out_.pop_back();
          Error("unexpected right parenthesis " + GoQuoteRune(')'));
        }
        return;
      case '+': Emit(Tok::kAdd); return;
      case '-': Emit(Tok::kSub); return;
      case '*': Emit(Tok::kMul); return;
      case '/': Emit(Tok::kDiv); return;
      case '%': Emit(Tok::kMod); return;
      case '^': Emit(Tok::kPow); return;
      case ',': Emit(Tok::kComma); return;
      default: break;
    }
    if (r == 's' || r == 'S' || r == 'm' || r == 'M' || r == 'r' || r == 'R') {
      if (ScanDurationKeyword()) return;
      Error("unexpected character in duration expression: " +
            GoQuoteRune(static_cast<uint32_t>(r)));
      return;
    }
    if (IsDigit(r) || (r == '.' && IsDigit(Peek()))) {
      Backup();
      dur_state_ = false;  // as upstream: after a number, lexStatements continues
      LexNumberOrDuration();
      return;
    }
    Error("unexpected character in duration expression: " +
          GoQuoteRune(r < 0 ? kRuneError : static_cast<uint32_t>(r)));
  }

  // The first letter has been consumed.
  bool ScanDurationKeyword() {
    while (IsAlpha(Next())) {
    }
    Backup();
    std::string kw = ToLower(in_.substr(start_, pos_ - start_));
    Tok t;
    if (kw == "step") {
      t = Tok::kStep;
    } else if (kw == "range") {
      t = Tok::kRange;
    } else if (kw == "min" || kw == "min_of") {
      t = Tok::kMinOf;
    } else if (kw == "max" || kw == "max_of") {
      t = Tok::kMaxOf;
    } else {
      return false;
    }
    Emit(t);
    return true;
  }

  void LexKeywordOrIdentifier() {
    while (true) {
      int r = Next();
      if (IsAlphaNumeric(r) || r == ':') continue;
      Backup();
      break;
    }
    std::string_view word = in_.substr(start_, pos_ - start_);
    const auto& kw = Keywords();
    auto it = kw.find(ToLower(word));
    if (it != kw.end()) {
      Tok t = it->second;
      if ((t == Tok::kFill || t == Tok::kFillLeft || t == Tok::kFillRight) &&
          !FollowedByLeftParen()) {
        t = Tok::kIdentifier;
      }
      Emit(t);
    } else if (word.find(':') == std::string_view::npos) {
      Emit(Tok::kIdentifier);
    } else {
      Emit(Tok::kMetricIdentifier);
    }
  }

  bool FollowedByLeftParen() const {
    for (size_t p = pos_; p < in_.size(); ++p) {
      if (!IsSpace(static_cast<unsigned char>(in_[p]))) return in_[p] == '(';
    }
    return false;
  }

  void LexNumberOrDuration() {
    if (ScanNumber()) {
      Emit(Tok::kNumber);
      return;
    }
    if (AcceptRemainingDuration()) {
      Backup();
      Emit(Tok::kDuration);
      return;
    }
    Error("bad number or duration syntax: " + GoQuote(in_.substr(start_, pos_ - start_)));
  }

  bool AcceptRemainingDuration() {
    if (!Accept("smhdwy")) return false;
    Accept("s");
    while (Accept("0123456789")) {
      while (Accept("0123456789")) {
      }
      if (!Accept("smhdw")) return false;
      Accept("s");
    }
    return !IsAlphaNumeric(Next());
  }

  bool ScanNumber() {
    size_t initial = pos_;
    std::string_view digits = "0123456789";
    bool hex = false;
    if (Accept("0") && Accept("xX")) {
      Accept("_");
      digits = "0123456789abcdefABCDEF";
      hex = true;
    }
    Accept(".");
    Accept(digits);
    bool dot = false;
    bool exponent = false;
    std::string all = std::string(digits) + "._eE";
    while (Is(all)) {
      if (Is(".") && dot) {
        Accept(".");
        return false;
      }
      if (Is("eE") && exponent) {
        Accept("eE");
        return false;
      }
      if (Accept(".")) {
        dot = true;
        if (Accept("_.")) return false;
        if (hex) return false;
        continue;
      }
      if (Accept("eE")) {
        exponent = true;
        Accept("+-");
        if (Accept("._eE") || Peek() == kEofRune) return false;
        continue;
      }
      if (Accept("_")) {
        if (Accept("._eE") || Peek() == kEofRune) return false;
        continue;
      }
      AcceptRun(digits);
    }
    if (pos_ == initial) return false;
    return !IsAlphaNumeric(Peek());
  }

  void LexString(char quote) {
    while (true) {
      int r = Next();
      if (r == '\\') {
        if (!LexEscape(quote)) return;
        continue;
      }
      if (r == static_cast<int>(kRuneError)) {
        Error("invalid UTF-8 rune");
        return;
      }
      if (r == kEofRune || r == '\n') {
        Error("unterminated quoted string");
        return;
      }
      if (r == quote) break;
    }
    Emit(Tok::kString);
  }

  bool LexEscape(char quote) {
    int n = 0;
    uint32_t base = 0;
    uint32_t max_val = 0;
    int ch = Next();
    switch (ch) {
      case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\':
        return true;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        n = 3;
        base = 8;
        max_val = 255;
        break;
      case 'x':
        ch = Next();
        n = 2;
        base = 16;
        max_val = 255;
        break;
      case 'u':
        ch = Next();
        n = 4;
        base = 16;
        max_val = 0x10FFFF;
        break;
      case 'U':
        ch = Next();
        n = 8;
        base = 16;
        max_val = 0x10FFFF;
        break;
      case kEofRune:
        Error("escape sequence not terminated");
        return false;
      default:
        if (ch == quote) return true;
        Error("unknown escape sequence " + FormatU(ch));
        return false;
    }
    uint32_t x = 0;
    while (n > 0) {
      uint32_t d = static_cast<uint32_t>(DigitVal(ch));
      if (d >= base) {
        if (ch == kEofRune) {
          Error("escape sequence not terminated");
        } else {
          Error("illegal character " + FormatU(ch) + " in escape sequence");
        }
        return false;
      }
      x = x * base + d;
      --n;
      if (n > 0) ch = Next();
    }
    if (x > max_val || (x >= 0xD800 && x < 0xE000)) {
      Error("escape sequence is an invalid Unicode code point");
      return false;
    }
    return true;
  }

  void LexRawString() {
    while (true) {
      int r = Next();
      if (r == static_cast<int>(kRuneError)) {
        Error("invalid UTF-8 rune");
        return;
      }
      if (r == kEofRune) {
        Error("unterminated raw string");
        return;
      }
      if (r == '`') break;
    }
    Emit(Tok::kString);
  }

  std::string_view in_;
  size_t pos_ = 0;
  size_t start_ = 0;
  size_t width_ = 0;
  int paren_depth_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  bool got_colon_ = false;
  bool dur_state_ = false;
  bool done_ = false;
  std::vector<Token> out_;
};

}  // namespace

bool IsOperatorTok(Tok t) { return t >= Tok::kAdd && t <= Tok::kTrimLower; }
bool IsAggregatorTok(Tok t) { return t >= Tok::kAvg && t <= Tok::kLimitRatio; }
bool IsKeywordTok(Tok t) { return t >= Tok::kBool && t <= Tok::kFillRight; }

std::vector<Token> Tokenize(std::string_view input) { return Lexer(input).Run(); }

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    size_t w = 0;
    uint32_t r = DecodeRune(s, i, &w);
    if (r == kRuneError && w == 1 && common::Utf8SeqLen(s, i) == 0) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
    } else {
      AppendEscapedRune(out, r, '"');
    }
    i += w;
  }
  out += "\"";
  return out;
}

std::string GoQuoteRune(uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r < 0xE000)) r = kRuneError;
  std::string out = "'";
  AppendEscapedRune(out, r, '\'');
  out += "'";
  return out;
}

namespace {

std::string ItemString(const Token& t) {
  if (t.kind == Tok::kIdentifier || t.kind == Tok::kMetricIdentifier) return GoQuote(t.val);
  if (IsKeywordTok(t.kind)) return "<" + t.val + ">";
  if (IsOperatorTok(t.kind)) return "<op:" + t.val + ">";
  if (IsAggregatorTok(t.kind)) return "<aggr:" + t.val + ">";
  // Count runes for Go's %.10q.
  size_t runes = 0;
  size_t i = 0;
  while (i < t.val.size()) {
    size_t w = 0;
    DecodeRune(t.val, i, &w);
    i += w;
    if (++runes == 10) break;
  }
  if (i < t.val.size()) return GoQuote(t.val.substr(0, i)) + "...";
  return GoQuote(t.val);
}

}  // namespace

std::string TokenDesc(const Token& t) {
  switch (t.kind) {
    case Tok::kEof: return "end of input";
    case Tok::kError: return t.val;
    case Tok::kIdentifier: return "identifier " + ItemString(t);
    case Tok::kMetricIdentifier: return "metric identifier " + ItemString(t);
    case Tok::kString: return "string " + ItemString(t);
    case Tok::kNumber:
      return "number " + ItemString(t);
    case Tok::kDuration: return "duration " + ItemString(t);
    default: return ItemString(t);
  }
}

common::Result<std::string> ReadGoQuoted(std::string_view s, size_t* pos) {
  size_t i = *pos;
  if (i >= s.size()) return common::Status::InvalidArgument("expected a string");
  char q = s[i];
  if (q != '"' && q != '\'' && q != '`') return common::Status::InvalidArgument("expected a string");
  ++i;
  std::string out;
  while (true) {
    if (i >= s.size()) return common::Status::InvalidArgument("unterminated string");
    char c = s[i];
    if (c == q) {
      ++i;
      break;
    }
    if (c == '\\' && q != '`') {
      if (i + 1 >= s.size()) return common::Status::InvalidArgument("unterminated escape in string");
      char e = s[i + 1];
      i += 2;
      switch (e) {
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '"': out += '"'; break;
        case '\'': out += '\''; break;
        case 'x': case 'u': case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + n > s.size()) return common::Status::InvalidArgument("bad escape in string");
          uint32_t v = 0;
          for (size_t k = 0; k < n; ++k) {
            int h = DigitVal(static_cast<unsigned char>(s[i + k]));
            if (h >= 16) h = -1;
            if (h < 0) return common::Status::InvalidArgument("bad escape in string");
            v = v * 16 + static_cast<uint32_t>(h);
          }
          i += n;
          if (e == 'x') {
            out += static_cast<char>(v);
          } else {
            if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) {
              return common::Status::InvalidArgument("bad unicode escape in string");
            }
            AppendUtf8(out, v);
          }
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            if (i + 2 > s.size()) return common::Status::InvalidArgument("bad octal escape in string");
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2; ++k) {
              char d = s[i + k];
              if (d < '0' || d > '7') return common::Status::InvalidArgument("bad octal escape in string");
              v = v * 8 + static_cast<uint32_t>(d - '0');
            }
            if (v > 255) return common::Status::InvalidArgument("bad octal escape in string");
            i += 2;
            out += static_cast<char>(v);
          } else {
            return common::Status::InvalidArgument(std::string("unknown escape sequence \\") + e);
          }
      }
      continue;
    }
    if (c == '\n' && q != '`') return common::Status::InvalidArgument("newline in string");
    out += c;
    ++i;
  }
  *pos = i;
  return out;
}

std::string UnquoteString(std::string_view raw) {
  size_t pos = 0;
  auto r = ReadGoQuoted(raw, &pos);
  return r.ok() ? std::move(r).value() : std::string(raw);
}

}  // namespace collector::promql::parser
