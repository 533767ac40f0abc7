#include "collector/promql/promqltest/runner.h"

#include <charconv>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "collector/promql/parser/parser.h"
#include "collector/promql/promqltest/memory_storage.h"
#include "common/re2/regex.h"

namespace collector::promql::promqltest {

using common::Result;
using common::Status;
using model::Labels;

namespace {

using K = SeqValue::Kind;
using T = Expectation::Type;

std::string Trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string FormatSeq(const SeqValue& v) {
  switch (v.kind) {
    case K::kFloat: return FormatFloat(v.v);
    case K::kOmitted: return "_";
    case K::kStale: return "stale";
    case K::kHistogram: return "{{histogram}}";
  }
  return "?";
}

std::string FormatMs(int64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string FormatExpected(const EvalCmd& e) {
  if (e.scalar) return "scalar " + FormatFloat(*e.scalar);
  if (e.string) return "string \"" + *e.string + "\"";
  if (e.series.empty()) return "(empty result)";
  std::string out;
  for (const auto& s : e.series) {
    if (!out.empty()) out += '\n';
    out += s.labels.ToString();
    for (const auto& v : s.values) {
      out += ' ';
      out += FormatSeq(v);
    }
  }
  return out;
}

std::string FormatValue(const Value& v) {
  std::string out;
  if (const auto* s = std::get_if<Scalar>(&v)) return "scalar " + FormatFloat(s->v);
  if (const auto* s = std::get_if<String>(&v)) return "string \"" + s->v + "\"";
  if (const auto* vec = std::get_if<Vector>(&v)) {
    if (vec->empty()) return "(empty vector)";
    for (const auto& s : *vec) {
      if (!out.empty()) out += '\n';
      out += s.metric.ToString() + " " + FormatFloat(s.v);
    }
    return out;
  }
  const auto& m = std::get<Matrix>(v);
  if (m.empty()) return "(empty matrix)";
  for (const auto& s : m) {
    if (!out.empty()) out += '\n';
    out += s.metric.ToString();
    for (const auto& p : s.points) out += " " + FormatFloat(p.v) + "@" + FormatMs(p.t);
  }
  return out;
}

// The result is wrong: `msg` says how.
struct Mismatch {
  std::string msg;
};

bool MatchesSeq(const SeqValue& exp, double got) {
  switch (exp.kind) {
    case K::kFloat: return !storage::IsStaleNaN(got) && AlmostEqual(exp.v, got);
    case K::kStale: return storage::IsStaleNaN(got);
    case K::kOmitted:
    case K::kHistogram: return false;
  }
  return false;
}

std::optional<Mismatch> CompareVector(const EvalCmd& e, const Vector& got) {
  std::map<Labels, size_t> index;  // expected labels -> position among series lines
  for (size_t i = 0; i < e.series.size(); ++i) index.emplace(e.series[i].labels, i);
  bool ordered = e.Has(T::kOrdered);
  std::vector<bool> seen(e.series.size(), false);
  for (size_t pos = 0; pos < got.size(); ++pos) {
    const Sample& s = got[pos];
    auto it = index.find(s.metric);
    if (it == index.end()) return Mismatch{"unexpected series " + s.metric.ToString() + " in result"};
    if (seen[it->second]) return Mismatch{"series " + s.metric.ToString() + " appears twice in result"};
    seen[it->second] = true;
    if (ordered && it->second != pos) {
      return Mismatch{"expected series " + s.metric.ToString() + " at position " +
                      std::to_string(it->second + 1) + ", got it at position " + std::to_string(pos + 1)};
    }
    const SeqValue& want = e.series[it->second].values[0];
    if (!MatchesSeq(want, s.v)) {
      return Mismatch{"series " + s.metric.ToString() + ": expected " + FormatSeq(want) + ", got " +
                      FormatFloat(s.v)};
    }
  }
  for (size_t i = 0; i < e.series.size(); ++i) {
    if (!seen[i]) return Mismatch{"expected series " + e.series[i].labels.ToString() + " not found"};
  }
  return std::nullopt;
}

std::optional<Mismatch> CompareMatrix(const EvalCmd& e, const Matrix& got, int64_t start, int64_t end,
                                      int64_t step) {
  for (size_t i = 1; i < got.size(); ++i) {
    if (!(got[i - 1].metric < got[i].metric)) {
      return Mismatch{"matrix is not sorted by labels (or repeats a series): " + got[i - 1].metric.ToString() +
                      " before " + got[i].metric.ToString()};
    }
  }
  std::map<Labels, const SeriesLine*> index;
  for (const auto& s : e.series) index.emplace(s.labels, &s);
  std::map<Labels, bool> seen;
  for (const auto& s : got) {
    auto it = index.find(s.metric);
    if (it == index.end()) return Mismatch{"unexpected series " + s.metric.ToString() + " in result"};
    seen[s.metric] = true;
    std::vector<std::pair<int64_t, const SeqValue*>> want;
    const auto& vals = it->second->values;
    for (size_t i = 0; i < vals.size(); ++i) {
      int64_t t = start + static_cast<int64_t>(i) * step;
      if (t > end) {
        return Mismatch{"expected " + std::to_string(vals.size()) + " points for " + s.metric.ToString() +
                        ", but the query time range cannot return this many points"};
      }
      if (vals[i].kind != K::kOmitted) want.emplace_back(t, &vals[i]);
    }
    if (want.size() != s.points.size()) {
      return Mismatch{"series " + s.metric.ToString() + ": expected " + std::to_string(want.size()) +
                      " points, got " + std::to_string(s.points.size())};
    }
    for (size_t i = 0; i < want.size(); ++i) {
      const FPoint& p = s.points[i];
      if (p.t != want[i].first) {
        return Mismatch{"series " + s.metric.ToString() + ": point " + std::to_string(i) + " at " +
                        FormatMs(p.t) + ", expected at " + FormatMs(want[i].first)};
      }
      if (!MatchesSeq(*want[i].second, p.v)) {
        return Mismatch{"series " + s.metric.ToString() + " at " + FormatMs(p.t) + ": expected " +
                        FormatSeq(*want[i].second) + ", got " + FormatFloat(p.v)};
      }
    }
  }
  for (const auto& s : e.series) {
    if (!seen.count(s.labels)) return Mismatch{"expected series " + s.labels.ToString() + " not found"};
  }
  return std::nullopt;
}

std::string_view KindName(const Value& v) {
  if (std::holds_alternative<Scalar>(v)) return "scalar";
  if (std::holds_alternative<String>(v)) return "string";
  if (std::holds_alternative<Vector>(v)) return "instant vector";
  return "range vector (matrix)";
}

std::optional<Mismatch> CompareResult(const EvalCmd& e, const Value& v) {
  if (e.range) {
    const auto* m = std::get_if<Matrix>(&v);
    if (m == nullptr) return Mismatch{"range query returned a " + std::string(KindName(v))};
    return CompareMatrix(e, *m, e.start_ms, e.end_ms, e.step_ms);
  }
  if (e.scalar) {
    const auto* s = std::get_if<Scalar>(&v);
    if (s == nullptr) return Mismatch{"expected a scalar, got a " + std::string(KindName(v))};
    if (!AlmostEqual(*e.scalar, s->v)) {
      return Mismatch{"expected scalar " + FormatFloat(*e.scalar) + ", got " + FormatFloat(s->v)};
    }
    return std::nullopt;
  }
  if (e.string) {
    const auto* s = std::get_if<String>(&v);
    if (s == nullptr) return Mismatch{"expected a string, got a " + std::string(KindName(v))};
    if (s->v != *e.string) return Mismatch{"expected string \"" + *e.string + "\", got \"" + s->v + "\""};
    return std::nullopt;
  }
  if (e.range_vector) {
    const auto* m = std::get_if<Matrix>(&v);
    if (m == nullptr) return Mismatch{"expected a range vector, got a " + std::string(KindName(v))};
    return CompareMatrix(e, *m, e.rv_from_ms, e.rv_to_ms, e.rv_step_ms);
  }
  if (const auto* vec = std::get_if<Vector>(&v)) return CompareVector(e, *vec);
  if (std::holds_alternative<Matrix>(v)) {
    return Mismatch{"received a range vector result on an instant evaluation (no `expect range vector`)"};
  }
  return Mismatch{"expected an instant vector, got a " + std::string(KindName(v))};
}

// The annotation text without upstream's "PromQL warning: " prefix and " (l:c)" suffix.
std::string AnnotationBody(std::string_view a) {
  for (std::string_view p : {"PromQL warning: ", "PromQL info: "}) {
    if (a.substr(0, p.size()) == p) a.remove_prefix(p.size());
  }
  if (!a.empty() && a.back() == ')') {
    size_t open = a.rfind(" (");
    if (open != std::string_view::npos) {
      std::string_view pos = a.substr(open + 2, a.size() - open - 3);
      bool ok = !pos.empty() && pos.find(':') != std::string_view::npos;
      for (char c : pos) ok = ok && (c == ':' || (c >= '0' && c <= '9'));
      if (ok) a = a.substr(0, open);
    }
  }
  return std::string(a);
}

bool TextMatches(const Expectation& ex, std::string_view text, bool annotation) {
  switch (ex.match) {
    case Expectation::Match::kAny: return true;
    case Expectation::Match::kMsg:
      if (Trimmed(text) == ex.text) return true;
      return annotation && AnnotationBody(text) == ex.text;
    case Expectation::Match::kRegex: {
      auto re = common::re2::Regex::Compile(ex.text);
      return re.ok() && re->PartialMatch(text);
    }
  }
  return false;
}

// Annotation checks: presence/absence are failures; texts are notes.
void CheckAnnotations(const EvalCmd& e, const Annotations& a, EvalReport& r) {
  struct Kind {
    T want, none;
    const std::vector<std::string>* got;
    const char* name;
  } kinds[] = {{T::kWarn, T::kNoWarn, &a.warnings, "warning"}, {T::kInfo, T::kNoInfo, &a.infos, "info"}};
  for (const auto& k : kinds) {
    if (e.Has(k.none) && !k.got->empty()) {
      r.outcome = Outcome::kFail;
      r.failure = FailureKind::kAnnotation;
      r.message = std::string("expected no ") + k.name + " annotation, got " + std::to_string(k.got->size());
      for (const auto& g : *k.got) r.got += (r.got.empty() ? "" : "\n") + g;
      return;
    }
    if (!e.Has(k.want)) continue;
    if (k.got->empty()) {
      r.outcome = Outcome::kFail;
      r.failure = FailureKind::kAnnotation;
      r.message = std::string("expected a ") + k.name + " annotation, got none";
      return;
    }
    // Text checks (soft).
    std::vector<const Expectation*> exps;
    for (const auto& ex : e.expects) {
      if (ex.type == k.want) exps.push_back(&ex);
    }
    for (const Expectation* ex : exps) {
      bool any = false;
      for (const auto& g : *k.got) any = any || TextMatches(*ex, g, true);
      if (!any) {
        r.notes.push_back("line " + std::to_string(ex->line) + ": no " + k.name + " matches " +
                          (ex->match == Expectation::Match::kMsg ? "msg: " : "regex: ") + ex->text);
      }
    }
    for (const auto& g : *k.got) {
      bool any = false;
      for (const Expectation* ex : exps) any = any || TextMatches(*ex, g, true);
      if (!any) r.notes.push_back(std::string("unexpected ") + k.name + " text: " + g);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The finer native-histogram skip rule: does an expression read series with histogram samples?

bool MatchesAll(const Labels& l, const std::vector<storage::Matcher>& ms) {
  for (const auto& m : ms) {
    if (!m.Matches(l.Get(m.name()))) return false;
  }
  return true;
}

using HistogramMap = MemoryStorage::HistogramMap;

// The time window a selector may read, inclusive, in milliseconds.
struct TimeWindow {
  static constexpr int64_t kMin = std::numeric_limits<int64_t>::min() / 4;
  static constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 4;
  int64_t lo = kMin;
  int64_t hi = kMax;
};

// What the walk needs besides the tree: the marked series, the query's start and end (for
// `@ start()` / `@ end()`) and the lookback delta.
struct HistogramScan {
  const HistogramMap& hist;
  int64_t start, end, lookback;
};

// The first marked series that `ms` matches and that has a histogram sample in `w`, or nullptr.
const Labels* FirstHistogramSeries(const std::vector<storage::Matcher>& ms, TimeWindow w,
                                   const HistogramMap& hist) {
  for (const auto& [l, ts] : hist) {
    if (!MatchesAll(l, ms)) continue;
    auto it = ts.lower_bound(w.lo);
    if (it != ts.end() && *it <= w.hi) return &l;
  }
  return nullptr;
}

bool IsHistogramOnlyFunction(std::string_view fn) {
  return fn == "histogram_count" || fn == "histogram_sum" || fn == "histogram_avg" ||
         fn == "histogram_stddev" || fn == "histogram_stdvar";
}

// The reference times [lo, hi] of a selector or subquery evaluated at [lo, hi]: `@` pins them,
// offset moves them into the past. nullopt when an offset is a duration expression (unknown here).
std::optional<TimeWindow> RefTimes(const HistogramScan& sc, TimeWindow at, std::optional<int64_t> at_ms,
                                   parser::AtModifier mod, int64_t offset_ms, const parser::ExprPtr& offset_expr) {
  if (offset_expr) return std::nullopt;
  if (at_ms) at = {*at_ms, *at_ms};
  if (mod == parser::AtModifier::kStart) at = {sc.start, sc.start};
  if (mod == parser::AtModifier::kEnd) at = {sc.end, sc.end};
  return TimeWindow{at.lo - offset_ms, at.hi - offset_ms};
}

// Why `e`, evaluated at times in `at`, needs native histograms, or nullopt. (b): a vector or
// matrix selector (or info()'s implicit `target_info` selection) matches a marked series with a
// histogram sample in the window the selector reads (lookback, range, offset, `@` and subquery
// ranges applied; the whole time line when a duration expression is involved); (c): a
// histogram-only function reading such a series ((b) for its argument: (c) only names the
// function in the reason).
std::optional<std::string> NeedsHistograms(const parser::Expr& e, TimeWindow at, const HistogramScan& sc) {
  using Kind = parser::Expr::Kind;
  auto sub = [&](const parser::ExprPtr& p, TimeWindow w) -> std::optional<std::string> {
    return p ? NeedsHistograms(*p, w, sc) : std::nullopt;
  };
  auto found = [](const Labels& l) { return "selects " + l.ToString() + ", which has native-histogram samples"; };
  switch (e.kind) {
    case Kind::kVectorSelector: {
      const auto& vs = static_cast<const parser::VectorSelector&>(e);
      TimeWindow w;
      if (auto ref = RefTimes(sc, at, vs.at_ms, vs.at_modifier, vs.offset_ms, vs.offset_expr)) {
        w = {ref->lo - sc.lookback, ref->hi + (vs.smoothed ? sc.lookback : 0)};
      }
      if (const Labels* l = FirstHistogramSeries(vs.matchers, w, sc.hist)) return found(*l);
      return std::nullopt;
    }
    case Kind::kMatrixSelector: {
      const auto& ms = static_cast<const parser::MatrixSelector&>(e);
      const auto& vs = static_cast<const parser::VectorSelector&>(*ms.vector_selector);
      TimeWindow w;
      auto ref = RefTimes(sc, at, vs.at_ms, vs.at_modifier, vs.offset_ms, vs.offset_expr);
      if (ref && !ms.range_expr) {
        bool ext = vs.anchored || vs.smoothed;
        w = {ref->lo - ms.range_ms - (ext ? sc.lookback : 0), ref->hi + (vs.smoothed ? sc.lookback : 0)};
      }
      if (const Labels* l = FirstHistogramSeries(vs.matchers, w, sc.hist)) return found(*l);
      return std::nullopt;
    }
    case Kind::kSubquery: {
      const auto& sq = static_cast<const parser::SubqueryExpr&>(e);
      TimeWindow w;
      auto ref = RefTimes(sc, at, sq.at_ms, sq.at_modifier, sq.offset_ms, sq.offset_expr);
      if (ref && !sq.range_expr) w = {ref->lo - sq.range_ms, ref->hi};
      return sub(sq.expr, w);
    }
    case Kind::kParen: return sub(static_cast<const parser::ParenExpr&>(e).expr, at);
    case Kind::kUnary: return sub(static_cast<const parser::UnaryExpr&>(e).expr, at);
    case Kind::kAggregate: {
      const auto& a = static_cast<const parser::AggregateExpr&>(e);
      if (auto r = sub(a.param, at)) return r;
      return sub(a.expr, at);
    }
    case Kind::kBinary: {
      const auto& b = static_cast<const parser::BinaryExpr&>(e);
      if (auto r = sub(b.lhs, at)) return r;
      return sub(b.rhs, at);
    }
    case Kind::kCall: {
      const auto& c = static_cast<const parser::Call&>(e);
      std::string_view fn = c.func != nullptr ? std::string_view(c.func->name) : std::string_view();
      for (const auto& a : c.args) {
        // info()'s second argument selects info series around the first one's times: any time.
        bool anytime = fn == "info" && &a != &c.args.front();
        if (auto r = sub(a, anytime ? TimeWindow{} : at)) {
          if (IsHistogramOnlyFunction(fn)) return std::string(fn) + "() " + *r;
          return r;
        }
      }
      if (fn == "info" && c.args.size() < 2) {
        auto m = storage::Matcher::Make(storage::Matcher::Type::kEqual, "__name__", "target_info");
        if (m.ok()) {
          if (const Labels* l = FirstHistogramSeries({*m}, TimeWindow{}, sc.hist)) return "info() " + found(*l);
        }
      }
      return std::nullopt;
    }
    case Kind::kNumberLiteral:
    case Kind::kStringLiteral:
    case Kind::kDuration: return std::nullopt;
  }
  return std::nullopt;
}

// The label set of the NHCB series that `load_with_nhcb` synthesises from a classic-histogram
// series (`x_bucket{le=..}`, `x_count`, `x_sum` -> `x` without `le`), or nullopt.
std::optional<Labels> NhcbSeries(const Labels& l) {
  std::string_view name = l.Get(model::kMetricName);
  std::string_view base;
  for (std::string_view suffix : {"_bucket", "_count", "_sum"}) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      if (suffix == "_bucket" && !l.Has("le")) return std::nullopt;
      base = name.substr(0, name.size() - suffix.size());
      break;
    }
  }
  if (base.empty()) return std::nullopt;
  std::vector<model::Label> out;
  for (const auto& x : l) {
    if (x.name == "le") continue;
    if (x.name == model::kMetricName) {
      out.push_back({x.name, std::string(base)});
    } else {
      out.push_back(x);
    }
  }
  return Labels(std::move(out));
}

void Fail(EvalReport& r, FailureKind k, std::string msg) {
  r.outcome = Outcome::kFail;
  r.failure = k;
  r.message = std::move(msg);
}

// An eval's query, parsed once for the histogram check and the run; a parser exception is kept
// to be reported as the eval's failure.
struct ParsedQuery {
  Result<parser::ExprPtr> expr = Status::Internal("not parsed");
  std::string exception;
};

ParsedQuery ParseQuery(const std::string& q) {
  ParsedQuery p;
  try {
    p.expr = parser::ParseExpr(q);
  } catch (const std::exception& ex) {
    p.exception = std::string("exception: ") + ex.what();
  } catch (...) {
    p.exception = "unknown exception";
  }
  return p;
}

void RunEval(const EvalCmd& e, ParsedQuery& q, MemoryStorage& store, Engine& engine,
             EvalReport& r) {
  const Expectation* fail = e.Find(T::kFail);
  if (!q.exception.empty()) {
    Fail(r, FailureKind::kException, q.exception);
    return;
  }
  Result<QueryResult> res = Status::Internal("not run");
  try {
    auto& expr = q.expr;
    if (!expr.ok()) {
      res = expr.status();
    } else if (e.range) {
      res = engine.Range(store, **expr, e.start_ms, e.end_ms, e.step_ms);
    } else {
      res = engine.Instant(store, **expr, e.start_ms);
    }
  } catch (const std::exception& ex) {
    Fail(r, FailureKind::kException, std::string("exception: ") + ex.what());
    return;
  } catch (...) {
    Fail(r, FailureKind::kException, "unknown exception");
    return;
  }
  if (!res.ok()) {
    std::string msg(res.status().message());
    if (fail == nullptr) {
      Fail(r, FailureKind::kUnexpectedError, msg);
      r.expected = FormatExpected(e);
      r.got = "error: " + msg;
      return;
    }
    if (!TextMatches(*fail, msg, false)) {
      Fail(r, FailureKind::kFailMessage, "failed as expected, but with another message");
      r.expected = std::string(fail->match == Expectation::Match::kMsg ? "msg: " : "regex: ") + fail->text;
      r.got = msg;
    }
    return;
  }
  if (fail != nullptr) {
    Fail(r, FailureKind::kMissingError, "expected an error, the query succeeded");
    r.expected = "error" + (fail->match == Expectation::Match::kAny ? "" : " (" + fail->text + ")");
    r.got = FormatValue(res->value);
    return;
  }
  if (auto mm = CompareResult(e, res->value)) {
    Fail(r, FailureKind::kMismatch, mm->msg);
    r.expected = FormatExpected(e);
    r.got = FormatValue(res->value);
    return;
  }
  CheckAnnotations(e, res->annotations, r);
}

}  // namespace

EngineOptions RunOptions::DefaultEngineOptions() {
  EngineOptions o;
  o.lookback_delta_ms = 5 * 60 * 1000;
  o.default_subquery_step_ms = 60 * 1000;
  o.timeout_ms = 60 * 1000;
  o.enable_experimental = true;
  return o;
}

std::string_view FailureKindName(FailureKind k) {
  switch (k) {
    case FailureKind::kMismatch: return "mismatch";
    case FailureKind::kUnexpectedError: return "unexpected error";
    case FailureKind::kMissingError: return "missing error";
    case FailureKind::kFailMessage: return "error message mismatch";
    case FailureKind::kAnnotation: return "annotation";
    case FailureKind::kLoad: return "load";
    case FailureKind::kException: return "exception";
  }
  return "?";
}

std::string_view SkipKindName(SkipKind k) {
  return k == SkipKind::kNativeHistograms ? "native histograms" : "?";
}

bool AlmostEqual(double a, double b) {
  constexpr double kEpsilon = 1e-6;
  constexpr double kMinNormal = 2.2250738585072014e-308;  // smallest positive normal float64
  if (storage::IsStaleNaN(a) || storage::IsStaleNaN(b)) return storage::IsStaleNaN(a) && storage::IsStaleNaN(b);
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < kEpsilon * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < kEpsilon;
}

std::string FormatFloat(double v) {
  if (storage::IsStaleNaN(v)) return "stale";
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

FileReport RunScript(const Script& script, const std::string& path, const RunOptions& opts) {
  FileReport rep;
  rep.path = path;
  MemoryStorage store;
  Engine engine(opts.engine);
  int nh_line = 0;  // line of the load that brought native histograms, since the last clear
  for (const auto& cmd : script.commands) {
    if (std::holds_alternative<ClearCmd>(cmd)) {
      store.Clear();
      nh_line = 0;
      continue;
    }
    if (const auto* load = std::get_if<LoadCmd>(&cmd)) {
      if (load->has_histograms && nh_line == 0) nh_line = load->line;
      for (const auto& s : load->series) {
        std::optional<Labels> nhcb = load->with_nhcb ? NhcbSeries(s.labels) : std::nullopt;
        for (size_t i = 0; i < s.values.size(); ++i) {
          const SeqValue& v = s.values[i];
          int64_t t = static_cast<int64_t>(i) * load->step_ms;
          if (v.kind == K::kHistogram) store.MarkHistogram(s.labels, t);
          if (nhcb && v.kind != K::kOmitted) store.MarkHistogram(*nhcb, t);
          if (v.kind != K::kFloat && v.kind != K::kStale) continue;
          int64_t start_ts = 0;
          if (i < s.st_offsets.size() && s.st_offsets[i]) start_ts = t + *s.st_offsets[i];
          Status st = store.Add(s.labels, t, v.kind == K::kStale ? storage::StaleNaN() : v.v, start_ts);
          if (!st.ok()) {
            EvalReport r;
            r.line = s.line;
            Fail(r, FailureKind::kLoad,
                 "cannot load " + s.labels.ToString() + " at " + FormatMs(t) + ": " + std::string(st.message()));
            rep.evals.push_back(std::move(r));
            break;
          }
        }
      }
      continue;
    }
    const auto& e = std::get<EvalCmd>(cmd);
    EvalReport r;
    r.line = e.line;
    r.expr = e.expr;
    r.range = e.range;
    std::optional<std::string> nh_reason;
    ParsedQuery parsed = ParseQuery(e.expr);
    if (e.body_has_histogram) {
      nh_reason = "expects native-histogram output";
    } else if (nh_line != 0 && opts.conservative_nh_skip) {
      nh_reason = "native histograms loaded (line " + std::to_string(nh_line) + ")";
    } else if (!store.histogram_series().empty() && parsed.expr.ok()) {
      // A parse error (or exception) is left to RunEval, which reports it or matches `expect fail`.
      try {
        HistogramScan sc{store.histogram_series(), e.start_ms, e.end_ms, opts.engine.lookback_delta_ms};
        nh_reason = NeedsHistograms(**parsed.expr, TimeWindow{e.start_ms, e.end_ms}, sc);
      } catch (...) {
        nh_reason.reset();
      }
    }
    if (nh_reason) {
      r.outcome = Outcome::kSkip;
      r.skip = SkipKind::kNativeHistograms;
      r.skip_reason = std::move(*nh_reason);
    } else {
      RunEval(e, parsed, store, engine, r);
    }
    rep.evals.push_back(std::move(r));
  }
  for (const auto& r : rep.evals) {
    switch (r.outcome) {
      case Outcome::kPass: rep.passed++; break;
      case Outcome::kFail:
        rep.failed++;
        if (r.failure == FailureKind::kFailMessage) rep.fail_message_mismatches++;
        break;
      case Outcome::kSkip:
        rep.skipped++;
        rep.skipped_native_histograms++;
        break;
    }
    if (!r.notes.empty()) rep.annotation_notes++;
  }
  return rep;
}

FileReport RunFile(const std::string& path, const RunOptions& opts) {
  auto s = ParseScriptFile(path);
  if (!s.ok()) {
    FileReport rep;
    rep.path = path;
    rep.script_error = s.status();
    return rep;
  }
  return RunScript(*s, path, opts);
}

}  // namespace collector::promql::promqltest
