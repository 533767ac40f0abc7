#pragma once
// PromQL engine (collector/promql/engine): evaluates a parsed expression over a storage::Queryable, instant or range
// (Prometheus' promql/engine.go, Prometheus 3 semantics: 5m lookback, staleness markers end a
// series, rate/increase extrapolation, vector matching, `@`/`offset`, subqueries, delayed
// __name__ removal).
//
// Errors (Status codes, mapped by the HTTP API to Prometheus' errorType):
//   InvalidArgument   -> bad_data (parse/type errors; 400)
//   kInternal / other -> execution (422), e.g. "vector cannot contain metrics with the same labelset"
//   DeadlineExceeded  -> timeout (503), Cancelled -> canceled (503/499)
//   ResourceExhausted -> execution (422), "query processing would load too many samples into memory"
// Thread affinity: an Engine is thread-safe; each query runs on the calling thread (callers run it
// on a work pool, never on the event loop).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "collector/promql/parser/ast.h"
#include "collector/promql/engine/value.h"
#include "collector/storage/storage.h"
#include "common/base/status.h"

namespace collector::promql {

struct EngineOptions {
  int64_t lookback_delta_ms = 5 * 60 * 1000;
  int64_t default_subquery_step_ms = 60 * 1000;  // for `[5m:]`
  int64_t timeout_ms = 2 * 60 * 1000;            // --query.timeout
  int64_t max_samples = 50'000'000;              // --query.max-samples
  bool enable_experimental = true;               // experimental functions and syntax
};

struct QueryResult {
  Value value;
  Annotations annotations;
};

class Engine {
 public:
  explicit Engine(EngineOptions opts) : opts_(opts) {}

  // Evaluates `expr` at `t_ms`. The result is Scalar, Vector, Matrix (a range selector at the
  // top) or String. `cancel`, when not null, is polled; setting it aborts with Cancelled.
  common::Result<QueryResult> Instant(storage::Queryable& q, const parser::Expr& expr,
                                      int64_t t_ms, const std::atomic<bool>* cancel = nullptr);
  // Evaluates `expr` at start, start+step, ..., <= end. The result is always a Matrix (a scalar
  // becomes one series with no labels), series sorted by labels.
  common::Result<QueryResult> Range(storage::Queryable& q, const parser::Expr& expr,
                                    int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                    const std::atomic<bool>* cancel = nullptr);

  const EngineOptions& options() const { return opts_; }

 private:
  EngineOptions opts_;
};

}  // namespace collector::promql
