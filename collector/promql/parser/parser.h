#pragma once
// PromQL parser: a hand-written lexer and Pratt parser for Prometheus 3's grammar
// (promql/parser/lex.go, generated_parser.y), including the experimental syntax the upstream
// test scripts enable (duration expressions, `anchored`/`smoothed`, fill modifiers,
// experimental functions).
//
// Errors: a parse or type-check failure is Status::InvalidArgument whose message has Prometheus'
// shape, e.g. `1:5: parse error: unexpected "}" in label matching, expected string`, so clients
// (Grafana, promtool users) see familiar text. Thread affinity: none (pure functions).

#include <string>
#include <string_view>

#include "collector/promql/parser/ast.h"
#include "common/base/status.h"

namespace collector::promql::parser {

// Parses and type-checks a whole expression.
common::Result<ExprPtr> ParseExpr(std::string_view input);

// Parses a series selector as used by match[] (`up{job="x"}`, `{__name__=~"a.*"}`): a
// VectorSelector without offset or @.
common::Result<ExprPtr> ParseMetricSelector(std::string_view input);

// Canonical text of a tree (Prometheus' String()/Pretty(0) single-line form), used by
// /api/v1/format_query and the test runner's @-invariance rewrite.
std::string Format(const Expr& e);

}  // namespace collector::promql::parser
