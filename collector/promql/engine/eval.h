#pragma once
// Internal to collector/promql/engine: the per-query evaluator shared by engine.cc,
// functions.cc and aggregations.cc. Not part of the public API.
//
// Model: every expression is evaluated at one timestamp at a time (a range query evaluates the
// root at each step; a subquery evaluates its inner expression at each of its own steps).
// Selector data is loaded once per query (one Select per selector node, covering every time the
// node will be evaluated) and sliced per step. Metric names are dropped lazily: a sample carries
// `drop_name` and the name is removed when the query result is assembled (delayed __name__
// removal, Prometheus 3).
// Thread affinity: one query, one thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "collector/promql/engine/engine.h"
#include "collector/promql/engine/value.h"
#include "collector/promql/parser/ast.h"
#include "collector/storage/storage.h"
#include "common/base/status.h"

namespace collector::promql::internal {

using common::Result;
using common::Status;
using parser::ValueType;

struct ESample {
  Labels metric;
  double v = 0;
  int64_t t = 0;  // the sample's own timestamp (selectors), else the evaluation time
  bool drop_name = false;
};
using EVector = std::vector<ESample>;

struct ESeries {
  Labels metric;
  std::vector<FPoint> points;
  bool drop_name = false;
  // Extended range selectors (`anchored` / `smoothed`): the last sample at or before the range
  // start (within the lookback delta) and the first sample after the range end.
  std::optional<FPoint> before;
  std::optional<FPoint> after;
};
using EMatrix = std::vector<ESeries>;

struct EValue {
  ValueType type = ValueType::kNone;
  double scalar = 0;
  EVector vec;
  EMatrix mat;
  std::string str;
};

// What a range function sees besides a window's points: the series' labels (for annotations)
// and the points' start timestamps (ms, 0 when unknown) in parallel, or an empty span when the
// series has none (always for tsdb data and for subquery / expression results).
struct WindowInfo {
  const Labels& metric;
  std::span<const int64_t> st;
  bool no_decrease = false;  // the series' values never decrease (no counter reset to look for)
};
// A range function over one window: nullopt when it yields no value.
using RangeFn = std::function<std::optional<double>(std::span<const FPoint>, const WindowInfo&)>;

// A range-vector argument of a function with what extrapolation needs.
struct RangeArg {
  EMatrix mat;
  int64_t range_ms = 0;
  int64_t range_end = 0;  // reference time: eval time - offset (or @ - offset)
  bool anchored = false;
  bool smoothed = false;
  const parser::Expr* expr = nullptr;  // the matrix selector / subquery (for positions)
};

// Result type of an expression (independent of the parser's Expr::Type()).
ValueType TypeOf(const parser::Expr& e);
const parser::Expr& Unparen(const parser::Expr& e);

// Labels helpers.
Labels DropMetricName(const Labels& l);  // also drops __type__ and __unit__
bool ContainsSameLabelset(const EVector& v);
std::string FormatFloat(double v);  // Go's strconv.FormatFloat(v, 'f', -1, 64), +Inf/-Inf/NaN
std::string FormatG(double v);      // Go's %v / %g for annotations
Status ExecError(std::string_view msg);  // an execution error (Internal code)

// Kahan-Neumaier summation step.
inline void KahanSumInc(double inc, double& sum, double& c) {
  double t = sum + inc;
  if (std::isinf(t)) {
    c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

// Per binary expression and query: match signatures and result label sets, keyed by the
// identity (Labels::id()) of the label sets they came from, which stays the same across steps.
// Each entry keeps a copy of its key's Labels, so no address is reused while it is cached.
struct BinopCache {
  struct PairHash {
    size_t operator()(const std::pair<const void*, const void*>& p) const {
      return std::hash<const void*>{}(p.first) * 31 + std::hash<const void*>{}(p.second);
    }
  };
  std::unordered_map<const void*, std::pair<Labels, std::string>> sigs;
  std::unordered_map<std::pair<const void*, const void*>, std::tuple<Labels, Labels, Labels>, PairHash>
      results;
  // Bounds the memory of expressions whose operands get new label sets at every step.
  void Trim() {
    if (sigs.size() + results.size() > 200'000) {
      sigs.clear();
      results.clear();
    }
  }
};

class Evaluator {
 public:
  Evaluator(const EngineOptions& opts, int64_t start, int64_t end, int64_t interval,
            const std::atomic<bool>* cancel, std::chrono::steady_clock::time_point deadline);

  // Computes every selector's data window and reads the data (one querier per query).
  Status Prepare(storage::Queryable& q, const parser::Expr& root);

  Result<EValue> Eval(const parser::Expr& e, int64_t ts);
  // Evaluates an expression of range-vector type (matrix selector or subquery, maybe in parens).
  Result<RangeArg> EvalRange(const parser::Expr& e, int64_t ts);
  // Vector selector at ts; sample t is the sample's own timestamp.
  Result<EVector> EvalVectorSelector(const parser::VectorSelector& vs, int64_t ts);
  // The same samples passed to `sink(metric, value, sample timestamp)`, in the same order;
  // `metric` lives as long as the evaluator (the selector's loaded series).
  Status EvalVectorSelectorInto(const parser::VectorSelector& vs, int64_t ts,
                                const std::function<void(const Labels&, double, int64_t)>& sink);
  // start_timestamp(): the samples EvalVectorSelector(vs, ts) returns, each with its start
  // timestamp in seconds as the value (0 when unknown) and t = ts.
  Result<EVector> EvalStartTimestamps(const parser::VectorSelector& vs, int64_t ts);
  // What EvalMatrixSelector(ms, ts, meta) computes, without copying it: calls `fn` with each
  // series' points in the range (staleness markers left out; series with none are skipped) and
  // its labels and the points' start timestamps, in the order EvalMatrixSelector returns them,
  // and fills `meta` except `mat`. Only for selectors without `anchored` / `smoothed`. The spans
  // are valid during the call.
  Status ForEachRangeWindow(
      const parser::MatrixSelector& ms, int64_t ts, RangeArg* meta,
      const std::function<void(std::span<const FPoint>, const WindowInfo&)>& fn);
  // `f` over the windows of ForEachRangeWindow(ms, ts, meta): calls `emit` for every series
  // with points in the window, with f's value (nullopt: none) and `flag(labels)` (evaluated
  // once per series when the values are kept), in the same order. `f` must
  // depend only on the window (its points and WindowInfo) and `meta` (which is set before each
  // call), so that `node`'s value depends only on ts. At a step of a range query, the first
  // call evaluates `f` for every step of the query one series at a time (its points stay in
  // cache) and keeps the values; later steps read them (annotations `f` adds are then added
  // for every step at once, which the query adds anyway).
  Status EvalRangeFunction(
      const parser::Expr& node, const parser::MatrixSelector& ms, int64_t ts, RangeArg* meta,
      const RangeFn& f,
      const std::function<bool(const Labels&)>& flag,
      const std::function<void(const Labels&, std::optional<double>, bool)>& emit);

  // Series matching `matchers` with their latest sample in (ref - lookback, ref] (not stale),
  // read through the query's querier (info()). Labels with value.
  Result<EVector> SelectAt(const std::vector<storage::Matcher>& matchers, int64_t ref);
  // The reference time of the series an expression selects (the first selector's @/offset,
  // through subqueries), for info().
  int64_t RefTimeOf(const parser::Expr& e, int64_t ts) const;

  // Polls cancellation and the deadline.
  Status CheckInterrupt();
  // Accounts `n` samples held at once; ResourceExhausted when over the limit.
  Status AddSamples(int64_t n);
  void ResetStepSamples() { step_samples_ = 0; }
  void AddResultSamples(int64_t n) { result_samples_ += n; }

  // The groups of an aggregation node across steps (SumOfInPlaceCall): a series' group is
  // found once per query, by the address of its labels.
  struct GroupCache {
    std::unordered_map<const Labels*, uint32_t> of;           // input labels -> group
    std::unordered_map<uint64_t, std::vector<uint32_t>> by_hash;
    std::vector<Labels> labels;                               // group -> its labels
  };
  GroupCache& GroupCacheOf(const parser::Expr& node) { return group_caches_[&node]; }

  void Warn(std::string msg, const parser::Expr& at);
  void Info(std::string msg, const parser::Expr& at);
  Annotations TakeAnnotations();

  int64_t start() const { return start_; }
  int64_t end() const { return end_; }
  int64_t interval() const { return interval_; }
  const EngineOptions& opts() const { return opts_; }
  // A duration-valued child (offset/range/step): the static value or the evaluated expression.
  int64_t DurationOf(const parser::Expr* expr, int64_t static_ms) const;

 private:
  struct Loaded {
    Labels metric;
    std::vector<FPoint> points;  // time order, includes staleness markers
    // `points` without staleness markers, if it has any (range selectors only: IndexLive).
    std::vector<FPoint> live;
    // Start timestamps (ms, 0 = unknown) parallel to `points` / `live`; empty when every one of
    // the series is 0 (storage::SeriesSet::TakeSamples' convention), so data without start
    // timestamps (tsdb) costs nothing here. Kept apart so that FPoint stays 16 bytes.
    std::vector<int64_t> st;
    std::vector<int64_t> live_st;
    bool has_stale = false;
    bool no_decrease = false;  // Live() values never decrease (set by IndexLive())
    // Where the last evaluation's windows began and ended (indexes into points / Live()):
    // range queries evaluate in increasing time, so the next search starts there.
    size_t hint_lo = 0, hint_hi = 0, live_lo = 0, live_hi = 0;
    const std::vector<FPoint>& Live() const { return has_stale ? live : points; }
    const std::vector<int64_t>& LiveSt() const { return has_stale ? live_st : st; }
    // Sets what range functions read: `live` (when there are staleness markers) and
    // `no_decrease`, in one pass.
    void IndexLive() {
      for (size_t i = 0; i < points.size(); ++i) {
        if (!storage::IsStaleNaN(points[i].v)) {
          if (has_stale) {
            live.push_back(points[i]);
            if (!st.empty()) live_st.push_back(st[i]);
          }
        } else if (!has_stale) {
          has_stale = true;
          live.assign(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(i));
          if (!st.empty()) live_st.assign(st.begin(), st.begin() + static_cast<std::ptrdiff_t>(i));
        }
      }
      const std::vector<FPoint>& l = Live();
      no_decrease = std::is_sorted(l.begin(), l.end(),
                                   [](const FPoint& a, const FPoint& b) { return a.v < b.v; });
    }
    // Drops the points (and start timestamps) outside [mint, maxt].
    void TrimTo(int64_t mint, int64_t maxt) {
      auto lo = std::lower_bound(points.begin(), points.end(), mint,
                                 [](const FPoint& p, int64_t t) { return p.t < t; });
      auto hi = std::upper_bound(lo, points.end(), maxt,
                                 [](int64_t t, const FPoint& p) { return t < p.t; });
      if (lo == points.begin() && hi == points.end()) return;
      if (!st.empty()) {
        st.erase(st.begin() + (hi - points.begin()), st.end());
        st.erase(st.begin(), st.begin() + (lo - points.begin()));
      }
      points.erase(hi, points.end());
      points.erase(points.begin(), lo);
    }
    // The start timestamps of Live()[lo, hi) (empty when the series has none).
    std::span<const int64_t> LiveStOf(size_t lo, size_t hi) const {
      const std::vector<int64_t>& s = LiveSt();
      if (s.empty()) return {};
      return std::span<const int64_t>(s.data() + lo, hi - lo);
    }
  };
  static_assert(sizeof(FPoint) == 16, "start timestamps stay out of FPoint (Loaded::st)");
  struct Window {
    int64_t mint;
    int64_t maxt;
    bool instant = false;  // planned as an instant vector selector (not inside a range selector)
  };

  // Picks each series' sample of vs at ts as EvalVectorSelectorInto documents and calls
  // `pick(series, index into series.points, value)` (the value is interpolated for `smoothed`).
  template <typename Pick>
  Status PickInstant(const parser::VectorSelector& vs, int64_t ts, Pick&& pick);
  Result<EValue> EvalBinary(const parser::BinaryExpr& b, int64_t ts);
  Result<EValue> EvalSubquery(const parser::SubqueryExpr& sq, int64_t ts, RangeArg* out);
  Result<EValue> EvalMatrixSelector(const parser::MatrixSelector& ms, int64_t ts, RangeArg* out);
  // The window of range selector `ms` evaluated at `ts`: its end (@ and offset applied) and
  // length in ms; fills `meta` (when not null) with what range functions need of it.
  struct RangeWindow {
    int64_t end;
    int64_t range;
  };
  RangeWindow WindowOf(const parser::MatrixSelector& ms, int64_t ts, RangeArg* meta) const;
  Result<std::vector<Loaded>*> Data(const parser::VectorSelector& vs);
  void Plan(const parser::Expr& e, int64_t lo, int64_t hi);
  void AddWindow(const parser::VectorSelector* vs, int64_t mint, int64_t maxt);
  int64_t AtTime(std::optional<int64_t> at_ms, parser::AtModifier mod, int64_t ts) const;
  Result<double> EvalDuration(const parser::Expr& e) const;
  void Annotate(std::vector<std::string>& dst, std::string_view kind, std::string msg,
                const parser::Expr& at);

  const EngineOptions& opts_;
  int64_t start_, end_, interval_;
  const std::atomic<bool>* cancel_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point began_;
  int64_t step_samples_ = 0;
  int64_t result_samples_ = 0;
  uint64_t polls_ = 0;

  std::unique_ptr<storage::Querier> querier_;
  int64_t querier_mint_ = 0, querier_maxt_ = 0;
  std::unordered_map<std::string, std::vector<Loaded>> raw_;  // SelectAt cache
  std::unordered_map<const parser::VectorSelector*, Window> windows_;
  std::unordered_map<const parser::VectorSelector*, std::vector<Loaded>> data_;
  std::unordered_map<const parser::BinaryExpr*, BinopCache> binop_caches_;
  std::unordered_map<const parser::Expr*, int64_t> durations_;
  // EvalRangeFunction's values by node: [step * series + i], for every step of the query.
  struct StepValues {
    std::vector<int64_t> step_samples;  // points in the windows at each step (AddSamples)
    std::vector<uint8_t> state;         // 0: no points in the window, 1: no value, 2: value
    std::vector<double> values;
    std::vector<uint8_t> flags;  // per series
  };
  std::unordered_map<const parser::Expr*, StepValues> step_values_;
  std::unordered_map<const parser::Expr*, GroupCache> group_caches_;
  // Subquery inner results by node and inner timestamp (subquery steps overlap across steps).
  std::unordered_map<const parser::Expr*, std::map<int64_t, EValue>> subq_cache_;
  Annotations annos_;
};

// functions.cc
Result<EValue> EvalCall(Evaluator& ev, const parser::Call& call, int64_t ts);
// A range function over a plain matrix selector that EvalCall evaluates in place (see
// Evaluator::EvalRangeFunction): rate, increase, delta, irate, idelta, deriv, resets, changes
// and the *_over_time functions without arguments, without `anchored` / `smoothed`.
bool IsInPlaceCall(const parser::Call& call);
// For such a call, what EvalCall(ev, call, ts) returns, passed sample by sample to
// `sink(metric, value, drop_name)` instead of a vector, in the same order. `metric` lives as
// long as the evaluator (it is the selector's loaded series).
using CallSink = std::function<void(const Labels&, double, bool)>;
Status EvalCallInto(Evaluator& ev, const parser::Call& call, int64_t ts, const CallSink& sink);
// aggregations.cc
Result<EValue> EvalAggregate(Evaluator& ev, const parser::AggregateExpr& agg, int64_t ts);
// Prometheus' quantile over a value list (sorts `values`).
double Quantile(double q, std::vector<double>& values);

}  // namespace collector::promql::internal
