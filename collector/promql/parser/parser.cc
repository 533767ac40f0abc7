// PromQL parser: a Pratt parser over the lexer's tokens that follows Prometheus 3's
// generated_parser.y (precedence, error productions and their messages) and parse.go (semantic
// actions and the checkAST type checker).
//
// Errors: like Prometheus, only the first error is reported. Semantic errors found while parsing
// (e.g. "ranges only allowed for vector selectors") are recorded and parsing goes on; a syntax
// error stops the parse. The tree is type-checked only when parsing produced no error.
//
// Nesting: the tree may be at most kMaxDepth levels deep (parentheses, calls, aggregations, unary
// operators, subqueries, binary-operator chains, duration expressions all count), so that this
// parser, Check(), Format(), the engine's evaluator and the tree's destructor, which all recurse,
// stay far from the stack's end. A deeper query is a syntax error ("expression nests too deeply").
// Every recursion of the parser passes a Nest guard, which refuses to go deeper than the limit;
// loops that wrap an already built expression (left-deep `a + b + c`, `foo[1m:][1m:]`, duration
// chains) count the wrapped expression's height as they go (peak_).

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "collector/promql/parser/lexer.h"
#include "collector/promql/parser/parser.h"
#include "common/base/utf8.h"

namespace collector::promql::parser {
namespace {

using storage::Matcher;

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ---- numbers and durations -------------------------------------------------------------------

// Go's rule for underscores in number literals: only between digits, or right after a base prefix.
bool UnderscoresOk(std::string_view s, bool has_prefix) {
  char prev = has_prefix ? '0' : '.';  // '.' = "not a digit"
  for (size_t i = has_prefix ? 2 : 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!(std::isxdigit(static_cast<unsigned char>(prev)) || (has_prefix && i == 2))) {
        return false;
      }
    } else if (prev == '_' && !std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
    prev = c;
  }
  return prev != '_';
}

std::string StripUnderscores(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '_') out.push_back(c);
  }
  return out;
}

// strconv.ParseInt(s, 0, 64) for the non-negative literals the lexer produces.
std::optional<double> ParseGoInt(std::string_view s) {
  int base = 10;
  size_t skip = 0;
  bool prefix = false;
  if (s.size() >= 2 && s[0] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    if (p == 'x') {
      base = 16, skip = 2, prefix = true;
    } else if (p == 'b') {
      base = 2, skip = 2, prefix = true;
    } else if (p == 'o') {
      base = 8, skip = 2, prefix = true;
    } else {
      base = 8, skip = 1;
    }
  }
  if (s.find('_') != std::string_view::npos && !UnderscoresOk(s, prefix)) return std::nullopt;
  std::string digits = StripUnderscores(s.substr(skip));
  if (digits.empty()) return skip == 1 ? std::optional<double>(0) : std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - d) / base) {
      return std::nullopt;  // out of range: ParseFloat decides
    }
    v = v * base + static_cast<uint64_t>(d);
  }
  return static_cast<double>(v);
}

std::optional<double> ParseGoFloat(std::string_view s) {
  std::string l = ToLower(s);
  if (l == "inf" || l == "+inf" || l == "infinity" || l == "+infinity") {
    return std::numeric_limits<double>::infinity();
  }
  if (l == "-inf" || l == "-infinity") return -std::numeric_limits<double>::infinity();
  if (l == "nan") return std::numeric_limits<double>::quiet_NaN();
  bool prefix = l.size() >= 2 && l[0] == '0' && l[1] == 'x';
  if (l.find('_') != std::string::npos && !UnderscoresOk(l, prefix)) return std::nullopt;
  std::string t = StripUnderscores(l);
  if (t.empty()) return std::nullopt;
  if (prefix && t.find('p') == std::string::npos) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return std::nullopt;
  return v;
}

// Prometheus' parser.number(): ParseInt(s, 0, 64), else ParseFloat.
common::Result<double> ParseNumber(std::string_view s) {
  if (auto v = ParseGoInt(s)) return *v;
  if (auto v = ParseGoFloat(s)) return *v;
  return common::Status::InvalidArgument("error parsing number: strconv.ParseFloat: parsing " +
                                         GoQuote(s) + ": invalid syntax");
}

// model.ParseDuration, in milliseconds.
common::Result<int64_t> ParseDurationMs(std::string_view s) {
  if (s == "0") return int64_t{0};
  if (s.empty()) return common::Status::InvalidArgument("empty duration string");
  static constexpr struct {
    const char* unit;
    int64_t ms;
  } kUnits[] = {{"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
                {"d", 24LL * 3600 * 1000},        {"h", 3600LL * 1000},
                {"m", 60LL * 1000},               {"s", 1000},
                {"ms", 1}};
  auto invalid = [&] {
    return common::Status::InvalidArgument("not a valid duration string: " + GoQuote(s));
  };
  size_t i = 0;
  int last = -1;
  __int128 total = 0;
  while (i < s.size()) {
    size_t j = i;
    __int128 n = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      n = n * 10 + (s[j] - '0');
      if (n > (static_cast<__int128>(1) << 100)) n = static_cast<__int128>(1) << 100;
      ++j;
    }
    if (j == i) return invalid();
    int unit = -1;
    if (j + 1 < s.size() && s[j] == 'm' && s[j + 1] == 's') {
      unit = 6;
      j += 2;
    } else if (j < s.size()) {
      for (int k = 0; k < 6; ++k) {
        if (s[j] == kUnits[k].unit[0]) {
          unit = k;
          break;
        }
      }
      if (unit >= 0) ++j;
    }
    if (unit < 0 || unit <= last) return invalid();
    last = unit;
    total += n * kUnits[unit].ms;
    if (total * 1000000 > static_cast<__int128>(std::numeric_limits<int64_t>::max())) {
      return common::Status::InvalidArgument("duration out of range");
    }
    i = j;
  }
  return static_cast<int64_t>(total);
}

// Go's %f for the @ bounds message.
std::string GoFormatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%f", v);
  return buf;
}

bool DurationOutOfRange(double secs) {
  return secs > 9223372036.854775807 || secs < -9223372036.854775808;
}

int64_t SecondsToMs(double secs) { return static_cast<int64_t>(std::llround(secs * 1000.0)); }

// ---- token classes ---------------------------------------------------------------------------

bool IsMatchOp(Tok t) {
  return t == Tok::kEql || t == Tok::kNeq || t == Tok::kEqlRegex || t == Tok::kNeqRegex;
}

// metric_identifier: keywords usable as a metric name.
bool IsMetricIdentifier(Tok t) {
  if (IsAggregatorTok(t)) return true;
  switch (t) {
    case Tok::kIdentifier:
    case Tok::kMetricIdentifier:
    case Tok::kBy:
    case Tok::kWithout:
    case Tok::kLand:
    case Tok::kLor:
    case Tok::kLunless:
    case Tok::kOffset:
    case Tok::kStart:
    case Tok::kEnd:
    case Tok::kStep:
    case Tok::kRange:
    case Tok::kAnchored:
    case Tok::kSmoothed:
      return true;
    default:
      return false;
  }
}

// maybe_label: keywords usable as a label name in grouping lists.
bool IsMaybeLabel(Tok t) {
  if (IsAggregatorTok(t)) return true;
  switch (t) {
    case Tok::kIdentifier:
    case Tok::kMetricIdentifier:
    case Tok::kBool:
    case Tok::kBy:
    case Tok::kGroupLeft:
    case Tok::kGroupRight:
    case Tok::kIgnoring:
    case Tok::kLand:
    case Tok::kLor:
    case Tok::kLunless:
    case Tok::kOffset:
    case Tok::kOn:
    case Tok::kWithout:
    case Tok::kStart:
    case Tok::kEnd:
    case Tok::kAtan2:
    case Tok::kStep:
    case Tok::kRange:
    case Tok::kAnchored:
    case Tok::kSmoothed:
      return true;
    default:
      return false;
  }
}

int BinaryPrecedence(Tok t) {
  switch (t) {
    case Tok::kLor: return 1;
    case Tok::kLand:
    case Tok::kLunless: return 2;
    case Tok::kEqlc:
    case Tok::kNeq:
    case Tok::kGtr:
    case Tok::kLss:
    case Tok::kGte:
    case Tok::kLte: return 3;
    case Tok::kAdd:
    case Tok::kSub: return 4;
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kAtan2:
    case Tok::kTrimUpper:
    case Tok::kTrimLower: return 5;
    case Tok::kPow: return 6;
    default: return -1;
  }
}
constexpr int kPowPrecedence = 6;

BinOp ToBinOp(Tok t) {
  switch (t) {
    case Tok::kAdd: return BinOp::kAdd;
    case Tok::kSub: return BinOp::kSub;
    case Tok::kMul: return BinOp::kMul;
    case Tok::kDiv: return BinOp::kDiv;
    case Tok::kMod: return BinOp::kMod;
    case Tok::kPow: return BinOp::kPow;
    case Tok::kAtan2: return BinOp::kAtan2;
    case Tok::kEqlc: return BinOp::kEql;
    case Tok::kNeq: return BinOp::kNeq;
    case Tok::kGtr: return BinOp::kGtr;
    case Tok::kLss: return BinOp::kLss;
    case Tok::kGte: return BinOp::kGte;
    case Tok::kLte: return BinOp::kLte;
    case Tok::kLand: return BinOp::kLand;
    case Tok::kLor: return BinOp::kLor;
    case Tok::kTrimUpper: return BinOp::kTrimUpper;
    case Tok::kTrimLower: return BinOp::kTrimLower;
    default: return BinOp::kLunless;
  }
}

AggOp ToAggOp(Tok t) {
  switch (t) {
    case Tok::kSum: return AggOp::kSum;
    case Tok::kAvg: return AggOp::kAvg;
    case Tok::kCount: return AggOp::kCount;
    case Tok::kMin: return AggOp::kMin;
    case Tok::kMax: return AggOp::kMax;
    case Tok::kGroup: return AggOp::kGroup;
    case Tok::kStddev: return AggOp::kStddev;
    case Tok::kStdvar: return AggOp::kStdvar;
    case Tok::kTopK: return AggOp::kTopK;
    case Tok::kBottomK: return AggOp::kBottomK;
    case Tok::kCountValues: return AggOp::kCountValues;
    case Tok::kQuantile: return AggOp::kQuantile;
    case Tok::kLimitK: return AggOp::kLimitK;
    default: return AggOp::kLimitRatio;
  }
}

// Prometheus' ValueType.String() ("vector", "matrix", ...), used by the subquery message.
std::string_view RawTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "vector";
    case ValueType::kMatrix: return "matrix";
    case ValueType::kString: return "string";
    default: return "none";
  }
}

bool IsDurLiteral(const Expr* e) {
  return e != nullptr && e->kind == Expr::Kind::kDuration &&
         static_cast<const DurationExpr*>(e)->op == DurationExpr::Op::kLiteral;
}
double DurLiteralValue(const Expr* e) {
  return static_cast<const DurationExpr*>(e)->literal_seconds;
}

// ---- the parser ------------------------------------------------------------------------------

// Maximum number of levels of a parsed tree (a lone selector is 1 level).
constexpr int kMaxDepth = 1000;

class Parser {
 public:
  explicit Parser(std::string_view input) : in_(input), toks_(Tokenize(input)) {}

  common::Result<ExprPtr> ParseTop() {
    ExprPtr e;
    if (Cur().kind == Tok::kEof) {
      AddErr(0, "no expression found in input");
    } else {
      e = ParseBinary(0);
      if (e && Cur().kind != Tok::kEof) Fail(Cur());
    }
    if (!err_ && e) Check(e.get());
    if (err_) return ErrorStatus();
    return e;
  }

  common::Result<ExprPtr> ParseSelectorTop() {
    ExprPtr e;
    const Token& t = Cur();
    if (IsMetricIdentifier(t.kind)) {
      e = ParseVectorSelector(true);
    } else if (t.kind == Tok::kLBrace) {
      e = ParseVectorSelector(false);
    } else {
      Fail(t);
    }
    if (e && Cur().kind != Tok::kEof) Fail(Cur());
    if (err_) return ErrorStatus();
    return e;
  }

 private:
  struct Context {
    std::string ctx;
    std::string expected;
  };
  // One level deeper for the parse of a node's children: depth_ counts the ancestors of the node
  // being parsed. ok() is false (and a syntax error recorded) when that would exceed kMaxDepth;
  // the caller must then return nullptr without recursing.
  class Nest {
   public:
    Nest(Parser* p, int pos, int levels = 1) : p_(p), levels_(levels) {
      p_->depth_ += levels_;
      ok_ = p_->Reach(p_->depth_, pos);
    }
    ~Nest() { p_->depth_ -= levels_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    bool ok() const { return ok_; }

   private:
    Parser* p_;
    int levels_;
    bool ok_;
  };

  // Records that some node has `ancestors` ancestors (peak_); false and a syntax error at `pos`
  // when that puts it beyond kMaxDepth levels.
  bool Reach(int ancestors, int pos) {
    if (ancestors > peak_) peak_ = ancestors;
    if (ancestors < kMaxDepth) return true;
    // Prometheus' parser is not recursive: it would go on to the end and report the lexer's
    // error (typically "unclosed left parenthesis"); prefer that one when there is one.
    if (toks_.back().kind == Tok::kError) {
      AddErr(toks_.back().pos, toks_.back().val);
    } else {
      AddErr(pos, "expression nests too deeply (more than " + std::to_string(kMaxDepth) +
                      " levels)");
    }
    return false;
  }

  class ScopedContext {
   public:
    ScopedContext(Parser* p, std::string ctx, std::string expected) : p_(p) {
      p_->ctx_.push_back({std::move(ctx), std::move(expected)});
    }
    ~ScopedContext() { p_->ctx_.pop_back(); }

   private:
    Parser* p_;
  };

  const Token& Cur() const { return toks_[i_]; }
  const Token& PeekAt(size_t k) const {
    size_t j = i_ + k;
    return j < toks_.size() ? toks_[j] : toks_.back();
  }
  Token Take() {
    Token t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    last_end_ = t.End();
    return t;
  }

  void AddErr(int pos, std::string msg) {
    if (!err_) err_ = std::make_pair(pos, std::move(msg));
  }

  // A syntax error at `t`: Prometheus' unexpected(context, expected), or the lexer's message.
  std::nullptr_t Fail(const Token& t, std::string_view ctx, std::string_view expected) {
    if (t.kind == Tok::kError) {
      AddErr(t.pos, t.val);
    } else {
      std::string msg = "unexpected " + TokenDesc(t);
      if (!ctx.empty()) msg += " in " + std::string(ctx);
      if (!expected.empty()) msg += ", expected " + std::string(expected);
      AddErr(t.pos, msg);
    }
    return nullptr;
  }
  // A syntax error in the innermost enclosing construct with an error production.
  std::nullptr_t Fail(const Token& t) {
    if (ctx_.empty()) return Fail(t, "", "");
    return Fail(t, ctx_.back().ctx, ctx_.back().expected);
  }

  common::Status ErrorStatus() const {
    int pos = err_->first;
    if (pos < 0) pos = 0;
    if (pos > static_cast<int>(in_.size())) pos = static_cast<int>(in_.size());
    int line = 1;
    int last_nl = -1;
    for (int i = 0; i < pos; ++i) {
      if (in_[i] == '\n') {
        ++line;
        last_nl = i;
      }
    }
    return common::Status::InvalidArgument(std::to_string(line) + ":" +
                                           std::to_string(pos - last_nl) +
                                           ": parse error: " + err_->second);
  }

  // ---- expressions ----

  ExprPtr ParseBinary(int min_prec) {
    // Measures the height of the left-deep chain this loop builds: peak_ - depth_ = the levels
    // under lhs's root.
    const int outer_peak = peak_;
    peak_ = depth_;
    ExprPtr lhs = ParseUnary();
    if (!lhs) return nullptr;
    while (true) {
      int prec = BinaryPrecedence(Cur().kind);
      if (prec < 0 || prec < min_prec) break;
      Token op = Take();
      auto bin = std::make_unique<BinaryExpr>();
      bin->op = ToBinOp(op.kind);
      VectorMatching vm;
      if (!ParseBinModifiers(*bin, vm)) return nullptr;
      const int below = peak_ - depth_;
      ExprPtr rhs;
      {
        Nest nest(this, op.pos);
        if (!nest.ok()) return nullptr;
        rhs = ParseBinary(op.kind == Tok::kPow ? prec : prec + 1);
      }
      if (!rhs) return nullptr;
      // The new node takes lhs's place: lhs and everything under it go one level down.
      if (!Reach(depth_ + below + 1, op.pos)) return nullptr;
      bin->pos = {lhs->pos.start, rhs->pos.end};
      bin->lhs = std::move(lhs);
      bin->rhs = std::move(rhs);
      bin->matching = std::move(vm);
      op_pos_[bin.get()] = op.pos;
      lhs = std::move(bin);
    }
    peak_ = std::max(outer_peak, peak_);
    return lhs;
  }

  bool ParseBinModifiers(BinaryExpr& bin, VectorMatching& vm) {
    if (Cur().kind == Tok::kBool) {
      Take();
      bin.return_bool = true;
    }
    if (Cur().kind == Tok::kOn || Cur().kind == Tok::kIgnoring) {
      vm.on = Take().kind == Tok::kOn;
      if (!ParseGroupingLabels(&vm.matching_labels)) return false;
      if (Cur().kind == Tok::kGroupLeft || Cur().kind == Tok::kGroupRight) {
        vm.card = Take().kind == Tok::kGroupLeft ? Cardinality::kManyToOne
                                                 : Cardinality::kOneToMany;
        if (Cur().kind == Tok::kLParen && !ParseGroupingLabels(&vm.include)) return false;
      }
    }
    while (Cur().kind == Tok::kFill || Cur().kind == Tok::kFillLeft ||
           Cur().kind == Tok::kFillRight) {
      Tok which = Take().kind;
      if (Cur().kind != Tok::kLParen) return Fail(Cur()), false;
      Take();
      std::optional<double> v = ParseSignedNumber();
      if (!v) return Fail(Cur()), false;
      if (Cur().kind != Tok::kRParen) return Fail(Cur()), false;
      Take();
      if (which != Tok::kFillRight) vm.fill_left = *v;
      if (which != Tok::kFillLeft) vm.fill_right = *v;
    }
    return true;
  }

  // signed_or_unsigned_number: [+-] (NUMBER | DURATION); nullopt (nothing consumed) otherwise.
  std::optional<double> ParseSignedNumber() {
    size_t save = i_;
    double sign = 1;
    if (Cur().kind == Tok::kAdd || Cur().kind == Tok::kSub) {
      if (Take().kind == Tok::kSub) sign = -1;
    }
    const Token& t = Cur();
    if (t.kind == Tok::kNumber) {
      Token n = Take();
      auto v = ParseNumber(n.val);
      if (!v.ok()) {
        AddErr(n.pos, std::string(v.status().message()));
        return 0.0;
      }
      return sign * v.value();
    }
    if (t.kind == Tok::kDuration) {
      Token d = Take();
      auto ms = ParseDurationMs(d.val);
      if (!ms.ok()) {
        AddErr(d.pos, std::string(ms.status().message()));
        return 0.0;
      }
      return sign * static_cast<double>(ms.value()) / 1000.0;
    }
    i_ = save;
    return std::nullopt;
  }

  ExprPtr ParseUnary() {
    if (Cur().kind == Tok::kAdd || Cur().kind == Tok::kSub) {
      Token op = Take();
      ExprPtr operand;
      {
        Nest nest(this, op.pos);
        if (!nest.ok()) return nullptr;
        operand = ParseBinary(kPowPrecedence);
      }
      if (!operand) return nullptr;
      if (operand->kind == Expr::Kind::kNumberLiteral) {
        auto* nl = static_cast<NumberLiteral*>(operand.get());
        if (op.kind == Tok::kSub) nl->val = -nl->val;
        nl->pos.start = op.pos;
        return operand;
      }
      auto u = std::make_unique<UnaryExpr>();
      u->negate = op.kind == Tok::kSub;
      u->pos = {op.pos, operand->pos.end};
      u->expr = std::move(operand);
      return u;
    }
    const int outer_peak = peak_;
    peak_ = depth_;
    ExprPtr e = ParsePrimary();
    if (!e) return nullptr;
    e = ParsePostfix(std::move(e));
    peak_ = std::max(outer_peak, peak_);
    return e;
  }

  ExprPtr ParsePrimary() {
    const Token& t = Cur();
    switch (t.kind) {
      case Tok::kNumber: {
        Token n = Take();
        auto lit = std::make_unique<NumberLiteral>();
        auto v = ParseNumber(n.val);
        if (!v.ok()) {
          AddErr(n.pos, std::string(v.status().message()));
        } else {
          lit->val = v.value();
        }
        lit->pos = {n.pos, n.End()};
        return lit;
      }
      case Tok::kDuration: {
        Token d = Take();
        auto lit = std::make_unique<NumberLiteral>();
        auto ms = ParseDurationMs(d.val);
        if (!ms.ok()) {
          AddErr(d.pos, std::string(ms.status().message()));
        } else {
          lit->val = static_cast<double>(ms.value()) / 1000.0;
        }
        lit->duration = true;
        lit->pos = {d.pos, d.End()};
        return lit;
      }
      case Tok::kString: {
        Token s = Take();
        auto lit = std::make_unique<StringLiteral>();
        lit->val = UnquoteString(s.val);
        lit->pos = {s.pos, s.End()};
        return lit;
      }
      case Tok::kLParen: {
        Token lp = Take();
        ExprPtr inner;
        {
          Nest nest(this, lp.pos);
          if (!nest.ok()) return nullptr;
          inner = ParseBinary(0);
        }
        if (!inner) return nullptr;
        if (Cur().kind != Tok::kRParen) return Fail(Cur());
        Token rp = Take();
        auto p = std::make_unique<ParenExpr>();
        p->pos = {lp.pos, rp.End()};
        p->expr = std::move(inner);
        return p;
      }
      case Tok::kLBrace:
        return ParseVectorSelector(false);
      case Tok::kIdentifier:
        if (PeekAt(1).kind == Tok::kLParen) return ParseCall();
        return ParseVectorSelector(true);
      case Tok::kStart:
      case Tok::kEnd:
      case Tok::kStep:
      case Tok::kRange:
        if (PeekAt(1).kind == Tok::kLParen) return ParseCall();
        return ParseVectorSelector(true);
      case Tok::kEof:
      case Tok::kError:
        return Fail(t);
      default:
        break;
    }
    if (IsAggregatorTok(t.kind)) {
      Tok next = PeekAt(1).kind;
      if (next == Tok::kLParen || next == Tok::kBy || next == Tok::kWithout) {
        return ParseAggregate();
      }
      return ParseVectorSelector(true);
    }
    if (IsMetricIdentifier(t.kind)) return ParseVectorSelector(true);
    return Fail(t);
  }

  // function_call_body: "(" [expr {"," expr} [","]] ")". The "(" is the current token.
  bool ParseCallBody(std::vector<ExprPtr>* args) {
    Token lp = Take();
    if (Cur().kind == Tok::kRParen) {
      Take();
      return true;
    }
    Nest nest(this, lp.pos);  // the arguments sit below the call or aggregation
    if (!nest.ok()) return false;
    while (true) {
      ExprPtr arg = ParseBinary(0);
      if (!arg) return false;
      args->push_back(std::move(arg));
      const Token& t = Cur();
      if (t.kind == Tok::kComma) {
        Token comma = Take();
        if (Cur().kind == Tok::kRParen) {
          AddErr(comma.pos, "trailing commas not allowed in function call args");
          Take();
          return true;
        }
        continue;
      }
      if (t.kind == Tok::kRParen) {
        Take();
        return true;
      }
      Fail(t);
      return false;
    }
  }

  ExprPtr ParseCall() {
    Token name = Take();
    auto call = std::make_unique<Call>();
    if (!ParseCallBody(&call->args)) return nullptr;
    std::string fname = name.kind == Tok::kIdentifier ? name.val : ToLower(name.val);
    call->func = LookupFunction(fname);
    if (call->func == nullptr) AddErr(name.pos, "unknown function with name " + GoQuote(name.val));
    call->pos = {name.pos, last_end_};
    return call;
  }

  ExprPtr ParseAggregate() {
    Token op = Take();
    ScopedContext sc(this, "aggregation", "");
    auto agg = std::make_unique<AggregateExpr>();
    agg->op = ToAggOp(op.kind);
    bool modifier_first = false;
    if (Cur().kind == Tok::kBy || Cur().kind == Tok::kWithout) {
      modifier_first = true;
      if (!ParseAggModifier(*agg)) return nullptr;
    }
    if (Cur().kind != Tok::kLParen) return Fail(Cur());
    std::vector<ExprPtr> args;
    if (!ParseCallBody(&args)) return nullptr;
    if (!modifier_first && (Cur().kind == Tok::kBy || Cur().kind == Tok::kWithout)) {
      if (!ParseAggModifier(*agg)) return nullptr;
    }
    agg->pos = {op.pos, last_end_};
    if (args.empty()) {
      AddErr(op.pos, "no arguments for aggregate expression provided");
      return agg;
    }
    size_t desired = 1;
    if (AggOpTakesParam(agg->op)) {
      desired = 2;
      agg->param = std::move(args[0]);
    }
    if (args.size() != desired) {
      AddErr(op.pos, "wrong number of arguments for aggregate expression provided, expected " +
                         std::to_string(desired) + ", got " + std::to_string(args.size()));
      return agg;
    }
    agg->expr = std::move(args[desired - 1]);
    return agg;
  }

  bool ParseAggModifier(AggregateExpr& agg) {
    agg.without = Take().kind == Tok::kWithout;
    agg.grouping_given = true;
    agg.grouping.clear();
    return ParseGroupingLabels(&agg.grouping);
  }

  bool ParseGroupingLabels(std::vector<std::string>* out) {
    if (Cur().kind != Tok::kLParen) return Fail(Cur(), "grouping opts", "\"(\""), false;
    Take();
    if (Cur().kind == Tok::kRParen) {
      Take();
      return true;
    }
    while (true) {
      const Token& t = Cur();
      if (IsMaybeLabel(t.kind)) {
        out->push_back(Take().val);
      } else if (t.kind == Tok::kString) {
        Token s = Take();
        std::string l = UnquoteString(s.val);
        if (l.empty() || !common::IsValidUtf8(l)) {
          AddErr(s.pos, "invalid label name for grouping: " + GoQuote(l));
        }
        out->push_back(std::move(l));
      } else {
        return Fail(t, "grouping opts", "label"), false;
      }
      if (int sep = ListSeparator(Tok::kRParen, "grouping opts", "\",\" or \")\""); sep <= 0) {
        return sep == 0;
      }
    }
  }

  // After an element of a comma-separated list closed by `close` (a trailing comma allowed):
  // 1 = another element follows, 0 = the list ended (close taken), -1 = a parse error.
  int ListSeparator(Tok close, std::string_view ctx, std::string_view expected) {
    if (Cur().kind == Tok::kComma) {
      Take();
      if (Cur().kind != close) return 1;
    } else if (Cur().kind != close) {
      Fail(Cur(), ctx, expected);
      return -1;
    }
    Take();
    return 0;
  }

  ExprPtr ParseVectorSelector(bool with_name) {
    auto vs = std::make_unique<VectorSelector>();
    vs->pos.start = Cur().pos;
    if (with_name) {
      Token name = Take();
      vs->name = name.val;
      vs->pos.end = name.End();
    }
    if (Cur().kind == Tok::kLBrace) {
      if (!ParseLabelMatchers(*vs)) return nullptr;
      vs->pos.end = last_end_;
    }
    if (with_name) {
      auto m = Matcher::Make(Matcher::Type::kEqual, "__name__", vs->name);
      if (m.ok()) vs->matchers.push_back(std::move(m).value());
    }
    return vs;
  }

  void AddMatcher(VectorSelector& vs, int pos, std::string name, Tok op, std::string value) {
    Matcher::Type type = op == Tok::kEql         ? Matcher::Type::kEqual
                         : op == Tok::kNeq       ? Matcher::Type::kNotEqual
                         : op == Tok::kEqlRegex ? Matcher::Type::kRegex
                                                 : Matcher::Type::kNotRegex;
    auto m = Matcher::Make(type, std::move(name), std::move(value));
    if (!m.ok()) {
      AddErr(pos, std::string(m.status().message()));
      return;
    }
    vs.matchers.push_back(std::move(m).value());
  }

  bool ParseLabelMatchers(VectorSelector& vs) {
    ScopedContext sc(this, "label matching", "identifier or \"}\"");
    Take();  // "{"
    if (Cur().kind == Tok::kRBrace) {
      Take();
      return true;
    }
    while (true) {
      const Token& t = Cur();
      if (t.kind == Tok::kIdentifier) {
        Token name = Take();
        if (!IsMatchOp(Cur().kind)) {
          return Fail(Cur(), "label matching", "label matching operator"), false;
        }
        Tok op = Take().kind;
        if (Cur().kind != Tok::kString) return Fail(Cur(), "label matching", "string"), false;
        Token v = Take();
        AddMatcher(vs, name.pos, name.val, op, UnquoteString(v.val));
      } else if (t.kind == Tok::kString) {
        Token name = Take();
        std::string n = UnquoteString(name.val);
        if (IsMatchOp(Cur().kind)) {
          Tok op = Take().kind;
          if (Cur().kind != Tok::kString) return Fail(Cur(), "label matching", "string"), false;
          Token v = Take();
          AddMatcher(vs, name.pos, std::move(n), op, UnquoteString(v.val));
        } else {
          AddMatcher(vs, name.pos, "__name__", Tok::kEql, std::move(n));
        }
      } else {
        return Fail(t, "label matching", "identifier or \"}\""), false;
      }
      if (int sep = ListSeparator(Tok::kRBrace, "label matching", "\",\" or \"}\""); sep <= 0) {
        return sep == 0;
      }
    }
  }

  // ---- postfix modifiers: [range], [range:step], offset, @, anchored, smoothed ----

  // Requires peak_ - depth_ = the levels under e's root (ParseUnary measures them).
  ExprPtr ParsePostfix(ExprPtr e) {
    while (e) {
      switch (Cur().kind) {
        case Tok::kLBracket: {
          // The new range or subquery node takes e's place: e goes one level down.
          const int below = peak_ - depth_;
          const int pos = Cur().pos;
          e = ParseBracket(std::move(e));
          if (e && !Reach(depth_ + below + 1, pos)) return nullptr;
          break;
        }
        case Tok::kOffset: e = ParseOffset(std::move(e)); break;
        case Tok::kAt: e = ParseAt(std::move(e)); break;
        case Tok::kAnchored:
        case Tok::kSmoothed: {
          bool anchored = Take().kind == Tok::kAnchored;
          SetExtended(*e, anchored);
          break;
        }
        default: return e;
      }
    }
    return e;
  }

  static bool CanStartDuration(const Token& t) {
    switch (t.kind) {
      case Tok::kNumber:
      case Tok::kDuration:
      case Tok::kAdd:
      case Tok::kSub:
      case Tok::kLParen:
      case Tok::kStep:
      case Tok::kRange:
      case Tok::kMinOf:
      case Tok::kMaxOf:
      case Tok::kMin:
      case Tok::kMax:
        return true;
      case Tok::kIdentifier: {
        std::string l = ToLower(t.val);
        return l == "min_of" || l == "max_of";
      }
      default:
        return false;
    }
  }

  // Stores a positive_duration_expr as a literal (milliseconds) or an expression.
  void StoreDuration(ExprPtr d, int pos, int64_t* ms, ExprPtr* expr) {
    if (IsDurLiteral(d.get())) {
      double v = DurLiteralValue(d.get());
      if (v <= 0) AddErr(pos, "duration must be greater than 0");
      *ms = SecondsToMs(v);
    } else {
      *expr = std::move(d);
    }
  }

  ExprPtr ParseBracket(ExprPtr e) {
    Token lb = Take();
    const char* kCtx = "subquery or range selector";
    const char* kExp = "number, duration, step(), or range()";
    if (!CanStartDuration(Cur())) return Fail(Cur(), kCtx, kExp);
    int range_pos = Cur().pos;
    ExprPtr range;
    {
      Nest nest(this, lb.pos);  // the range sits below the new range or subquery node
      if (!nest.ok()) return nullptr;
      ScopedContext sc(this, kCtx, kExp);
      range = ParseDur(0);
    }
    if (!range) return nullptr;
    if (Cur().kind == Tok::kRBracket) {
      Token rb = Take();
      const char* msg = nullptr;
      if (e->kind != Expr::Kind::kVectorSelector) {
        msg = "ranges only allowed for vector selectors";
      } else {
        auto* vs = static_cast<VectorSelector*>(e.get());
        if (vs->offset_ms != 0) {
          msg = "no offset modifiers allowed before range";
        } else if (vs->at_ms.has_value()) {
          msg = "no @ modifiers allowed before range";
        }
      }
      if (msg != nullptr) AddErr(lb.pos, msg);
      auto ms = std::make_unique<MatrixSelector>();
      ms->pos = {e->pos.start, rb.End()};
      StoreDuration(std::move(range), range_pos, &ms->range_ms, &ms->range_expr);
      ms->vector_selector = std::move(e);
      return ms;
    }
    if (Cur().kind != Tok::kColon) return Fail(Cur(), "subquery or range", "\":\" or \"]\"");
    Take();
    auto sq = std::make_unique<SubqueryExpr>();
    StoreDuration(std::move(range), range_pos, &sq->range_ms, &sq->range_expr);
    if (Cur().kind != Tok::kRBracket) {
      const char* kCtx2 = "subquery selector";
      const char* kExp2 = "number, duration, step(), range(), or \"]\"";
      if (!CanStartDuration(Cur())) return Fail(Cur(), kCtx2, kExp2);
      int step_pos = Cur().pos;
      ExprPtr step;
      {
        Nest nest(this, lb.pos);
        if (!nest.ok()) return nullptr;
        ScopedContext sc(this, kCtx2, kExp2);
        step = ParseDur(0);
      }
      if (!step) return nullptr;
      if (Cur().kind != Tok::kRBracket) return Fail(Cur(), "subquery selector", "\"]\"");
      StoreDuration(std::move(step), step_pos, &sq->step_ms, &sq->step_expr);
    }
    Token rb = Take();
    sq->pos = {e->pos.start, rb.End()};
    sq->expr = std::move(e);
    return sq;
  }

  // ---- duration expressions ----

  std::unique_ptr<DurationExpr> DurLiteral(double secs, bool is_duration, int pos, int end) {
    auto d = std::make_unique<DurationExpr>();
    d->op = DurationExpr::Op::kLiteral;
    d->literal_seconds = secs;
    d->literal_is_duration = is_duration;
    d->pos = {pos, end};
    return d;
  }

  // number_duration_literal; the current token is a NUMBER or DURATION.
  ExprPtr ParseDurLiteral() {
    Token t = Take();
    double secs = 0;
    if (t.kind == Tok::kNumber) {
      auto v = ParseNumber(t.val);
      if (!v.ok()) {
        AddErr(t.pos, std::string(v.status().message()));
      } else {
        secs = v.value();
      }
    } else {
      auto ms = ParseDurationMs(t.val);
      if (!ms.ok()) {
        AddErr(t.pos, std::string(ms.status().message()));
      } else {
        secs = static_cast<double>(ms.value()) / 1000.0;
      }
    }
    if (DurationOutOfRange(secs)) {
      AddErr(t.pos, "duration out of range");
      secs = 0;
    }
    return DurLiteral(secs, t.kind == Tok::kDuration, t.pos, t.End());
  }

  static bool IsMinOfTok(const Token& t) {
    return t.kind == Tok::kMinOf || t.kind == Tok::kMin ||
           (t.kind == Tok::kIdentifier && ToLower(t.val) == "min_of");
  }
  static bool IsMaxOfTok(const Token& t) {
    return t.kind == Tok::kMaxOf || t.kind == Tok::kMax ||
           (t.kind == Tok::kIdentifier && ToLower(t.val) == "max_of");
  }

  // Applies a unary sign to a duration expression (literal folded, else kNeg).
  ExprPtr ApplyDurSign(const Token& sign, ExprPtr d) {
    if (IsDurLiteral(d.get())) {
      auto* lit = static_cast<DurationExpr*>(d.get());
      if (sign.kind == Tok::kSub) lit->literal_seconds = -lit->literal_seconds;
      if (DurationOutOfRange(lit->literal_seconds)) {
        AddErr(sign.pos, "duration out of range");
        lit->literal_seconds = 0;
      }
      lit->pos.start = sign.pos;
      return d;
    }
    if (sign.kind == Tok::kAdd) return d;
    auto neg = std::make_unique<DurationExpr>();
    neg->op = DurationExpr::Op::kNeg;
    neg->pos = {sign.pos, d->pos.end};
    neg->lhs = std::move(d);
    return neg;
  }

  // step(), range(), min_of(a, b), max_of(a, b), ( expr ), literals.
  ExprPtr ParseDurPrimary() {
    const Token& t = Cur();
    if (t.kind == Tok::kNumber || t.kind == Tok::kDuration) return ParseDurLiteral();
    if (t.kind == Tok::kStep || t.kind == Tok::kRange) {
      Token kw = Take();
      if (Cur().kind != Tok::kLParen) return Fail(Cur());
      Take();
      if (Cur().kind != Tok::kRParen) return Fail(Cur());
      Token rp = Take();
      auto d = std::make_unique<DurationExpr>();
      d->op = kw.kind == Tok::kStep ? DurationExpr::Op::kStep : DurationExpr::Op::kRange;
      d->pos = {kw.pos, rp.End()};
      return d;
    }
    if (IsMinOfTok(t) || IsMaxOfTok(t)) {
      Token kw = Take();
      if (Cur().kind != Tok::kLParen) return Fail(Cur());
      Take();
      Nest nest(this, kw.pos);
      if (!nest.ok()) return nullptr;
      ExprPtr a = ParseDur(0);
      if (!a) return nullptr;
      if (Cur().kind != Tok::kComma) return Fail(Cur());
      Take();
      ExprPtr b = ParseDur(0);
      if (!b) return nullptr;
      if (Cur().kind != Tok::kRParen) return Fail(Cur());
      Token rp = Take();
      auto d = std::make_unique<DurationExpr>();
      d->op = IsMinOfTok(kw) ? DurationExpr::Op::kMinOf : DurationExpr::Op::kMaxOf;
      d->pos = {kw.pos, rp.End()};
      d->lhs = std::move(a);
      d->rhs = std::move(b);
      return d;
    }
    if (t.kind == Tok::kLParen) {
      Token lp = Take();
      ExprPtr inner;
      {
        Nest nest(this, lp.pos);  // no node of its own, but a recursion
        if (!nest.ok()) return nullptr;
        inner = ParseDur(0);
      }
      if (!inner) return nullptr;
      if (Cur().kind != Tok::kRParen) return Fail(Cur());
      Token rp = Take();
      // Parenthesised literals stay literals (a plain range or offset) but keep `wrapped`, so
      // `offset (5m) * 2` prints back with its parentheses.
      static_cast<DurationExpr*>(inner.get())->wrapped = true;
      inner->pos = {lp.pos, rp.End()};
      return inner;
    }
    return Fail(t);
  }

  ExprPtr ParseDurUnary() {
    if (Cur().kind == Tok::kAdd || Cur().kind == Tok::kSub) {
      Token sign = Take();
      ExprPtr operand;
      {
        Nest nest(this, sign.pos);
        if (!nest.ok()) return nullptr;
        operand = ParseDur(3);
      }
      if (!operand) return nullptr;
      return ApplyDurSign(sign, std::move(operand));
    }
    return ParseDurPrimary();
  }

  static int DurPrecedence(Tok t) {
    switch (t) {
      case Tok::kAdd:
      case Tok::kSub: return 1;
      case Tok::kMul:
      case Tok::kDiv:
      case Tok::kMod: return 2;
      case Tok::kPow: return 3;
      default: return -1;
    }
  }

  ExprPtr ParseDur(int min_prec) {
    const int outer_peak = peak_;
    peak_ = depth_;
    ExprPtr lhs = ParseDurUnary();
    if (!lhs) return nullptr;
    lhs = ParseDurRest(std::move(lhs), min_prec);
    peak_ = std::max(outer_peak, peak_);
    return lhs;
  }

  // Requires peak_ - depth_ = the levels under lhs's root (the callers measure them).
  ExprPtr ParseDurRest(ExprPtr lhs, int min_prec) {
    while (true) {
      int prec = DurPrecedence(Cur().kind);
      if (prec < 0 || prec < min_prec) return lhs;
      Token op = Take();
      const int below = peak_ - depth_;
      ExprPtr rhs;
      {
        Nest nest(this, op.pos);
        if (!nest.ok()) return nullptr;
        rhs = ParseDur(op.kind == Tok::kPow ? prec : prec + 1);
      }
      if (!rhs) return nullptr;
      if (!Reach(depth_ + below + 1, op.pos)) return nullptr;
      auto d = std::make_unique<DurationExpr>();
      switch (op.kind) {
        case Tok::kAdd: d->op = DurationExpr::Op::kAdd; break;
        case Tok::kSub: d->op = DurationExpr::Op::kSub; break;
        case Tok::kMul: d->op = DurationExpr::Op::kMul; break;
        case Tok::kDiv: d->op = DurationExpr::Op::kDiv; break;
        case Tok::kMod: d->op = DurationExpr::Op::kMod; break;
        default: d->op = DurationExpr::Op::kPow; break;
      }
      if ((op.kind == Tok::kDiv || op.kind == Tok::kMod) && IsDurLiteral(rhs.get()) &&
          DurLiteralValue(rhs.get()) == 0) {
        AddErr(op.pos, op.kind == Tok::kDiv ? "division by zero" : "modulo by zero");
      }
      d->pos = {lhs->pos.start, rhs->pos.end};
      d->lhs = std::move(lhs);
      d->rhs = std::move(rhs);
      lhs = std::move(d);
    }
  }

  // offset_duration_expr: a bare (signed) literal, step(), range() or min_of/max_of ends the
  // offset, so `foo offset 1m + 1m` is `(foo offset 1m) + 1m`; an unsigned parenthesised
  // expression may go on with duration arithmetic.
  ExprPtr ParseOffsetDuration() {
    std::optional<Token> sign;
    if (Cur().kind == Tok::kAdd || Cur().kind == Tok::kSub) sign = Take();
    // A sign may add a kNeg node above what follows.
    std::optional<Nest> nest;
    if (sign) {
      nest.emplace(this, sign->pos);
      if (!nest->ok()) return nullptr;
    }
    const int outer_peak = peak_;
    peak_ = depth_;  // ParseDurRest measures the chain from here
    const Token& t = Cur();
    ExprPtr d;
    if (t.kind == Tok::kNumber || t.kind == Tok::kDuration) {
      d = ParseDurLiteral();
    } else if (t.kind == Tok::kStep || t.kind == Tok::kRange || IsMinOfTok(t) ||
               IsMaxOfTok(t)) {
      if ((IsMinOfTok(t) || IsMaxOfTok(t) || t.kind == Tok::kStep || t.kind == Tok::kRange) &&
          PeekAt(1).kind != Tok::kLParen) {
        return Fail(PeekAt(1));
      }
      d = ParseDurPrimary();
    } else if (t.kind == Tok::kLParen) {
      d = ParseDurPrimary();
      if (d && !sign) d = ParseDurRest(std::move(d), 0);
    } else {
      return Fail(t);
    }
    if (!d) return nullptr;
    peak_ = std::max(outer_peak, peak_);
    if (sign) d = ApplyDurSign(*sign, std::move(d));
    return d;
  }

  // The VectorSelector (or SubqueryExpr) whose offset/@ a modifier sets; null after an error.
  VectorSelector* ModifierTarget(Expr& e, SubqueryExpr** sq) {
    *sq = nullptr;
    if (e.kind == Expr::Kind::kVectorSelector) return static_cast<VectorSelector*>(&e);
    if (e.kind == Expr::Kind::kMatrixSelector) {
      auto* ms = static_cast<MatrixSelector*>(&e);
      if (ms->vector_selector->kind != Expr::Kind::kVectorSelector) {
        AddErr(e.pos.start, "ranges only allowed for vector selectors");
        return nullptr;
      }
      return static_cast<VectorSelector*>(ms->vector_selector.get());
    }
    if (e.kind == Expr::Kind::kSubquery) *sq = static_cast<SubqueryExpr*>(&e);
    return nullptr;
  }

  ExprPtr ParseOffset(ExprPtr e) {
    Token kw = Take();
    ExprPtr d;
    {
      // The offset expression sits below the vector selector, itself below a range selector.
      Nest nest(this, kw.pos, e->kind == Expr::Kind::kMatrixSelector ? 2 : 1);
      if (!nest.ok()) return nullptr;
      ScopedContext sc(this, "offset", "number, duration, step(), or range()");
      d = ParseOffsetDuration();
    }
    if (!d) return nullptr;
    bool is_lit = IsDurLiteral(d.get());
    SubqueryExpr* sq = nullptr;
    bool is_target = e->kind == Expr::Kind::kVectorSelector ||
                     e->kind == Expr::Kind::kMatrixSelector || e->kind == Expr::Kind::kSubquery;
    if (!is_target) {
      AddErr(e->pos.start,
             "offset modifier must be preceded by an instant vector selector or range vector "
             "selector or a subquery");
      return e;
    }
    VectorSelector* vs = ModifierTarget(*e, &sq);
    int64_t* off_ms = vs ? &vs->offset_ms : sq ? &sq->offset_ms : nullptr;
    ExprPtr* off_expr = vs ? &vs->offset_expr : sq ? &sq->offset_expr : nullptr;
    if (off_ms == nullptr) return e;
    if (*off_ms != 0 || *off_expr) {
      AddErr(e->pos.start, "offset may not be set multiple times");
    } else if (is_lit) {
      *off_ms = SecondsToMs(DurLiteralValue(d.get()));
    } else {
      *off_expr = std::move(d);
    }
    e->pos.end = last_end_;
    return e;
  }

  ExprPtr ParseAt(ExprPtr e) {
    Take();
    AtModifier pre = AtModifier::kNone;
    std::optional<double> ts;
    if (Cur().kind == Tok::kStart || Cur().kind == Tok::kEnd) {
      pre = Take().kind == Tok::kStart ? AtModifier::kStart : AtModifier::kEnd;
      if (Cur().kind != Tok::kLParen) return Fail(Cur(), "@", "timestamp");
      Take();
      if (Cur().kind != Tok::kRParen) return Fail(Cur(), "@", "timestamp");
      Take();
    } else {
      ts = ParseSignedNumber();
      if (!ts) return Fail(Cur(), "@", "timestamp");
      if (std::isnan(*ts) || std::isinf(*ts) || *ts >= 9223372036854775807.0 ||
          *ts <= -9223372036854775808.0) {
        AddErr(e->pos.start, "timestamp out of bounds for @ modifier: " + GoFormatF(*ts));
      }
    }
    bool is_target = e->kind == Expr::Kind::kVectorSelector ||
                     e->kind == Expr::Kind::kMatrixSelector || e->kind == Expr::Kind::kSubquery;
    if (!is_target) {
      AddErr(e->pos.start,
             "@ modifier must be preceded by an instant vector selector or range vector "
             "selector or a subquery");
      return e;
    }
    SubqueryExpr* sq = nullptr;
    VectorSelector* vs = ModifierTarget(*e, &sq);
    std::optional<int64_t>* at = vs ? &vs->at_ms : sq ? &sq->at_ms : nullptr;
    AtModifier* mod = vs ? &vs->at_modifier : sq ? &sq->at_modifier : nullptr;
    if (at == nullptr) return e;
    if (at->has_value() || *mod != AtModifier::kNone) {
      AddErr(e->pos.start, "@ <timestamp> may not be set multiple times");
      return e;
    }
    if (ts) {
      double ms = std::round(*ts * 1000.0);
      if (std::isfinite(ms) && std::fabs(ms) < 9.2e18) *at = static_cast<int64_t>(ms);
      else *at = 0;
    } else {
      *mod = pre;
    }
    e->pos.end = last_end_;
    return e;
  }

  void SetExtended(Expr& e, bool anchored) {
    const char* name = anchored ? "anchored" : "smoothed";
    VectorSelector* vs = nullptr;
    if (e.kind == Expr::Kind::kVectorSelector) {
      vs = static_cast<VectorSelector*>(&e);
    } else if (e.kind == Expr::Kind::kMatrixSelector) {
      auto* ms = static_cast<MatrixSelector*>(&e);
      if (ms->vector_selector->kind != Expr::Kind::kVectorSelector) return;
      vs = static_cast<VectorSelector*>(ms->vector_selector.get());
    } else if (e.kind == Expr::Kind::kSubquery) {
      AddErr(e.pos.start, std::string(name) + " modifier is not supported for subqueries");
      return;
    } else {
      AddErr(e.pos.start, std::string(name) + " modifier not implemented");
      return;
    }
    if (anchored) {
      vs->anchored = true;
    } else {
      vs->smoothed = true;
    }
    if (vs->anchored && vs->smoothed) {
      AddErr(e.pos.start, "anchored and smoothed modifiers cannot be used together");
    }
  }

  // ---- type checking (parse.go checkAST) ----

  void ExpectType(Expr* e, ValueType want, const std::string& context) {
    ValueType t = Check(e);
    if (t != want) {
      AddErr(e->pos.start, "expected type " + std::string(ValueTypeName(want)) + " in " +
                               context + ", got " + std::string(ValueTypeName(t)));
    }
  }

  int OperatorPos(const BinaryExpr* b) const {
    auto it = op_pos_.find(b);
    return it == op_pos_.end() ? b->pos.start : it->second;
  }

  ValueType Check(Expr* e) {
    ValueType typ = e->Type();
    switch (e->kind) {
      case Expr::Kind::kAggregate: {
        auto* a = static_cast<AggregateExpr*>(e);
        ExpectType(a->expr.get(), ValueType::kVector, "aggregation expression");
        if (a->op == AggOp::kTopK || a->op == AggOp::kBottomK || a->op == AggOp::kQuantile ||
            a->op == AggOp::kLimitK || a->op == AggOp::kLimitRatio) {
          ExpectType(a->param.get(), ValueType::kScalar, "aggregation parameter");
        }
        if (a->op == AggOp::kCountValues) {
          ExpectType(a->param.get(), ValueType::kString, "aggregation parameter");
        }
        break;
      }
      case Expr::Kind::kBinary: {
        auto* b = static_cast<BinaryExpr*>(e);
        ValueType lt = Check(b->lhs.get());
        ValueType rt = Check(b->rhs.get());
        std::string opq = GoQuote(BinOpName(b->op));
        if (b->return_bool && !IsComparison(b->op)) {
          AddErr(OperatorPos(b), "bool modifier can only be used on comparison operators");
        }
        if (IsComparison(b->op) && !b->return_bool && b->rhs->Type() == ValueType::kScalar &&
            b->lhs->Type() == ValueType::kScalar) {
          AddErr(OperatorPos(b), "comparisons between scalars must use BOOL modifier");
        }
        VectorMatching& vm = *b->matching;
        if (IsSetOperator(b->op) && vm.card == Cardinality::kOneToOne) {
          vm.card = Cardinality::kManyToMany;
        }
        if (vm.on) {
          for (const auto& l1 : vm.matching_labels) {
            for (const auto& l2 : vm.include) {
              if (l1 == l2) {
                AddErr(OperatorPos(b), "label " + GoQuote(l1) +
                                           " must not occur in ON and GROUP clause at once");
              }
            }
          }
        }
        if (lt != ValueType::kScalar && lt != ValueType::kVector) {
          AddErr(b->lhs->pos.start,
                 "binary expression must contain only scalar and instant vector types");
        }
        if (rt != ValueType::kScalar && rt != ValueType::kVector) {
          AddErr(b->rhs->pos.start,
                 "binary expression must contain only scalar and instant vector types");
        }
        bool has_fill = vm.fill_left.has_value() || vm.fill_right.has_value();
        if (lt != ValueType::kVector || rt != ValueType::kVector) {
          if (!vm.matching_labels.empty()) {
            AddErr(b->pos.start, "vector matching only allowed between instant vectors");
          }
          if (has_fill) {
            AddErr(b->pos.start, "filling in missing series only allowed between instant vectors");
          }
          b->matching.reset();
        } else if (IsSetOperator(b->op)) {
          if (vm.card == Cardinality::kOneToMany || vm.card == Cardinality::kManyToOne) {
            AddErr(b->pos.start, "no grouping allowed for " + opq + " operation");
          }
          if (vm.card != Cardinality::kManyToMany) {
            AddErr(b->pos.start, "set operations must always be many-to-many");
          }
          if (has_fill) {
            AddErr(b->pos.start, "filling in missing series not allowed for set operators");
          }
        }
        if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && IsSetOperator(b->op)) {
          AddErr(b->pos.start, "set operator " + opq + " not allowed in binary scalar expression");
        }
        break;
      }
      case Expr::Kind::kCall: {
        auto* c = static_cast<Call*>(e);
        const Function* f = c->func;
        if (f == nullptr) break;
        int nargs = static_cast<int>(f->arg_types.size());
        int got = static_cast<int>(c->args.size());
        std::string fq = GoQuote(f->name);
        if (f->variadic == 0) {
          if (nargs != got) {
            AddErr(e->pos.start, "expected " + std::to_string(nargs) +
                                     " argument(s) in call to " + fq + ", got " +
                                     std::to_string(got));
          }
        } else {
          int na = nargs - 1;
          if (na > got) {
            AddErr(e->pos.start, "expected at least " + std::to_string(na) +
                                     " argument(s) in call to " + fq + ", got " +
                                     std::to_string(got));
          } else if (f->variadic > 0 && na + f->variadic < got) {
            AddErr(e->pos.start, "expected at most " + std::to_string(na + f->variadic) +
                                     " argument(s) in call to " + fq + ", got " +
                                     std::to_string(got));
          }
        }
        if (f->name == "info" && got > 1) {
          Expr* a1 = c->args[1].get();
          if (a1->Type() != ValueType::kVector) {
            AddErr(e->pos.start, "expected type instant vector in call to function " + fq +
                                     ", got " + std::string(ValueTypeName(a1->Type())));
          }
          if (a1->kind == Expr::Kind::kVectorSelector) {
            auto* vs = static_cast<VectorSelector*>(a1);
            if (!vs->name.empty()) {
              AddErr(a1->pos.start, "expected label selectors only, got vector selector instead");
            } else {
              bypass_empty_check_.insert(vs);
            }
          } else {
            AddErr(a1->pos.start, "expected label selectors only");
          }
        }
        for (int i = 0; i < got; ++i) {
          int ti = i;
          if (i >= nargs) {
            if (f->variadic == 0) break;
            ti = nargs - 1;
          }
          ValueType t = Check(c->args[i].get());
          if (t != f->arg_types[ti]) {
            AddErr(c->args[i]->pos.start,
                   "expected type " + std::string(ValueTypeName(f->arg_types[ti])) +
                       " in call to function " + fq + ", got " + std::string(ValueTypeName(t)));
          }
        }
        break;
      }
      case Expr::Kind::kParen:
        Check(static_cast<ParenExpr*>(e)->expr.get());
        break;
      case Expr::Kind::kUnary: {
        ValueType t = Check(static_cast<UnaryExpr*>(e)->expr.get());
        if (t != ValueType::kScalar && t != ValueType::kVector) {
          AddErr(e->pos.start,
                 "unary expression only allowed on expressions of type scalar or instant "
                 "vector, got " +
                     GoQuote(ValueTypeName(t)));
        }
        break;
      }
      case Expr::Kind::kSubquery: {
        ValueType t = Check(static_cast<SubqueryExpr*>(e)->expr.get());
        if (t != ValueType::kVector) {
          AddErr(e->pos.start, "subquery is only allowed on instant vector, got " +
                                   std::string(RawTypeName(t)) + " instead");
        }
        break;
      }
      case Expr::Kind::kMatrixSelector:
        Check(static_cast<MatrixSelector*>(e)->vector_selector.get());
        break;
      case Expr::Kind::kVectorSelector: {
        auto* vs = static_cast<VectorSelector*>(e);
        if (!vs->name.empty()) {
          for (size_t i = 0; i + 1 < vs->matchers.size(); ++i) {
            if (vs->matchers[i].name() == "__name__") {
              AddErr(e->pos.start, "metric name must not be set twice: " + GoQuote(vs->name) +
                                       " or " + GoQuote(vs->matchers[i].value()));
            }
          }
          break;
        }
        if (bypass_empty_check_.count(vs) == 0) {
          bool not_empty = false;
          for (const auto& m : vs->matchers) {
            if (!m.Matches("")) {
              not_empty = true;
              break;
            }
          }
          if (!not_empty) {
            AddErr(e->pos.start, "vector selector must contain at least one non-empty matcher");
          }
        }
        break;
      }
      default:
        break;
    }
    return typ;
  }

  std::string_view in_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  int last_end_ = 0;
  std::optional<std::pair<int, std::string>> err_;
  std::vector<Context> ctx_;
  std::unordered_map<const BinaryExpr*, int> op_pos_;
  std::unordered_set<const VectorSelector*> bypass_empty_check_;
  int depth_ = 0;  // ancestors of the node being parsed (Nest)
  int peak_ = 0;   // deepest ancestor count reached (see Nest, Reach and the chain loops)
};

}  // namespace

common::Result<ExprPtr> ParseExpr(std::string_view input) { return Parser(input).ParseTop(); }

common::Result<ExprPtr> ParseMetricSelector(std::string_view input) {
  return Parser(input).ParseSelectorTop();
}

}  // namespace collector::promql::parser
