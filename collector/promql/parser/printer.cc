// Format(): canonical single-line text of a tree, as Prometheus' Expr.String() (printer.go).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "collector/promql/parser/lexer.h"
#include "collector/promql/parser/parser.h"

namespace collector::promql::parser {
namespace {

using storage::Matcher;

// strconv.FormatFloat(v, 'f', -1, 64).
std::string FormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// fmt's %v for a float64: strconv.FormatFloat(v, 'g', -1, 64).
std::string FormatFloatG(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // d[.ddd]e±XX
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  if (exp < -4 || exp >= 6) {
    // Go writes at least two exponent digits: 1e+06.
    std::string mant = sci.substr(0, e);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return mant + eb;
  }
  return FormatFloat(v);
}

// model.Duration.String() for a non-negative duration in milliseconds.
std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  std::string r;
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    int64_t v = ms / mult;
    if (v > 0) {
      r += std::to_string(v) + name;
      ms -= v * mult;
    }
  };
  unit("y", 1000LL * 60 * 60 * 24 * 365, true);
  unit("w", 1000LL * 60 * 60 * 24 * 7, true);
  unit("d", 1000LL * 60 * 60 * 24, false);
  unit("h", 1000LL * 60 * 60, false);
  unit("m", 1000LL * 60, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return r;
}

std::string FormatSignedDurationMs(int64_t ms) {
  return ms < 0 ? "-" + FormatDurationMs(-ms) : FormatDurationMs(ms);
}

int64_t SecsToMs(double s) { return static_cast<int64_t>(std::llround(s * 1000.0)); }

bool IsLegacyLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string LabelName(std::string_view s) {
  return IsLegacyLabelName(s) ? std::string(s) : GoQuote(s);
}

std::string JoinLabels(const std::vector<std::string>& ls) {
  std::string out;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i > 0) out += ", ";
    out += LabelName(ls[i]);
  }
  return out;
}

std::string MatcherString(const Matcher& m) {
  const char* op = m.type() == Matcher::Type::kEqual      ? "="
                   : m.type() == Matcher::Type::kNotEqual ? "!="
                   : m.type() == Matcher::Type::kRegex    ? "=~"
                                                          : "!~";
  return LabelName(m.name()) + op + GoQuote(m.value());
}

class Printer {
 public:
  std::string Print(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kNumberLiteral: {
        auto& n = static_cast<const NumberLiteral&>(e);
        if (n.duration) return FormatSignedDurationMs(SecsToMs(n.val));
        return FormatFloat(n.val);
      }
      case Expr::Kind::kStringLiteral:
        return GoQuote(static_cast<const StringLiteral&>(e).val);
      case Expr::Kind::kVectorSelector:
        return Selector(static_cast<const VectorSelector&>(e), true);
      case Expr::Kind::kMatrixSelector: return Matrix(static_cast<const MatrixSelector&>(e));
      case Expr::Kind::kSubquery: return Subquery(static_cast<const SubqueryExpr&>(e));
      case Expr::Kind::kAggregate: return Aggregate(static_cast<const AggregateExpr&>(e));
      case Expr::Kind::kBinary: return Binary(static_cast<const BinaryExpr&>(e));
      case Expr::Kind::kUnary: {
        auto& u = static_cast<const UnaryExpr&>(e);
        return (u.negate ? "-" : "+") + Print(*u.expr);
      }
      case Expr::Kind::kParen:
        return "(" + Print(*static_cast<const ParenExpr&>(e).expr) + ")";
      case Expr::Kind::kCall: {
        auto& c = static_cast<const Call&>(e);
        std::string out = (c.func ? c.func->name : std::string("?")) + "(";
        for (size_t i = 0; i < c.args.size(); ++i) {
          if (i > 0) out += ", ";
          out += Print(*c.args[i]);
        }
        return out + ")";
      }
      case Expr::Kind::kDuration:
        return Duration(static_cast<const DurationExpr&>(e));
    }
    return "";
  }

 private:
  std::string Duration(const DurationExpr& d) {
    std::string s;
    using Op = DurationExpr::Op;
    switch (d.op) {
      case Op::kLiteral:
        s = d.literal_is_duration ? FormatSignedDurationMs(SecsToMs(d.literal_seconds))
                                  : FormatFloat(d.literal_seconds);
        break;
      case Op::kStep: s = "step()"; break;
      case Op::kRange: s = "range()"; break;
      case Op::kMinOf:
      case Op::kMaxOf:
        s = std::string(d.op == Op::kMinOf ? "min_of(" : "max_of(") + Print(*d.lhs) + ", " +
            Print(*d.rhs) + ")";
        break;
      case Op::kNeg: s = "-" + Print(*d.lhs); break;
      default: {
        const char* op = d.op == Op::kAdd   ? "+"
                         : d.op == Op::kSub ? "-"
                         : d.op == Op::kMul ? "*"
                         : d.op == Op::kDiv ? "/"
                         : d.op == Op::kMod ? "%"
                                            : "^";
        s = Print(*d.lhs) + " " + op + " " + Print(*d.rhs);
      }
    }
    return d.wrapped ? "(" + s + ")" : s;
  }

  std::string RangeString(int64_t ms, const ExprPtr& expr) {
    return expr ? Print(*expr) : FormatDurationMs(ms);
  }

  std::string AtString(const std::optional<int64_t>& at, AtModifier mod) {
    if (at.has_value()) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), " @ %.3f", static_cast<double>(*at) / 1000.0);
      return buf;
    }
    if (mod == AtModifier::kStart) return " @ start()";
    if (mod == AtModifier::kEnd) return " @ end()";
    return "";
  }

  std::string OffsetString(int64_t ms, const ExprPtr& expr) {
    if (expr) return " offset " + Print(*expr);
    if (ms > 0) return " offset " + FormatDurationMs(ms);
    if (ms < 0) return " offset -" + FormatDurationMs(-ms);
    return "";
  }

  // The name and matchers; with `modifiers`, also @, anchored/smoothed and offset.
  std::string Selector(const VectorSelector& vs, bool modifiers) {
    std::vector<std::string> ls;
    for (const auto& m : vs.matchers) {
      if (m.name() == "__name__" && m.type() == Matcher::Type::kEqual && m.value() == vs.name &&
          !m.value().empty()) {
        continue;
      }
      ls.push_back(MatcherString(m));
    }
    std::string out = vs.name;
    if (!ls.empty()) {
      std::sort(ls.begin(), ls.end());
      out += "{";
      for (size_t i = 0; i < ls.size(); ++i) {
        if (i > 0) out += ",";
        out += ls[i];
      }
      out += "}";
    }
    if (!modifiers) return out;
    out += AtString(vs.at_ms, vs.at_modifier);
    if (vs.anchored) {
      out += " anchored";
    } else if (vs.smoothed) {
      out += " smoothed";
    }
    out += OffsetString(vs.offset_ms, vs.offset_expr);
    return out;
  }

  std::string Matrix(const MatrixSelector& m) {
    std::string range = RangeString(m.range_ms, m.range_expr);
    if (m.vector_selector->kind != Expr::Kind::kVectorSelector) {
      return Print(*m.vector_selector) + "[" + range + "]";
    }
    auto& vs = static_cast<const VectorSelector&>(*m.vector_selector);
    std::string out = Selector(vs, false) + "[" + range + "]";
    if (vs.anchored) {
      out += " anchored";
    } else if (vs.smoothed) {
      out += " smoothed";
    }
    out += AtString(vs.at_ms, vs.at_modifier);
    out += OffsetString(vs.offset_ms, vs.offset_expr);
    return out;
  }

  std::string Subquery(const SubqueryExpr& s) {
    std::string step;
    if (s.step_ms != 0) {
      step = FormatDurationMs(s.step_ms);
    } else if (s.step_expr) {
      step = Print(*s.step_expr);
    }
    return Print(*s.expr) + "[" + RangeString(s.range_ms, s.range_expr) + ":" + step + "]" +
           AtString(s.at_ms, s.at_modifier) + OffsetString(s.offset_ms, s.offset_expr);
  }

  std::string Aggregate(const AggregateExpr& a) {
    std::string out(AggOpName(a.op));
    if (a.without) {
      out += " without (" + JoinLabels(a.grouping) + ") ";
    } else if (!a.grouping.empty()) {
      out += " by (" + JoinLabels(a.grouping) + ") ";
    }
    out += "(";
    if (a.param) out += Print(*a.param) + ", ";
    if (a.expr) out += Print(*a.expr);
    return out + ")";
  }

  std::string Binary(const BinaryExpr& b) {
    std::string matching;
    if (b.matching) {
      const VectorMatching& vm = *b.matching;
      bool grouped = vm.card == Cardinality::kManyToOne || vm.card == Cardinality::kOneToMany;
      if (!vm.matching_labels.empty() || vm.on || grouped) {
        matching = std::string(vm.on ? " on (" : " ignoring (") + JoinLabels(vm.matching_labels) +
                   ")";
      }
      if (grouped) {
        matching += std::string(vm.card == Cardinality::kManyToOne ? " group_left ("
                                                                   : " group_right (") +
                    JoinLabels(vm.include) + ")";
      }
      if (vm.fill_left || vm.fill_right) {
        bool same = vm.fill_left && vm.fill_right &&
                    (*vm.fill_left == *vm.fill_right ||
                     (std::isnan(*vm.fill_left) && std::isnan(*vm.fill_right)));
        if (same) {
          matching += " fill (" + FormatFloatG(*vm.fill_left) + ")";
        } else {
          if (vm.fill_left) matching += " fill_left (" + FormatFloatG(*vm.fill_left) + ")";
          if (vm.fill_right) matching += " fill_right (" + FormatFloatG(*vm.fill_right) + ")";
        }
      }
    }
    return Print(*b.lhs) + " " + std::string(BinOpName(b.op)) + (b.return_bool ? " bool" : "") +
           matching + " " + Print(*b.rhs);
  }
};

}  // namespace

std::string Format(const Expr& e) { return Printer().Print(e); }

}  // namespace collector::promql::parser
