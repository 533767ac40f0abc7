#pragma once
// PromQL abstract syntax tree, after Prometheus 3's promql/parser/ast.go. The parser
// (parser.h) builds it; the engine (../engine/engine.h) evaluates it; the printer turns it back into
// canonical text (/api/v1/format_query, rule files, @-invariance checks).
//
// Units: durations, offsets and @ timestamps are int64 milliseconds (@ is milliseconds since the
// Unix epoch). Positions are byte offsets into the query text, [start, end).
// Thread affinity: none; a tree is immutable after Parse() and may be shared across threads.
//
// Ownership: each node owns its children through ExprPtr.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collector/storage/storage.h"

namespace collector::promql::parser {

// Result type of an expression (Prometheus' parser.ValueType).
enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };
std::string_view ValueTypeName(ValueType t);  // "scalar", "instant vector", "range vector", "string"

struct PosRange {
  int start = 0;
  int end = 0;
};

enum class BinOp {
  kAdd, kSub, kMul, kDiv, kMod, kPow, kAtan2,  // arithmetic
  kEql, kNeq, kGtr, kLss, kGte, kLte,          // comparison (filter, or 0/1 with `bool`)
  kLand, kLor, kLunless,                       // set operators (vector/vector only)
  // Native-histogram trim operators (added by the parser work; used by native_histograms.test):
  // `</` (TRIM_UPPER) and `>/` (TRIM_LOWER), same precedence as `*`.
  kTrimUpper, kTrimLower,
};
std::string_view BinOpName(BinOp op);  // "+", "==", "and", "atan2", ...
bool IsComparison(BinOp op);
bool IsSetOperator(BinOp op);

enum class AggOp {
  kSum, kAvg, kCount, kMin, kMax, kGroup, kStddev, kStdvar,
  kTopK, kBottomK, kCountValues, kQuantile, kLimitK, kLimitRatio,
};
std::string_view AggOpName(AggOp op);  // "sum", "count_values", ...
bool AggOpTakesParam(AggOp op);        // topk, bottomk, count_values, quantile, limitk, limit_ratio

// `@ start()` / `@ end()`.
enum class AtModifier { kNone, kStart, kEnd };

// Function signature, from Prometheus' promql/parser/functions.go. `variadic`: 0 = exactly the
// listed args; > 0 = up to that many extra args of the last type; -1 = any number more.
// The first `arg_types.size() - (variadic != 0)` args are required.
struct Function {
  std::string name;
  std::vector<ValueType> arg_types;
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  bool experimental = false;
};
// nullptr when unknown. The table covers every function of Prometheus 3 (float and histogram).
const Function* LookupFunction(std::string_view name);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kNumberLiteral, kStringLiteral, kVectorSelector, kMatrixSelector, kSubquery, kAggregate,
    kBinary, kUnary, kParen, kCall, kDuration,
  };
  explicit Expr(Kind k) : kind(k) {}
  virtual ~Expr() = default;
  Kind kind;
  PosRange pos;
  // Type of the value this expression yields (never kNone for a checked tree).
  ValueType Type() const;
};

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(Kind::kNumberLiteral) {}
  double val = 0;
  // Set when the literal was written as a duration (`5m` used as a number = 300).
  bool duration = false;
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(Kind::kStringLiteral) {}
  std::string val;  // unquoted
};

// Duration expressions (experimental in Prometheus 3: `foo[5m+1m]`, `offset (1h*2)`, `step()`,
// `range()`, `min_of(a, b)`, `max_of(a, b)`). Evaluated once per query to milliseconds.
struct DurationExpr : Expr {
  enum class Op { kLiteral, kAdd, kSub, kMul, kDiv, kMod, kPow, kNeg, kStep, kRange, kMinOf, kMaxOf };
  DurationExpr() : Expr(Kind::kDuration) {}
  Op op = Op::kLiteral;
  double literal_seconds = 0;  // kLiteral: the value in seconds (`5m` = 300, `2` = 2)
  ExprPtr lhs;                 // binary ops, kNeg (operand), kMinOf/kMaxOf
  ExprPtr rhs;
  // Printer hints (added by the parser work): `wrapped` = written in parentheses, so Format()
  // round-trips `(1m + 2m) * 2`; `literal_is_duration` = a kLiteral written as `5m` (else `300`).
  bool wrapped = false;
  bool literal_is_duration = false;
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(Kind::kVectorSelector) {}
  std::string name;                        // metric name when written outside braces, or ""
  std::vector<storage::Matcher> matchers;  // includes __name__="name" when name is set
  int64_t offset_ms = 0;                   // positive = into the past
  ExprPtr offset_expr;                     // a DurationExpr offset, or null
  std::optional<int64_t> at_ms;            // `@ <timestamp>`
  AtModifier at_modifier = AtModifier::kNone;
  // Extended range selector modifiers (experimental): `foo[5m] anchored`, `foo smoothed`.
  bool anchored = false;
  bool smoothed = false;
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(Kind::kMatrixSelector) {}
  ExprPtr vector_selector;  // a VectorSelector
  int64_t range_ms = 0;
  ExprPtr range_expr;       // a DurationExpr range, or null
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(Kind::kSubquery) {}
  ExprPtr expr;
  int64_t range_ms = 0;
  ExprPtr range_expr;
  int64_t step_ms = 0;  // 0 = default (the engine's evaluation interval, 1m)
  ExprPtr step_expr;
  int64_t offset_ms = 0;
  ExprPtr offset_expr;
  std::optional<int64_t> at_ms;
  AtModifier at_modifier = AtModifier::kNone;
};

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(Kind::kAggregate) {}
  AggOp op = AggOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // k, quantile, count_values label, ... or null
  std::vector<std::string> grouping;
  bool without = false;
  bool grouping_given = false;  // `by ()` written explicitly
};

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  std::vector<std::string> matching_labels;  // on(...) / ignoring(...) list
  bool on = false;                           // true: on(...); false: ignoring(...) or none
  std::vector<std::string> include;          // group_left(...) / group_right(...) labels
  // Fill modifiers (experimental): `fill(v)` sets both, `fill_left(v)`, `fill_right(v)`.
  std::optional<double> fill_left;
  std::optional<double> fill_right;
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(Kind::kBinary) {}
  BinOp op = BinOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  // Set when both sides are instant vectors (defaults: one-to-one; many-to-many for set ops).
  std::optional<VectorMatching> matching;
  bool return_bool = false;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(Kind::kUnary) {}
  bool negate = true;  // `-x`; `+x` has negate = false
  ExprPtr expr;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(Kind::kParen) {}
  ExprPtr expr;
};

struct Call : Expr {
  Call() : Expr(Kind::kCall) {}
  const Function* func = nullptr;
  std::vector<ExprPtr> args;
};

}  // namespace collector::promql::parser
