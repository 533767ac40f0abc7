// Table tests for the PromQL parser and printer, plus a sweep over every `eval` of the shared
// upstream .test scripts (../shared/peer/promql).

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "collector/promql/parser/lexer.h"
#include "collector/promql/parser/parser.h"
#include "common/re2/regex.h"
#include "tests/support/shared.h"

namespace collector::promql::parser {
namespace {

std::string Fmt(std::string_view q) {
  auto r = ParseExpr(q);
  if (!r.ok()) return "ERROR: " + std::string(r.status().message());
  return Format(**r);
}

std::string Err(std::string_view q) {
  auto r = ParseExpr(q);
  if (r.ok()) return "OK: " + Format(**r);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << q;
  return std::string(r.status().message());
}

template <typename T>
const T& As(const ExprPtr& e) {
  return static_cast<const T&>(*e);
}

// ---- valid expressions and their canonical text ----

struct FormatCase {
  const char* in;
  const char* out;
};

TEST(ParserTest, FormatsCanonically) {
  const FormatCase kCases[] = {
      // Literals.
      {"1", "1"},
      {"-1", "-1"},
      {"+1.5", "1.5"},
      {".5", "0.5"},
      {"2.", "2"},
      {"1e3", "1000"},
      {"12.34e-6", "0.00001234"},
      {"0x1F", "31"},
      {"0755", "493"},
      {"1_000", "1000"},
      {"Inf", "+Inf"},
      {"-inf", "-Inf"},
      {"NaN", "NaN"},
      {"5m", "5m"},
      {"1h30m", "1h30m"},
      {"-90s", "-1m30s"},
      {"\"foo\"", "\"foo\""},
      {"'a\"b'", "\"a\\\"b\""},
      {"`raw\\n`", "\"raw\\\\n\""},
      {"\"\\x41\\u00e9\\n\"", "\"Aé\\n\""},
      // Selectors.
      {"foo", "foo"},
      {"foo{}", "foo"},
      {"foo{b=\"2\", a!=\"1\", c=~\"x.*\", d!~'y'}",
       "foo{a!=\"1\",b=\"2\",c=~\"x.*\",d!~\"y\"}"},
      {"{__name__=\"foo\"}", "{__name__=\"foo\"}"},
      {"{\"foo.bar\"}", "{__name__=\"foo.bar\"}"},
      {"{\"foo.bar\", \"a-b\"=\"c\",}", "{\"a-b\"=\"c\",__name__=\"foo.bar\"}"},
      {"foo:bar:baz", "foo:bar:baz"},
      {"sum", "sum"},
      {"by", "by"},
      {"offset", "offset"},
      {"foo offset 5m", "foo offset 5m"},
      {"foo offset -5m", "foo offset -5m"},
      {"foo offset 90", "foo offset 1m30s"},
      {"foo @ 100", "foo @ 100.000"},
      {"foo @ -1.5", "foo @ -1.500"},
      {"foo @ start()", "foo @ start()"},
      {"foo offset 1m @ end()", "foo @ end() offset 1m"},
      {"foo[5m]", "foo[5m]"},
      {"foo[300]", "foo[5m]"},
      {"foo[5m] offset 1h @ 10", "foo[5m] @ 10.000 offset 1h"},
      {"foo[5m] anchored", "foo[5m] anchored"},
      {"foo smoothed", "foo smoothed"},
      {"foo[1m] smoothed offset 10s", "foo[1m] smoothed offset 10s"},
      // Subqueries.
      {"foo[5m:1m]", "foo[5m:1m]"},
      {"foo[5m:]", "foo[5m:]"},
      {"rate(foo[1m])[5m:] offset 2m @ 3", "rate(foo[1m])[5m:] @ 3.000 offset 2m"},
      {"(foo + bar)[1h:5m]", "(foo + bar)[1h:5m]"},
      // Duration expressions.
      {"foo[5m+1m]", "foo[5m + 1m]"},
      {"foo[(5m+1m)*2]", "foo[(5m + 1m) * 2]"},
      {"foo[step()]", "foo[step()]"},
      {"foo[2*step():range()]", "foo[2 * step():range()]"},
      {"foo[min_of(step()+1,1h)]", "foo[min_of(step() + 1, 1h)]"},
      {"foo[-(1m-2m)]", "foo[-(1m - 2m)]"},
      {"foo[(1h)]", "foo[1h]"},
      {"foo offset (1h*2)", "foo offset (1h * 2)"},
      {"foo offset -(1h*2)", "foo offset -(1h * 2)"},
      {"foo offset step()", "foo offset step()"},
      {"foo offset -step()", "foo offset -step()"},
      {"foo offset max_of(3s, min_of(step(), 1s))", "foo offset max_of(3s, min_of(step(), 1s))"},
      {"foo offset 100 + 2", "foo offset 1m40s + 2"},
      {"foo offset -2 ^ 2", "foo offset -2s ^ 2"},
      {"foo offset step()*0", "foo offset step() * 0"},
      {"foo offset (5m) * 2", "foo offset (5m) * 2"},
      {"foo offset (5m) > 0", "foo offset 5m > 0"},
      {"foo[(1h)+1]", "foo[(1h) + 1]"},
      {"foo[-(5m)*2]", "foo[(-5m) * 2]"},
      // Operators.
      {"a + b * c", "a + b * c"},
      {"a / b ^ c ^ d", "a / b ^ c ^ d"},
      {"a and b or c unless d", "a and b or c unless d"},
      {"a > bool 1", "a > bool 1"},
      {"1 == bool 2", "1 == bool 2"},
      {"a + on(x, y) b", "a + on (x, y) b"},
      {"a + ignoring(x) group_left(y) b", "a + ignoring (x) group_left (y) b"},
      {"a * on() group_right b", "a * on () group_right () b"},
      {"a and on(x) b", "a and on (x) b"},
      {"a atan2 b", "a atan2 b"},
      {"h </ 2 * 3", "h </ 2 * 3"},
      {"h >/ -Inf", "h >/ -Inf"},
      {"-a", "-a"},
      {"-(1)", "-(1)"},
      {"- -1", "1"},
      {"a + fill(0) b", "a + fill (0) b"},
      {"a + fill_left(5) fill_right(7) b", "a + fill_left (5) fill_right (7) b"},
      {"a + fill(-Inf) b", "a + fill (-Inf) b"},
      {"a + fill(NaN) b", "a + fill (NaN) b"},
      {"a + on(x) group_left fill(1e6) b", "a + on (x) group_left () fill (1e+06) b"},
      {"fill + fill(0) other", "fill + fill (0) other"},
      // Aggregations.
      {"sum(foo)", "sum(foo)"},
      {"sum by (job) (foo)", "sum by (job) (foo)"},
      {"sum(foo) by (job, instance)", "sum by (job, instance) (foo)"},
      {"sum without (a) (foo)", "sum without (a) (foo)"},
      {"sum by () (foo)", "sum(foo)"},
      {"sum by (\"a.b\", c,) (foo)", "sum by (\"a.b\", c) (foo)"},
      {"topk(5, foo)", "topk(5, foo)"},
      {"count_values(\"v\", foo)", "count_values(\"v\", foo)"},
      {"quantile by (a) (0.9, foo)", "quantile by (a) (0.9, foo)"},
      {"limitk(2, foo)", "limitk(2, foo)"},
      {"limit_ratio(0.5, foo)", "limit_ratio(0.5, foo)"},
      {"sum by (offset, by, sum) (foo)", "sum by (offset, by, sum) (foo)"},
      {"foo * sum", "foo * sum"},
      // Functions.
      {"rate(foo[5m])", "rate(foo[5m])"},
      {"sum by (job) (rate(foo{a=\"b\"}[5m] offset 1m))",
       "sum by (job) (rate(foo{a=\"b\"}[5m] offset 1m))"},
      {"time()", "time()"},
      {"step()", "step()"},
      {"start() + range()", "start() + range()"},
      {"min_of(1, 2)", "min_of(1, 2)"},
      {"label_join(foo, \"a\", \",\", \"b\", \"c\")", "label_join(foo, \"a\", \",\", \"b\", \"c\")"},
      {"round(foo)", "round(foo)"},
      {"round(foo, 5)", "round(foo, 5)"},
      {"info(foo, {a=\"b\"})", "info(foo, {a=\"b\"})"},
      {"histogram_quantiles(foo, \"q\", 0.5, 0.9)", "histogram_quantiles(foo, \"q\", 0.5, 0.9)"},
      // Comments and whitespace.
      {"foo # comment", "foo"},
      {"sum(\n  foo # c\n)", "sum(foo)"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(Fmt(c.in), c.out) << "input: " << c.in;
    // Canonical text parses back to the same text.
    EXPECT_EQ(Fmt(Fmt(c.in)), c.out) << "round trip of: " << c.in;
  }
}

// ---- AST shape ----

TEST(ParserTest, BuildsExpectedTree) {
  {
    auto r = ParseExpr("a + b * c");
    ASSERT_TRUE(r.ok());
    const auto& b = As<BinaryExpr>(*r);
    EXPECT_EQ(b.op, BinOp::kAdd);
    EXPECT_EQ(b.rhs->kind, Expr::Kind::kBinary);
    ASSERT_TRUE(b.matching.has_value());
    EXPECT_EQ(b.matching->card, Cardinality::kOneToOne);
  }
  {
    auto r = ParseExpr("2 ^ 3 ^ 2");  // right-associative
    ASSERT_TRUE(r.ok());
    const auto& b = As<BinaryExpr>(*r);
    EXPECT_EQ(b.lhs->kind, Expr::Kind::kNumberLiteral);
    EXPECT_EQ(b.rhs->kind, Expr::Kind::kBinary);
    EXPECT_FALSE(b.matching.has_value());  // scalar operands
    EXPECT_EQ((*r)->Type(), ValueType::kScalar);
  }
  {
    auto r = ParseExpr("-2 ^ 2");  // -(2 ^ 2)
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->kind, Expr::Kind::kUnary);
  }
  {
    auto r = ParseExpr("a and b");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(As<BinaryExpr>(*r).matching->card, Cardinality::kManyToMany);
  }
  {
    auto r = ParseExpr("a / on(x) group_left(y) fill_right(3) b");
    ASSERT_TRUE(r.ok());
    const auto& vm = *As<BinaryExpr>(*r).matching;
    EXPECT_TRUE(vm.on);
    EXPECT_EQ(vm.card, Cardinality::kManyToOne);
    EXPECT_EQ(vm.matching_labels, std::vector<std::string>{"x"});
    EXPECT_EQ(vm.include, std::vector<std::string>{"y"});
    EXPECT_FALSE(vm.fill_left.has_value());
    EXPECT_EQ(vm.fill_right.value_or(0), 3);
  }
  {
    auto r = ParseExpr("foo{a=~\"x|y\"}[5m] offset -1m @ 12.5");
    ASSERT_TRUE(r.ok());
    const auto& m = As<MatrixSelector>(*r);
    EXPECT_EQ(m.range_ms, 300000);
    const auto& vs = As<VectorSelector>(m.vector_selector);
    EXPECT_EQ(vs.name, "foo");
    ASSERT_EQ(vs.matchers.size(), 2u);  // a=~..., then __name__="foo"
    EXPECT_EQ(vs.matchers[0].type(), storage::Matcher::Type::kRegex);
    EXPECT_EQ(vs.matchers[1].name(), "__name__");
    EXPECT_EQ(vs.offset_ms, -60000);
    EXPECT_EQ(vs.at_ms.value_or(0), 12500);
    EXPECT_EQ((*r)->Type(), ValueType::kMatrix);
  }
  {
    auto r = ParseExpr("sum_over_time(x[29s+1s:20*500ms] offset (2*7s))");
    ASSERT_TRUE(r.ok());
    const auto& sq = As<SubqueryExpr>(As<Call>(*r).args[0]);
    ASSERT_TRUE(sq.range_expr);
    EXPECT_EQ(As<DurationExpr>(sq.range_expr).op, DurationExpr::Op::kAdd);
    const auto& lhs = As<DurationExpr>(As<DurationExpr>(sq.range_expr).lhs);
    EXPECT_EQ(lhs.op, DurationExpr::Op::kLiteral);
    EXPECT_EQ(lhs.literal_seconds, 29);
    ASSERT_TRUE(sq.step_expr);
    EXPECT_EQ(As<DurationExpr>(sq.step_expr).op, DurationExpr::Op::kMul);
    ASSERT_TRUE(sq.offset_expr);
    EXPECT_TRUE(As<DurationExpr>(sq.offset_expr).wrapped);
  }
  {
    auto r = ParseExpr("foo offset -min_of(step(), 1s)");
    ASSERT_TRUE(r.ok());
    const auto& vs = As<VectorSelector>(*r);
    ASSERT_TRUE(vs.offset_expr);
    const auto& neg = As<DurationExpr>(vs.offset_expr);
    EXPECT_EQ(neg.op, DurationExpr::Op::kNeg);
    EXPECT_EQ(As<DurationExpr>(neg.lhs).op, DurationExpr::Op::kMinOf);
  }
  {
    auto r = ParseExpr("foo offset 100 + 2");  // (foo offset 100) + 2
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->kind, Expr::Kind::kBinary);
  }
  {
    auto r = ParseExpr("count_values by (x) (\"v\", foo)");
    ASSERT_TRUE(r.ok());
    const auto& a = As<AggregateExpr>(*r);
    EXPECT_EQ(a.op, AggOp::kCountValues);
    EXPECT_EQ(a.param->kind, Expr::Kind::kStringLiteral);
    EXPECT_TRUE(a.grouping_given);
  }
  {
    auto r = ParseExpr("foo @ start()");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(As<VectorSelector>(*r).at_modifier, AtModifier::kStart);
  }
  {
    auto r = ParseExpr("step()");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(As<Call>(*r).func->name, "step");
    EXPECT_EQ((*r)->Type(), ValueType::kScalar);
  }
  {
    auto r = ParseExpr("5m");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(As<NumberLiteral>(*r).duration);
    EXPECT_EQ(As<NumberLiteral>(*r).val, 300);
  }
}

// ---- errors: Prometheus' wording and positions ----

struct ErrorCase {
  const char* in;
  const char* msg;
};

TEST(ParserTest, ReportsPrometheusErrors) {
  const ErrorCase kCases[] = {
      {"", "1:1: parse error: no expression found in input"},
      {"# only a comment", "1:1: parse error: no expression found in input"},
      {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
      {"1 +", "1:4: parse error: unexpected end of input"},
      {"sum(foo", "1:8: parse error: unclosed left parenthesis"},
      {"foo)", "1:5: parse error: unexpected right parenthesis ')'"},
      {"foo{a}", "1:6: parse error: unexpected \"}\" in label matching, expected label matching "
                 "operator"},
      {"foo{a=}", "1:7: parse error: unexpected \"}\" in label matching, expected string"},
      {"foo{a=\"b\" c=\"d\"}",
       "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or "
       "\"}\""},
      {"foo{,}", "1:5: parse error: unexpected \",\" in label matching, expected identifier or "
                 "\"}\""},
      {"foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"},
      {"foo{1}", "1:5: parse error: unexpected character inside braces: '1'"},
      {"sum foo", "1:5: parse error: unexpected identifier \"foo\""},
      {"sum(foo bar)", "1:9: parse error: unexpected identifier \"bar\" in aggregation"},
      {"sum by foo (x)",
       "1:8: parse error: unexpected identifier \"foo\" in grouping opts, expected \"(\""},
      {"sum by (a b) (x)",
       "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
      {"sum by (1) (x)",
       "1:9: parse error: unexpected number \"1\" in grouping opts, expected label"},
      {"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
      {"topk(foo)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected "
       "2, got 1"},
      {"foo offset bar",
       "1:12: parse error: unexpected identifier \"bar\" in offset, expected number, duration, "
       "step(), or range()"},
      {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
      {"foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
      {"foo[]",
       "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, "
       "duration, step(), or range()"},
      {"foo[5m 6m]",
       "1:8: parse error: unexpected duration \"6m\" in subquery or range, expected \":\" or "
       "\"]\""},
      {"foo[5m:1m 2]",
       "1:11: parse error: unexpected number \"2\" in subquery selector, expected \"]\""},
      {"foo[0s]", "1:5: parse error: duration must be greater than 0"},
      {"foo[-1m]", "1:5: parse error: duration must be greater than 0"},
      {"foo[5m/0]", "1:7: parse error: division by zero"},
      {"foo[5m", "1:7: parse error: unclosed left bracket"},
      {"foo[5m] offset 1m[1m]", "1:18: parse error: ranges only allowed for vector selectors"},
      {"foo[5m[1m]]", "1:7: parse error: unexpected left bracket '['"},
      {"foo offset 1m[1m]", "1:14: parse error: no offset modifiers allowed before range"},
      {"foo @ 1[1m]", "1:8: parse error: no @ modifiers allowed before range"},
      {"rate(foo)[1m]", "1:10: parse error: ranges only allowed for vector selectors"},
      {"foo offset 1m offset 2m", "1:1: parse error: offset may not be set multiple times"},
      {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
      {"sum(foo) offset 1m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or "
       "range vector selector or a subquery"},
      {"1 @ 1",
       "1:1: parse error: @ modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"foo[1m:1m] anchored", "1:1: parse error: anchored modifier is not supported for subqueries"},
      {"foo anchored smoothed",
       "1:1: parse error: anchored and smoothed modifiers cannot be used together"},
      {"foo bool 1", "1:5: parse error: unexpected <bool>"},
      {"\"a", "1:1: parse error: unterminated quoted string"},
      {"\"\\q\"", "1:1: parse error: unknown escape sequence U+0071 'q'"},
      {"1 =~ 2", "1:3: parse error: unexpected character after '=': '~'"},
      {"foo $", "1:5: parse error: unexpected character: '$'"},
      {"1.5m", "1:1: parse error: not a valid duration string: \"1.5m\""},
      {"5mx", "1:1: parse error: bad number or duration syntax: \"5mx\""},
      {"rate(foo[5m],)", "1:13: parse error: trailing commas not allowed in function call args"},
      {"nosuchfn(foo)", "1:1: parse error: unknown function with name \"nosuchfn\""},
      // Type checks.
      {"rate(foo)",
       "1:6: parse error: expected type range vector in call to function \"rate\", got instant "
       "vector"},
      {"abs(foo[5m])",
       "1:5: parse error: expected type instant vector in call to function \"abs\", got range "
       "vector"},
      {"time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
      {"round()", "1:1: parse error: expected at least 1 argument(s) in call to \"round\", got 0"},
      {"round(a, 1, 2)",
       "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
      {"label_replace(foo, 1, \"a\", \"b\", \"c\")",
       "1:20: parse error: expected type string in call to function \"label_replace\", got "
       "scalar"},
      {"sum(foo[5m])",
       "1:5: parse error: expected type instant vector in aggregation expression, got range "
       "vector"},
      {"topk(\"a\", foo)",
       "1:6: parse error: expected type scalar in aggregation parameter, got string"},
      {"count_values(1, foo)",
       "1:14: parse error: expected type string in aggregation parameter, got scalar"},
      {"1 > 2", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
      {"a + bool b", "1:3: parse error: bool modifier can only be used on comparison operators"},
      {"1 and 2", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
      {"a and on(x) group_left b", "1:1: parse error: no grouping allowed for \"and\" operation"},
      {"a + on(x) 1", "1:1: parse error: vector matching only allowed between instant vectors"},
      {"a + fill(0) 1",
       "1:1: parse error: filling in missing series only allowed between instant vectors"},
      {"a or fill(0) b",
       "1:1: parse error: filling in missing series not allowed for set operators"},
      {"a + on(x) group_left(x) b",
       "1:3: parse error: label \"x\" must not occur in ON and GROUP clause at once"},
      {"foo[5m] + 1",
       "1:1: parse error: binary expression must contain only scalar and instant vector types"},
      {"-foo[5m]",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or "
       "instant vector, got \"range vector\""},
      {"foo[5m][10m:]", "1:1: parse error: subquery is only allowed on instant vector, got "
                        "matrix instead"},
      {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{a=~\".*\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"foo{__name__=\"bar\"}",
       "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
      {"info(foo, bar)",
       "1:11: parse error: expected label selectors only, got vector selector instead"},
      {"sum by (\"\") (foo)", "1:9: parse error: invalid label name for grouping: \"\""},
      // Multi-line input reports line:column.
      {"sum(\n  foo +\n)", "3:1: parse error: unexpected \")\" in aggregation"},
  };
  for (const auto& c : kCases) EXPECT_EQ(Err(c.in), c.msg) << "input: " << c.in;
}

// ---- nesting depth: adversarial shapes must be rejected, not overflow the stack ----

std::string Repeat(std::string_view s, int n) {
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ParserTest, RejectsTooDeepNesting) {
  const std::string kTooDeep = "parse error: expression nests too deeply (more than 1000 levels)";
  struct Case {
    const char* what;
    std::string in;
    std::string msg;  // expected message (exact when it starts with a position, else a substring)
  };
  const Case kCases[] = {
      {"100,000 unclosed (", Repeat("(", 100000) + "up",
       "1:100003: parse error: unclosed left parenthesis"},
      {"20,000 unclosed (", Repeat("(", 20000) + "up", "parse error: unclosed left parenthesis"},
      {"50,000 balanced ()", Repeat("(", 50000) + "up" + Repeat(")", 50000), "1:1000: " + kTooDeep},
      {"1,000 balanced ()", Repeat("(", 1000) + "up" + Repeat(")", 1000), "1:1000: " + kTooDeep},
      {"abs( 20,000 deep", Repeat("abs(", 20000) + "up" + Repeat(")", 20000), kTooDeep},
      {"20,001-term ^ chain", Repeat("up ^ ", 20000) + "up", kTooDeep},
      {"100,000 unary minus", Repeat("-", 100000) + "up", "1:1000: " + kTooDeep},
      {"20,001-term + chain", Repeat("up + ", 20000) + "up", "1:4999: " + kTooDeep},
      {"1,001-term + chain", Repeat("up + ", 1000) + "up", "1:4999: " + kTooDeep},
      {"20,000-term + chain, dangling", Repeat("up + ", 20000), kTooDeep},
      {"deep operand then + chain",
       Repeat("abs(", 600) + "up" + Repeat(")", 600) + Repeat(" + up", 600), kTooDeep},
      {"sum( 3,000 deep, unclosed", Repeat("sum(", 3000) + "up" + Repeat(")", 2999),
       "parse error: unclosed left parenthesis"},
      {"sum( 3,000 deep", Repeat("sum(", 3000) + "up" + Repeat(")", 3000), kTooDeep},
      {"1,000 nested subqueries",
       Repeat("max_over_time(", 1000) + "up" + Repeat("[1m:1s])", 1000), kTooDeep},
      {"20,000 chained subqueries", "up" + Repeat("[1m:]", 20000), kTooDeep},
      // The first error wins; the loop still stops at the limit (no deep tree to destroy).
      {"20,000 chained ranges", "up" + Repeat("[1m]", 20000),
       "1:7: parse error: ranges only allowed for vector selectors"},
      {"20,001-term duration chain", "up[" + Repeat("1m + ", 20000) + "1m]", kTooDeep},
      {"duration parentheses", "up[" + Repeat("(", 20000) + "1m" + Repeat(")", 20000) + "]",
       kTooDeep},
      {"duration unary minus", "up[" + Repeat("-", 20000) + "1m]", kTooDeep},
      {"deep offset duration", "up offset (" + Repeat("min_of(1m, ", 20000) + "1m" +
                                   Repeat(")", 20000) + ")",
       kTooDeep},
      {"mixed", Repeat("-(sum(abs(", 10000) + "up" + Repeat(")))", 10000), kTooDeep},
  };
  for (const auto& c : kCases) {
    auto start = std::chrono::steady_clock::now();
    auto r = ParseExpr(c.in);
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << c.what;
    std::string msg(r.status().message());
    if (c.msg[0] >= '0' && c.msg[0] <= '9') {
      EXPECT_EQ(msg, c.msg) << c.what;
    } else {
      EXPECT_NE(msg.find(c.msg), std::string::npos) << c.what << ": " << msg;
    }
    EXPECT_LT(secs, 2.0) << c.what;
  }
}

TEST(ParserTest, ParsesAndFormatsDepth900) {
  const std::string kCases[] = {
      Repeat("(", 899) + "up" + Repeat(")", 899),
      Repeat("abs(", 899) + "up" + Repeat(")", 899),
      Repeat("sum(", 899) + "up" + Repeat(")", 899),
      Repeat("up ^ ", 899) + "up",
      Repeat("up + ", 899) + "up",
      Repeat("-", 899) + "up",
      Repeat("abs(", 450) + "up" + Repeat(")", 450) + Repeat(" + up", 449),
      Repeat("max_over_time(", 300) + "up" + Repeat("[1m:1s])", 300),
      "up[" + Repeat("1m + ", 897) + "1m]",
      // The limit itself: 1,000 levels.
      Repeat("(", 999) + "up" + Repeat(")", 999),
      Repeat("up + ", 999) + "up",
  };
  for (const auto& in : kCases) {
    auto r = ParseExpr(in);
    ASSERT_TRUE(r.ok()) << in.substr(0, 40) << ": " << r.status().ToString();
    std::string text = Format(**r);
    EXPECT_EQ(Fmt(text), text) << in.substr(0, 40);
  }
  EXPECT_EQ(Fmt(Repeat("(", 899) + "up" + Repeat(")", 899)),
            Repeat("(", 899) + "up" + Repeat(")", 899));
  EXPECT_EQ(Fmt(Repeat("up + ", 899) + "up"), Repeat("up + ", 899) + "up");
  EXPECT_EQ(Fmt(Repeat("-", 899) + "up"), Repeat("-", 899) + "up");
}

TEST(ParserTest, ParsesMetricSelectors) {
  auto r = ParseMetricSelector("up{job=\"x\", \"a.b\"=~\"c\"}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& vs = As<VectorSelector>(*r);
  EXPECT_EQ(vs.name, "up");
  EXPECT_EQ(vs.matchers.size(), 3u);
  EXPECT_TRUE(ParseMetricSelector("{__name__=~\"a.*\"}").ok());
  EXPECT_EQ(std::string(ParseMetricSelector("up offset 5m").status().message()),
            "1:4: parse error: unexpected <offset>");
  EXPECT_FALSE(ParseMetricSelector("rate(x[5m])").ok());
  EXPECT_FALSE(ParseMetricSelector("").ok());
}

TEST(ParserTest, FunctionTable) {
  const char* kNames[] = {
      "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
      "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
      "count_over_time", "days_in_month", "day_of_month", "day_of_week", "day_of_year", "deg",
      "delta", "deriv", "double_exponential_smoothing", "end", "exp", "first_over_time", "floor",
      "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
      "histogram_quantiles", "histogram_stddev", "histogram_stdvar", "histogram_sum", "hour",
      "idelta", "increase", "info", "integral", "irate", "label_join", "label_replace",
      "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time",
      "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
      "quantile_over_time", "rad", "range", "rate", "resets", "round", "scalar", "sgn", "sin",
      "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt", "start",
      "step", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
      "timestamp", "ts_of_first_over_time", "ts_of_last_over_time", "ts_of_max_over_time",
      "ts_of_min_over_time", "vector", "year", "start_timestamp", "min_of", "max_of"};
  for (const char* n : kNames) {
    const Function* f = LookupFunction(n);
    ASSERT_NE(f, nullptr) << n;
    EXPECT_EQ(f->name, n);
  }
  EXPECT_EQ(LookupFunction("nope"), nullptr);
  const Function* lj = LookupFunction("label_join");
  EXPECT_EQ(lj->variadic, -1);
  EXPECT_EQ(lj->arg_types.size(), 4u);
  EXPECT_TRUE(LookupFunction("mad_over_time")->experimental);
  EXPECT_FALSE(LookupFunction("rate")->experimental);
  EXPECT_EQ(LookupFunction("scalar")->return_type, ValueType::kScalar);
  EXPECT_EQ(LookupFunction("histogram_quantiles")->variadic, 9);
}

TEST(ParserTest, TokenDescriptions) {
  auto toks = Tokenize("sum by (a) + \"a long string value\" 5m foo:bar");
  std::vector<std::string> d;
  for (const auto& t : toks) d.push_back(TokenDesc(t));
  std::vector<std::string> want = {"<aggr:sum>", "<by>", "\"(\"", "identifier \"a\"", "\")\"",
                                   "<op:+>", "string \"\\\"a long st\"...", "duration \"5m\"",
                                   "metric identifier \"foo:bar\"", "end of input"};
  EXPECT_EQ(d, want);
}

// ---- the shared upstream scripts ----

struct EvalCase {
  std::string file;
  int line = 0;
  std::string expr;
  bool expect_fail = false;
  std::string msg;    // `expect fail msg:`
  std::string regex;  // `expect fail regex:`
};

std::string Trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// The expression after `eval[_x] instant at <t>` or `eval[_x] range from <a> to <b> step <s>`.
bool ExtractExpr(const std::string& line, std::string* expr, bool* fail) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd != "eval" && cmd != "eval_fail" && cmd != "eval_ordered" && cmd != "eval_warn" &&
      cmd != "eval_info") {
    return false;
  }
  *fail = cmd == "eval_fail";
  std::string kind;
  in >> kind;
  std::vector<std::string> words;
  int skip = kind == "instant" ? 2 : kind == "range" ? 6 : -1;  // at <t> | from a to b step s
  if (skip < 0) return false;
  std::string w;
  for (int i = 0; i < skip; ++i) in >> w;
  std::string rest;
  std::getline(in, rest);
  *expr = Trim(rest);
  return !expr->empty();
}

std::vector<EvalCase> ReadEvalCases(const std::string& dir) {
  std::vector<EvalCase> out;
  std::vector<std::filesystem::path> files;
  for (const auto& ent : std::filesystem::directory_iterator(dir)) {
    if (ent.path().extension() == ".test") files.push_back(ent.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    std::ifstream f(p);
    std::vector<std::string> lines;
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string t = Trim(lines[i]);
      if (t.rfind("eval", 0) != 0) continue;
      EvalCase c;
      c.file = p.filename().string();
      c.line = static_cast<int>(i + 1);
      if (!ExtractExpr(t, &c.expr, &c.expect_fail)) continue;
      for (size_t j = i + 1; j < lines.size(); ++j) {
        std::string b = Trim(lines[j]);
        if (b.empty()) break;
        if (b.rfind("eval", 0) == 0 || b.rfind("load", 0) == 0 || b.rfind("clear", 0) == 0) {
          break;
        }
        if (b.rfind("expect fail", 0) != 0) continue;
        c.expect_fail = true;
        std::string rest = Trim(b.substr(std::string("expect fail").size()));
        if (rest.rfind("msg:", 0) == 0) c.msg = Trim(rest.substr(4));
        if (rest.rfind("regex:", 0) == 0) c.regex = Trim(rest.substr(6));
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

TEST(ParserTest, ParsesEveryEvalOfSharedScripts) {
  REQUIRE_SHARED("peer/promql");
  auto cases = ReadEvalCases(tests::SharedDir() + "/peer/promql");
  ASSERT_GT(cases.size(), 1000u);
  int parsed = 0, fail_expected = 0, fail_parse = 0, fail_msg_checked = 0, fail_msg_matched = 0;
  int round_trips = 0;
  for (const auto& c : cases) {
    auto r = ParseExpr(c.expr);
    std::string where = c.file + ":" + std::to_string(c.line) + ": " + c.expr;
    if (c.expect_fail) ++fail_expected;
    if (!r.ok()) {
      EXPECT_TRUE(c.expect_fail) << where << "\n  " << r.status().message();
      if (!c.expect_fail) continue;
      ++fail_parse;
      std::string got(r.status().message());
      if (!c.msg.empty()) {
        ++fail_msg_checked;
        if (got == c.msg) ++fail_msg_matched;
      } else if (!c.regex.empty()) {
        ++fail_msg_checked;
        auto re = common::re2::Regex::Compile(c.regex);
        if (re.ok() && re->PartialMatch(got)) ++fail_msg_matched;
      }
      continue;
    }
    ++parsed;
    std::string text = Format(**r);
    auto again = ParseExpr(text);
    ASSERT_TRUE(again.ok()) << where << "\n  formatted: " << text << "\n  "
                            << again.status().message();
    EXPECT_EQ(Format(**again), text) << where;
    if (Format(**again) == text) ++round_trips;
  }
  std::printf(
      "[promql .test evals] total=%zu parsed=%d (round-trip stable=%d); expect-fail=%d, of which "
      "fail to parse=%d (with msg/regex=%d, matching=%d)\n",
      cases.size(), parsed, round_trips, fail_expected, fail_parse, fail_msg_checked,
      fail_msg_matched);
}

}  // namespace
}  // namespace collector::promql::parser
