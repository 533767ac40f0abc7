// PromQL evaluator core: selectors, lookback, subqueries, operators, result assembly.
// See eval.h for the evaluation model.

#include "collector/promql/engine/engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "collector/promql/engine/eval.h"

namespace collector::promql {
namespace internal {

using parser::AggregateExpr;
using parser::BinaryExpr;
using parser::BinOp;
using parser::Call;
using parser::Cardinality;
using parser::DurationExpr;
using parser::Expr;
using parser::MatrixSelector;
using parser::NumberLiteral;
using parser::ParenExpr;
using parser::StringLiteral;
using parser::SubqueryExpr;
using parser::UnaryExpr;
using parser::VectorMatching;
using parser::VectorSelector;

// ---------------------------------------------------------------------------------------------
// Helpers

ValueType TypeOf(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumberLiteral:
    case Expr::Kind::kDuration:
      return ValueType::kScalar;
    case Expr::Kind::kStringLiteral:
      return ValueType::kString;
    case Expr::Kind::kVectorSelector:
    case Expr::Kind::kAggregate:
      return ValueType::kVector;
    case Expr::Kind::kMatrixSelector:
    case Expr::Kind::kSubquery:
      return ValueType::kMatrix;
    case Expr::Kind::kParen:
      return TypeOf(*static_cast<const ParenExpr&>(e).expr);
    case Expr::Kind::kUnary:
      return TypeOf(*static_cast<const UnaryExpr&>(e).expr);
    case Expr::Kind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (TypeOf(*b.lhs) == ValueType::kScalar && TypeOf(*b.rhs) == ValueType::kScalar) {
        return ValueType::kScalar;
      }
      return ValueType::kVector;
    }
    case Expr::Kind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      return c.func ? c.func->return_type : ValueType::kNone;
    }
  }
  return ValueType::kNone;
}

const Expr& Unparen(const Expr& e) {
  const Expr* p = &e;
  while (p->kind == Expr::Kind::kParen) p = static_cast<const ParenExpr*>(p)->expr.get();
  return *p;
}

Labels DropMetricName(const Labels& l) {
  bool has = false;
  for (const auto& x : l) {
    if (x.name == "__name__" || x.name == "__type__" || x.name == "__unit__") {
      has = true;
      break;
    }
  }
  if (!has) return l;
  std::vector<model::Label> out;
  out.reserve(l.size());
  for (const auto& x : l) {
    if (x.name == "__name__" || x.name == "__type__" || x.name == "__unit__") continue;
    out.push_back(x);
  }
  return Labels(std::move(out));
}

namespace {
// The engine's own hash of a label set (never stored): std::hash of the names and values, which
// reads words where Labels::Hash() (whose values the tsdb keeps) reads bytes.
struct LabelsHash {
  size_t operator()(const Labels& l) const {
    size_t h = 0x9e3779b97f4a7c15ull;
    for (const auto& x : l) {
      h = (h ^ std::hash<std::string_view>{}(x.name)) * 0x100000001b3ull;
      h = (h ^ std::hash<std::string_view>{}(x.value)) * 0x100000001b3ull;
    }
    return h ^ (h >> 29);
  }
};
}  // namespace

bool ContainsSameLabelset(const EVector& v) {
  if (v.size() < 2) return false;
  // Sorted hashes; only equal hashes compare their label sets.
  std::vector<std::pair<size_t, size_t>> h;
  h.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) h.emplace_back(LabelsHash{}(v[i].metric), i);
  std::sort(h.begin(), h.end());
  for (size_t i = 0; i + 1 < h.size(); ++i) {
    for (size_t j = i + 1; j < h.size() && h[j].first == h[i].first; ++j) {
      if (v[h[i].second].metric == v[h[j].second].metric) return true;
    }
  }
  return false;
}

std::string FormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

std::string FormatG(double v) {
  // Go's %v for float64: %g with the shortest representation; exponent when exp < -4 || exp >= 21.
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  size_t epos = sci.find('e');
  int exp = std::stoi(sci.substr(epos + 1));
  if (exp < -4 || exp >= 21) {
    // Go prints e+06 style exponents with at least two digits.
    std::string mant = sci.substr(0, epos);
    char sign = exp < 0 ? '-' : '+';
    int a = std::abs(exp);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", sign, a);
    return mant + eb;
  }
  r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

Status ExecError(std::string_view msg) { return Status::Internal(msg); }

// ---------------------------------------------------------------------------------------------
// Evaluator basics

Evaluator::Evaluator(const EngineOptions& opts, int64_t start, int64_t end, int64_t interval,
                     const std::atomic<bool>* cancel,
                     std::chrono::steady_clock::time_point deadline)
    : opts_(opts),
      start_(start),
      end_(end),
      interval_(interval),
      cancel_(cancel),
      deadline_(deadline),
      began_(std::chrono::steady_clock::now()) {}

Status Evaluator::CheckInterrupt() {
  if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) {
    return Status(common::Code::kCancelled, "query was canceled in query execution");
  }
  if ((++polls_ & 63) == 0 && std::chrono::steady_clock::now() > deadline_) {
    return Status::DeadlineExceeded("query timed out in query execution");
  }
  return Status::Ok();
}

Status Evaluator::AddSamples(int64_t n) {
  step_samples_ += n;
  if (step_samples_ + result_samples_ > opts_.max_samples) {
    return Status::ResourceExhausted(
        "query processing would load too many samples into memory in query execution");
  }
  return Status::Ok();
}

void Evaluator::Annotate(std::vector<std::string>& dst, std::string_view kind, std::string msg,
                         const Expr& at) {
  std::string s = std::string(kind) + ": " + msg + " (1:" + std::to_string(at.pos.start + 1) + ")";
  if (std::find(dst.begin(), dst.end(), s) == dst.end()) dst.push_back(std::move(s));
}
void Evaluator::Warn(std::string msg, const Expr& at) {
  Annotate(annos_.warnings, "PromQL warning", std::move(msg), at);
}
void Evaluator::Info(std::string msg, const Expr& at) {
  Annotate(annos_.infos, "PromQL info", std::move(msg), at);
}
Annotations Evaluator::TakeAnnotations() { return std::move(annos_); }

int64_t Evaluator::AtTime(std::optional<int64_t> at_ms, parser::AtModifier mod, int64_t ts) const {
  switch (mod) {
    case parser::AtModifier::kStart:
      return start_;
    case parser::AtModifier::kEnd:
      return end_;
    case parser::AtModifier::kNone:
      break;
  }
  return at_ms ? *at_ms : ts;
}

// Duration expressions are evaluated in seconds (as written), then converted to milliseconds
// the way Go does (time.Duration(sec * 1e9) truncated, then to ms).
Result<double> Evaluator::EvalDuration(const Expr& e) const {
  const Expr& u = Unparen(e);
  if (u.kind == Expr::Kind::kNumberLiteral) return static_cast<const NumberLiteral&>(u).val;
  if (u.kind == Expr::Kind::kUnary) {
    const auto& un = static_cast<const UnaryExpr&>(u);
    auto r = EvalDuration(*un.expr);
    if (!r.ok()) return r;
    return un.negate ? -*r : *r;
  }
  if (u.kind == Expr::Kind::kBinary) {
    // Tolerate a number expression tree (the parser may build BinaryExpr for `2*60`).
    const auto& b = static_cast<const BinaryExpr&>(u);
    auto l = EvalDuration(*b.lhs);
    if (!l.ok()) return l;
    auto r = EvalDuration(*b.rhs);
    if (!r.ok()) return r;
    switch (b.op) {
      case BinOp::kAdd: return *l + *r;
      case BinOp::kSub: return *l - *r;
      case BinOp::kMul: return *l * *r;
      case BinOp::kDiv: return *l / *r;
      case BinOp::kMod: return std::fmod(*l, *r);
      case BinOp::kPow: return std::pow(*l, *r);
      default: return Status::InvalidArgument("invalid operator in duration expression");
    }
  }
  if (u.kind != Expr::Kind::kDuration) {
    return Status::InvalidArgument("unsupported expression in duration position");
  }
  const auto& d = static_cast<const DurationExpr&>(u);
  using Op = DurationExpr::Op;
  if (d.op == Op::kLiteral) return d.literal_seconds;
  if (d.op == Op::kStep) return static_cast<double>(interval_) / 1000.0;
  if (d.op == Op::kRange) return static_cast<double>(end_ - start_) / 1000.0;
  if (!d.lhs) return Status::InvalidArgument("malformed duration expression");
  auto l = EvalDuration(*d.lhs);
  if (!l.ok()) return l;
  if (d.op == Op::kNeg) return -*l;
  if (!d.rhs) return Status::InvalidArgument("malformed duration expression");
  auto r = EvalDuration(*d.rhs);
  if (!r.ok()) return r;
  switch (d.op) {
    case Op::kAdd: return *l + *r;
    case Op::kSub: return *l - *r;
    case Op::kMul: return *l * *r;
    case Op::kDiv:
      if (*r == 0) return Status::InvalidArgument("division by zero");
      return *l / *r;
    case Op::kMod:
      if (*r == 0) return Status::InvalidArgument("modulo by zero");
      return std::fmod(*l, *r);
    case Op::kPow: return std::pow(*l, *r);
    case Op::kMinOf: return std::min(*l, *r);
    case Op::kMaxOf: return std::max(*l, *r);
    default: break;
  }
  return Status::InvalidArgument("malformed duration expression");
}

int64_t Evaluator::DurationOf(const Expr* expr, int64_t static_ms) const {
  if (expr == nullptr) return static_ms;
  auto it = durations_.find(expr);
  return it == durations_.end() ? static_ms : it->second;
}

// ---------------------------------------------------------------------------------------------
// Planning: which data window each selector needs.

void Evaluator::AddWindow(const VectorSelector* vs, int64_t mint, int64_t maxt) {
  auto [it, inserted] = windows_.try_emplace(vs, Window{mint, maxt});
  if (!inserted) {
    it->second.mint = std::min(it->second.mint, mint);
    it->second.maxt = std::max(it->second.maxt, maxt);
  }
}

void Evaluator::Plan(const Expr& e, int64_t lo, int64_t hi) {
  switch (e.kind) {
    case Expr::Kind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      int64_t off = DurationOf(vs.offset_expr.get(), vs.offset_ms);
      bool at = vs.at_ms.has_value() || vs.at_modifier != parser::AtModifier::kNone;
      int64_t rlo = at ? AtTime(vs.at_ms, vs.at_modifier, lo) - off : lo - off;
      int64_t rhi = at ? rlo : hi - off;
      AddWindow(&vs, rlo - opts_.lookback_delta_ms + 1,
                rhi + (vs.smoothed ? opts_.lookback_delta_ms : 0));
      windows_[&vs].instant = true;
      return;
    }
    case Expr::Kind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
      int64_t off = DurationOf(vs.offset_expr.get(), vs.offset_ms);
      int64_t range = DurationOf(ms.range_expr.get(), ms.range_ms);
      bool at = vs.at_ms.has_value() || vs.at_modifier != parser::AtModifier::kNone;
      int64_t rlo = at ? AtTime(vs.at_ms, vs.at_modifier, lo) - off : lo - off;
      int64_t rhi = at ? rlo : hi - off;
      if (vs.anchored || vs.smoothed) {
        AddWindow(&vs, rlo - range - opts_.lookback_delta_ms + 1,
                  rhi + (vs.smoothed ? opts_.lookback_delta_ms : 0));
      } else {
        AddWindow(&vs, rlo - range + 1, rhi);
      }
      return;
    }
    case Expr::Kind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      int64_t off = DurationOf(sq.offset_expr.get(), sq.offset_ms);
      int64_t range = DurationOf(sq.range_expr.get(), sq.range_ms);
      bool at = sq.at_ms.has_value() || sq.at_modifier != parser::AtModifier::kNone;
      int64_t rlo = at ? AtTime(sq.at_ms, sq.at_modifier, lo) - off : lo - off;
      int64_t rhi = at ? rlo : hi - off;
      Plan(*sq.expr, rlo - range, rhi);
      return;
    }
    case Expr::Kind::kParen:
      Plan(*static_cast<const ParenExpr&>(e).expr, lo, hi);
      return;
    case Expr::Kind::kUnary:
      Plan(*static_cast<const UnaryExpr&>(e).expr, lo, hi);
      return;
    case Expr::Kind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      Plan(*b.lhs, lo, hi);
      Plan(*b.rhs, lo, hi);
      return;
    }
    case Expr::Kind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      Plan(*a.expr, lo, hi);
      if (a.param) Plan(*a.param, lo, hi);
      return;
    }
    case Expr::Kind::kCall: {
      for (const auto& a : static_cast<const Call&>(e).args) Plan(*a, lo, hi);
      return;
    }
    default:
      return;
  }
}

namespace {
// Collects every duration expression (offset/range/step) of the tree.
void CollectDurations(const Expr& e, std::vector<const Expr*>& out) {
  switch (e.kind) {
    case Expr::Kind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      if (vs.offset_expr) out.push_back(vs.offset_expr.get());
      return;
    }
    case Expr::Kind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      if (ms.range_expr) out.push_back(ms.range_expr.get());
      CollectDurations(*ms.vector_selector, out);
      return;
    }
    case Expr::Kind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      if (sq.range_expr) out.push_back(sq.range_expr.get());
      if (sq.step_expr) out.push_back(sq.step_expr.get());
      if (sq.offset_expr) out.push_back(sq.offset_expr.get());
      CollectDurations(*sq.expr, out);
      return;
    }
    case Expr::Kind::kParen:
      CollectDurations(*static_cast<const ParenExpr&>(e).expr, out);
      return;
    case Expr::Kind::kUnary:
      CollectDurations(*static_cast<const UnaryExpr&>(e).expr, out);
      return;
    case Expr::Kind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      CollectDurations(*b.lhs, out);
      CollectDurations(*b.rhs, out);
      return;
    }
    case Expr::Kind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      CollectDurations(*a.expr, out);
      if (a.param) CollectDurations(*a.param, out);
      return;
    }
    case Expr::Kind::kCall:
      for (const auto& a : static_cast<const Call&>(e).args) CollectDurations(*a, out);
      return;
    default:
      return;
  }
}
}  // namespace

namespace {

// The index of the first point with t > x. Searches forward from `hint` when every point before
// it is <= x (range queries evaluate steps in increasing time, so a window's ends only move
// forward), else the whole vector.
size_t UpperFrom(const std::vector<FPoint>& pts, size_t hint, int64_t x) {
  size_t n = pts.size();
  if (hint > n || (hint > 0 && pts[hint - 1].t > x)) hint = 0;
  size_t i = hint;
  for (size_t lim = std::min(n, hint + 8); i < lim; ++i) {
    if (pts[i].t > x) return i;
  }
  if (i == n) return n;
  return static_cast<size_t>(
      std::upper_bound(pts.begin() + static_cast<std::ptrdiff_t>(i), pts.end(), x,
                       [](int64_t t, const FPoint& p) { return t < p.t; }) -
      pts.begin());
}

}  // namespace

Status Evaluator::Prepare(storage::Queryable& q, const Expr& root) {
  std::vector<const Expr*> durs;
  CollectDurations(root, durs);
  for (const Expr* d : durs) {
    auto secs = EvalDuration(*d);
    if (!secs.ok()) return secs.status();
    double ns = *secs * 1e9;
    if (!std::isfinite(ns) || std::fabs(ns) > 9.2e18) {
      return Status::InvalidArgument("duration out of range");
    }
    durations_[d] = static_cast<int64_t>(ns) / 1000000;
  }
  Plan(root, start_, end_);
  if (windows_.empty()) return Status::Ok();
  int64_t mint = std::numeric_limits<int64_t>::max();
  int64_t maxt = std::numeric_limits<int64_t>::min();
  for (const auto& [vs, w] : windows_) {
    mint = std::min(mint, w.mint);
    maxt = std::max(maxt, w.maxt);
  }
  querier_mint_ = mint;
  querier_maxt_ = maxt;
  auto qr = q.NewQuerier(mint, maxt);
  if (!qr.ok()) return qr.status();
  querier_ = std::move(*qr);
  return Status::Ok();
}

Result<std::vector<Evaluator::Loaded>*> Evaluator::Data(const VectorSelector& vs) {
  auto it = data_.find(&vs);
  if (it != data_.end()) return &it->second;
  auto wit = windows_.find(&vs);
  std::vector<Loaded> loaded;
  if (wit != windows_.end() && querier_) {
    // Unsorted, as Prometheus' engine asks: results are sorted where PromQL defines an order.
    // An instant vector selector evaluated at one time needs only each series' newest sample.
    const Window& w = wit->second;
    bool one_time = w.instant && !vs.smoothed && !vs.anchored &&
                    w.maxt - w.mint == opts_.lookback_delta_ms - 1;
    auto set = one_time ? querier_->SelectLatest(w.mint, w.maxt, vs.matchers)
                        : querier_->Select(false, w.mint, w.maxt, vs.matchers);
    while (set->Next()) {
      LOOKOUT_RETURN_IF_ERROR(CheckInterrupt());
      Loaded l;
      l.metric = set->At().labels();
      // Moved in, not copied (the tsdb hands over its decoded vector).
      LOOKOUT_RETURN_IF_ERROR(set->TakeSamples(l.points, l.st));
      l.TrimTo(wit->second.mint, wit->second.maxt);
      if (l.points.empty()) continue;
      if (!w.instant) l.IndexLive();  // only range functions read Live() and no_decrease
      loaded.push_back(std::move(l));
    }
    LOOKOUT_RETURN_IF_ERROR(set->status());
  }
  auto [ins, _] = data_.emplace(&vs, std::move(loaded));
  return &ins->second;
}

Result<EVector> Evaluator::SelectAt(const std::vector<storage::Matcher>& matchers, int64_t ref) {
  std::string key;
  for (const auto& m : matchers) key += m.ToString() + "\xff";
  auto it = raw_.find(key);
  if (it == raw_.end()) {
    std::vector<Loaded> loaded;
    if (querier_) {
      // Sorted: info() picks among equal candidates in this order.
      auto set = querier_->Select(true, querier_mint_, querier_maxt_, matchers);
      while (set->Next()) {
        Loaded l;
        l.metric = set->At().labels();
        LOOKOUT_RETURN_IF_ERROR(set->TakeSamples(l.points, l.st));
        if (!l.points.empty()) loaded.push_back(std::move(l));
      }
      LOOKOUT_RETURN_IF_ERROR(set->status());
    }
    it = raw_.emplace(key, std::move(loaded)).first;
  }
  EVector out;
  for (const Loaded& s : it->second) {
    auto p = std::upper_bound(s.points.begin(), s.points.end(), ref,
                              [](int64_t t, const FPoint& x) { return t < x.t; });
    if (p == s.points.begin()) continue;
    --p;
    if (p->t <= ref - opts_.lookback_delta_ms || storage::IsStaleNaN(p->v)) continue;
    out.push_back(ESample{s.metric, p->v, p->t, false});
  }
  return out;
}

int64_t Evaluator::RefTimeOf(const Expr& e, int64_t ts) const {
  switch (e.kind) {
    case Expr::Kind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      return AtTime(vs.at_ms, vs.at_modifier, ts) - DurationOf(vs.offset_expr.get(), vs.offset_ms);
    }
    case Expr::Kind::kMatrixSelector:
      return RefTimeOf(*static_cast<const MatrixSelector&>(e).vector_selector, ts);
    case Expr::Kind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      bool at = sq.at_ms.has_value() || sq.at_modifier != parser::AtModifier::kNone;
      int64_t ref = AtTime(sq.at_ms, sq.at_modifier, ts) - DurationOf(sq.offset_expr.get(), sq.offset_ms);
      if (!at) return ref;
      return RefTimeOf(*sq.expr, ref);
    }
    case Expr::Kind::kParen:
      return RefTimeOf(*static_cast<const ParenExpr&>(e).expr, ts);
    case Expr::Kind::kUnary:
      return RefTimeOf(*static_cast<const UnaryExpr&>(e).expr, ts);
    case Expr::Kind::kAggregate:
      return RefTimeOf(*static_cast<const AggregateExpr&>(e).expr, ts);
    case Expr::Kind::kBinary:
      return RefTimeOf(*static_cast<const BinaryExpr&>(e).lhs, ts);
    case Expr::Kind::kCall:
      for (const auto& a : static_cast<const Call&>(e).args) {
        ValueType t = TypeOf(*a);
        if (t == ValueType::kVector || t == ValueType::kMatrix) return RefTimeOf(*a, ts);
      }
      return ts;
    default:
      return ts;
  }
}

// ---------------------------------------------------------------------------------------------
// Selectors

Result<EVector> Evaluator::EvalVectorSelector(const VectorSelector& vs, int64_t ts) {
  EVector out;
  LOOKOUT_RETURN_IF_ERROR(EvalVectorSelectorInto(vs, ts, [&](const Labels& m, double v, int64_t t) {
    out.push_back(ESample{m, v, t, false});
  }));
  return out;
}

template <typename Pick>
Status Evaluator::PickInstant(const VectorSelector& vs, int64_t ts, Pick&& pick) {
  auto data = Data(vs);
  if (!data.ok()) return data.status();
  int64_t off = DurationOf(vs.offset_expr.get(), vs.offset_ms);
  int64_t ref = AtTime(vs.at_ms, vs.at_modifier, ts) - off;
  int64_t lo = ref - opts_.lookback_delta_ms;  // exclusive
  int64_t n = 0;
  for (Loaded& s : **data) {
    s.hint_hi = UpperFrom(s.points, s.hint_hi, ref);
    auto it = s.points.begin() + static_cast<std::ptrdiff_t>(s.hint_hi);
    if (it == s.points.begin()) continue;
    --it;
    if (it->t <= lo || storage::IsStaleNaN(it->v)) continue;
    double v = it->v;
    if (vs.smoothed && it->t < ref) {
      auto nx = std::next(it);
      if (nx != s.points.end() && nx->t <= ref + opts_.lookback_delta_ms &&
          !storage::IsStaleNaN(nx->v)) {
        v = it->v + (nx->v - it->v) * static_cast<double>(ref - it->t) /
                        static_cast<double>(nx->t - it->t);
      }
    }
    pick(s, static_cast<size_t>(it - s.points.begin()), v);
    ++n;
  }
  return AddSamples(n);
}

Status Evaluator::EvalVectorSelectorInto(
    const VectorSelector& vs, int64_t ts,
    const std::function<void(const Labels&, double, int64_t)>& sink) {
  return PickInstant(vs, ts, [&](const Loaded& s, size_t i, double v) {
    sink(s.metric, v, s.points[i].t);
  });
}

Result<EVector> Evaluator::EvalStartTimestamps(const VectorSelector& vs, int64_t ts) {
  EVector out;
  LOOKOUT_RETURN_IF_ERROR(PickInstant(vs, ts, [&](const Loaded& s, size_t i, double) {
    double st = s.st.empty() ? 0 : static_cast<double>(s.st[i]) / 1000;
    out.push_back(ESample{s.metric, st, ts, true});
  }));
  return out;
}

Evaluator::RangeWindow Evaluator::WindowOf(const MatrixSelector& ms, int64_t ts, RangeArg* meta) const {
  const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
  RangeWindow w;
  w.end = AtTime(vs.at_ms, vs.at_modifier, ts) - DurationOf(vs.offset_expr.get(), vs.offset_ms);
  w.range = DurationOf(ms.range_expr.get(), ms.range_ms);
  if (meta != nullptr) {
    meta->range_ms = w.range;
    meta->range_end = w.end;
    meta->expr = &ms;
    meta->anchored = vs.anchored;
    meta->smoothed = vs.smoothed;
  }
  return w;
}

Result<EValue> Evaluator::EvalMatrixSelector(const MatrixSelector& ms, int64_t ts, RangeArg* out) {
  const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
  auto data = Data(vs);
  if (!data.ok()) return data.status();
  auto [ref, range] = WindowOf(ms, ts, out);
  int64_t lo = ref - range;  // exclusive
  EValue v;
  v.type = ValueType::kMatrix;
  int64_t n = 0;
  for (Loaded& s : **data) {
    s.hint_lo = UpperFrom(s.points, s.hint_lo, lo);
    s.hint_hi = UpperFrom(s.points, std::max(s.hint_hi, s.hint_lo), ref);
    auto b = s.points.begin() + static_cast<std::ptrdiff_t>(s.hint_lo);
    auto e = s.points.begin() + static_cast<std::ptrdiff_t>(s.hint_hi);
    if (b == e && !vs.smoothed) continue;
    ESeries es;
    es.metric = s.metric;
    es.points.reserve(static_cast<size_t>(e - b));
    for (auto it = b; it != e; ++it) {
      if (!storage::IsStaleNaN(it->v)) es.points.push_back(*it);
    }
    if (es.points.empty() && !vs.smoothed) continue;
    if (vs.anchored || vs.smoothed) {
      if (b != s.points.begin()) {
        auto p = std::prev(b);
        if (p->t > lo - opts_.lookback_delta_ms && !storage::IsStaleNaN(p->v)) es.before = *p;
      }
      if (vs.smoothed && e != s.points.end() && e->t <= ref + opts_.lookback_delta_ms &&
          !storage::IsStaleNaN(e->v)) {
        es.after = *e;
      }
    }
    n += static_cast<int64_t>(es.points.size());
    v.mat.push_back(std::move(es));
  }
  LOOKOUT_RETURN_IF_ERROR(AddSamples(n));
  return v;
}

Status Evaluator::ForEachRangeWindow(
    const MatrixSelector& ms, int64_t ts, RangeArg* meta,
    const std::function<void(std::span<const FPoint>, const WindowInfo&)>& fn) {
  const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
  auto data = Data(vs);
  if (!data.ok()) return data.status();
  auto [ref, range] = WindowOf(ms, ts, meta);
  int64_t lo = ref - range;  // exclusive
  int64_t n = 0;
  for (Loaded& s : **data) {
    const std::vector<FPoint>& pts = s.Live();
    s.live_lo = UpperFrom(pts, s.live_lo, lo);
    s.live_hi = UpperFrom(pts, std::max(s.live_hi, s.live_lo), ref);
    if (s.live_lo == s.live_hi) continue;
    std::span<const FPoint> w(pts.data() + s.live_lo, s.live_hi - s.live_lo);
    n += static_cast<int64_t>(w.size());
    fn(w, WindowInfo{s.metric, s.LiveStOf(s.live_lo, s.live_hi), s.no_decrease});
  }
  return AddSamples(n);
}

Status Evaluator::EvalRangeFunction(
    const Expr& node, const MatrixSelector& ms, int64_t ts, RangeArg* meta,
    const RangeFn& f,
    const std::function<bool(const Labels&)>& flag,
    const std::function<void(const Labels&, std::optional<double>, bool)>& emit) {
  // Up to 16 M cells (9 bytes each) are kept; larger queries evaluate step by step.
  constexpr size_t kMaxCells = size_t{16} << 20;
  bool on_grid = interval_ > 0 && ts >= start_ && ts <= end_ && (ts - start_) % interval_ == 0;
  auto it = step_values_.find(&node);
  if (it == step_values_.end() && on_grid) {
    const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
    auto data = Data(vs);
    if (!data.ok()) return data.status();
    size_t steps = static_cast<size_t>((end_ - start_) / interval_) + 1;
    size_t n = (*data)->size();
    if (n > 0 && steps > kMaxCells / n) on_grid = false;
    if (on_grid) {
      int64_t range = WindowOf(ms, start_, meta).range;
      std::vector<int64_t> refs(steps);
      for (size_t j = 0; j < steps; ++j) {
        refs[j] = WindowOf(ms, start_ + static_cast<int64_t>(j) * interval_, nullptr).end;
      }
      StepValues sv;
      sv.step_samples.assign(steps, 0);
      sv.state.assign(steps * n, 0);
      sv.values.assign(steps * n, 0);
      sv.flags.resize(n);
      for (size_t i = 0; i < n; ++i) {
        if ((i & 63) == 0) LOOKOUT_RETURN_IF_ERROR(CheckInterrupt());
        const Loaded& s = (**data)[i];
        const std::vector<FPoint>& pts = s.Live();
        sv.flags[i] = flag(s.metric);
        size_t lo = 0, hi = 0;
        for (size_t j = 0; j < steps; ++j) {
          lo = UpperFrom(pts, lo, refs[j] - range);
          hi = UpperFrom(pts, std::max(hi, lo), refs[j]);
          if (lo == hi) continue;
          sv.step_samples[j] += static_cast<int64_t>(hi - lo);
          meta->range_end = refs[j];
          std::optional<double> v = f(std::span<const FPoint>(pts.data() + lo, hi - lo),
                                      WindowInfo{s.metric, s.LiveStOf(lo, hi), s.no_decrease});
          sv.state[j * n + i] = v ? 2 : 1;
          if (v) sv.values[j * n + i] = *v;
        }
      }
      it = step_values_.emplace(&node, std::move(sv)).first;
    }
  }
  if (it == step_values_.end() || !on_grid) {
    return ForEachRangeWindow(ms, ts, meta, [&](std::span<const FPoint> w, const WindowInfo& wi) {
      emit(wi.metric, f(w, wi), flag(wi.metric));
    });
  }
  const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
  auto data = Data(vs);
  if (!data.ok()) return data.status();
  WindowOf(ms, ts, meta);
  const StepValues& sv = it->second;
  size_t n = (*data)->size();
  size_t j = static_cast<size_t>((ts - start_) / interval_);
  for (size_t i = 0; i < n; ++i) {
    uint8_t st = sv.state[j * n + i];
    if (st == 0) continue;
    emit((**data)[i].metric, st == 2 ? std::optional<double>(sv.values[j * n + i]) : std::nullopt,
         sv.flags[i]);
  }
  return AddSamples(sv.step_samples[j]);
}

Result<EValue> Evaluator::EvalSubquery(const SubqueryExpr& sq, int64_t ts, RangeArg* out) {
  int64_t off = DurationOf(sq.offset_expr.get(), sq.offset_ms);
  int64_t range = DurationOf(sq.range_expr.get(), sq.range_ms);
  int64_t step = DurationOf(sq.step_expr.get(), sq.step_ms);
  if (step <= 0) step = opts_.default_subquery_step_ms;
  int64_t ref = AtTime(sq.at_ms, sq.at_modifier, ts) - off;
  int64_t mint = ref - range;
  int64_t first = step * (mint / step);
  if (first <= mint) first += step;
  auto& cache = subq_cache_[&sq];
  // Drop cached steps that no later evaluation can need (outer steps move forward).
  if (!cache.empty() && cache.begin()->first < first && sq.at_modifier == parser::AtModifier::kNone &&
      !sq.at_ms) {
    cache.erase(cache.begin(), cache.lower_bound(first));
  }
  std::unordered_map<Labels, size_t, LabelsHash> index;
  EValue v;
  v.type = ValueType::kMatrix;
  int64_t n = 0;
  for (int64_t t = first; t <= ref; t += step) {
    LOOKOUT_RETURN_IF_ERROR(CheckInterrupt());
    auto cit = cache.find(t);
    if (cit == cache.end()) {
      auto r = Eval(*sq.expr, t);
      if (!r.ok()) return r.status();
      cit = cache.emplace(t, std::move(*r)).first;
    }
    const EValue& iv = cit->second;
    if (iv.type == ValueType::kScalar) {
      if (v.mat.empty()) v.mat.push_back(ESeries{});
      v.mat[0].points.push_back(FPoint{t, iv.scalar});
      ++n;
      continue;
    }
    for (const ESample& s : iv.vec) {
      auto [it, inserted] = index.try_emplace(s.metric, v.mat.size());
      if (inserted) {
        v.mat.emplace_back();
        v.mat.back().metric = s.metric;
      }
      ESeries& es = v.mat[it->second];
      es.drop_name = es.drop_name || s.drop_name;
      es.points.push_back(FPoint{t, s.v});
      ++n;
    }
  }
  LOOKOUT_RETURN_IF_ERROR(AddSamples(n));
  if (out != nullptr) {
    out->range_ms = range;
    out->range_end = ref;
    out->expr = &sq;
  }
  return v;
}

Result<RangeArg> Evaluator::EvalRange(const Expr& e, int64_t ts) {
  const Expr& u = Unparen(e);
  RangeArg ra;
  Result<EValue> r = Status::InvalidArgument("expected a range vector");
  if (u.kind == Expr::Kind::kMatrixSelector) {
    r = EvalMatrixSelector(static_cast<const MatrixSelector&>(u), ts, &ra);
  } else if (u.kind == Expr::Kind::kSubquery) {
    r = EvalSubquery(static_cast<const SubqueryExpr&>(u), ts, &ra);
  } else {
    return Status::InvalidArgument("expected a range vector argument");
  }
  if (!r.ok()) return r.status();
  ra.mat = std::move(r->mat);
  return ra;
}

// ---------------------------------------------------------------------------------------------
// Eval

Result<EValue> Evaluator::Eval(const Expr& e, int64_t ts) {
  LOOKOUT_RETURN_IF_ERROR(CheckInterrupt());
  switch (e.kind) {
    case Expr::Kind::kNumberLiteral: {
      EValue v;
      v.type = ValueType::kScalar;
      v.scalar = static_cast<const NumberLiteral&>(e).val;
      return v;
    }
    case Expr::Kind::kDuration: {
      auto secs = EvalDuration(e);
      if (!secs.ok()) return secs.status();
      EValue v;
      v.type = ValueType::kScalar;
      v.scalar = *secs;
      return v;
    }
    case Expr::Kind::kStringLiteral: {
      EValue v;
      v.type = ValueType::kString;
      v.str = static_cast<const StringLiteral&>(e).val;
      return v;
    }
    case Expr::Kind::kParen:
      return Eval(*static_cast<const ParenExpr&>(e).expr, ts);
    case Expr::Kind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      auto r = Eval(*u.expr, ts);
      if (!r.ok() || !u.negate) return r;
      if (r->type == ValueType::kScalar) {
        r->scalar = -r->scalar;
      } else {
        for (auto& s : r->vec) {
          s.v = -s.v;
          s.drop_name = true;
        }
      }
      return r;
    }
    case Expr::Kind::kVectorSelector: {
      auto r = EvalVectorSelector(static_cast<const VectorSelector&>(e), ts);
      if (!r.ok()) return r.status();
      EValue v;
      v.type = ValueType::kVector;
      v.vec = std::move(*r);
      for (auto& s : v.vec) s.t = ts;
      return v;
    }
    case Expr::Kind::kMatrixSelector:
      return EvalMatrixSelector(static_cast<const MatrixSelector&>(e), ts, nullptr);
    case Expr::Kind::kSubquery:
      return EvalSubquery(static_cast<const SubqueryExpr&>(e), ts, nullptr);
    case Expr::Kind::kAggregate:
      return EvalAggregate(*this, static_cast<const AggregateExpr&>(e), ts);
    case Expr::Kind::kCall:
      return EvalCall(*this, static_cast<const Call&>(e), ts);
    case Expr::Kind::kBinary:
      return EvalBinary(static_cast<const BinaryExpr&>(e), ts);
  }
  return Status::Internal("unknown expression kind");
}

// ---------------------------------------------------------------------------------------------
// Binary operators

namespace {

bool IsCmp(BinOp op) {
  return op == BinOp::kEql || op == BinOp::kNeq || op == BinOp::kGtr || op == BinOp::kLss ||
         op == BinOp::kGte || op == BinOp::kLte;
}
bool IsSet(BinOp op) { return op == BinOp::kLand || op == BinOp::kLor || op == BinOp::kLunless; }
bool DropsName(BinOp op) {
  switch (op) {
    case BinOp::kAdd: case BinOp::kSub: case BinOp::kMul: case BinOp::kDiv:
    case BinOp::kMod: case BinOp::kPow: case BinOp::kAtan2:
      return true;
    default:
      return false;
  }
}

// Returns the value and whether a comparison holds (always true for arithmetic).
std::pair<double, bool> ElemBinop(BinOp op, double l, double r) {
  switch (op) {
    case BinOp::kAdd: return {l + r, true};
    case BinOp::kSub: return {l - r, true};
    case BinOp::kMul: return {l * r, true};
    case BinOp::kDiv: return {l / r, true};
    case BinOp::kMod: return {std::fmod(l, r), true};
    case BinOp::kPow: return {std::pow(l, r), true};
    case BinOp::kAtan2: return {std::atan2(l, r), true};
    case BinOp::kEql: return {l, l == r};
    case BinOp::kNeq: return {l, l != r};
    case BinOp::kGtr: return {l, l > r};
    case BinOp::kLss: return {l, l < r};
    case BinOp::kGte: return {l, l >= r};
    case BinOp::kLte: return {l, l <= r};
    default: return {0, false};
  }
}

// Signature of the matching labels (on: only those; ignoring: all but those and __name__).
std::string Signature(const Labels& l, const VectorMatching& m) {
  std::string sig;
  for (const auto& x : l) {
    bool listed = std::find(m.matching_labels.begin(), m.matching_labels.end(), x.name) !=
                  m.matching_labels.end();
    if (m.on ? !listed : (listed || x.name == "__name__")) continue;
    sig += x.name;
    sig += '\xff';
    sig += x.value;
    sig += '\xff';
  }
  return sig;
}

Labels MatchLabels(const Labels& l, const VectorMatching& m) {
  std::vector<model::Label> out;
  for (const auto& x : l) {
    bool listed = std::find(m.matching_labels.begin(), m.matching_labels.end(), x.name) !=
                  m.matching_labels.end();
    if (m.on ? !listed : (listed || x.name == "__name__")) continue;
    out.push_back(x);
  }
  return Labels(std::move(out));
}

Labels ResultMetric(const Labels& lhs, const Labels& rhs, const VectorMatching& m) {
  model::LabelsBuilder b(lhs);
  if (m.card == Cardinality::kOneToOne) {
    if (m.on) {
      for (const auto& x : lhs) {
        if (std::find(m.matching_labels.begin(), m.matching_labels.end(), x.name) ==
            m.matching_labels.end()) {
          b.Del(x.name);
        }
      }
    } else {
      for (const auto& n : m.matching_labels) b.Del(n);
    }
  }
  for (const auto& n : m.include) {
    std::string_view v = rhs.Get(n);
    if (!v.empty()) {
      b.Set(n, v);
    } else {
      b.Del(n);
    }
  }
  return b.Build();
}

const std::string& CachedSignature(BinopCache& c, const Labels& l, const VectorMatching& m) {
  auto [it, inserted] = c.sigs.try_emplace(l.id());
  if (inserted) it->second = {l, Signature(l, m)};
  return it->second.second;
}

Labels CachedResultMetric(BinopCache& c, const Labels& a, const Labels& b, const VectorMatching& m) {
  auto [it, inserted] = c.results.try_emplace(std::make_pair(a.id(), b.id()));
  if (inserted) it->second = {a, b, ResultMetric(a, b, m)};
  return std::get<2>(it->second);
}

Result<EVector> VectorBinop(BinOp op, EVector lhs, EVector rhs, const VectorMatching& m,
                            bool return_bool, int64_t ts, BinopCache& cache) {
  cache.Trim();  // only here: the signatures below are views into it
  std::optional<double> fill_l = m.fill_left, fill_r = m.fill_right;
  if ((lhs.empty() && !fill_l) || (rhs.empty() && !fill_r) || (lhs.empty() && rhs.empty())) {
    return EVector{};
  }
  bool swapped = m.card == Cardinality::kOneToMany;
  if (swapped) std::swap(lhs, rhs);
  // The "one" side, by signature.
  std::unordered_map<std::string_view, size_t> right_sigs;
  for (size_t i = 0; i < rhs.size(); ++i) {
    std::string_view sig = CachedSignature(cache, rhs[i].metric, m);
    auto [it, inserted] = right_sigs.try_emplace(sig, i);
    if (!inserted) {
      const char* side = swapped ? "left" : "right";
      const Labels* a = &rhs[it->second].metric;
      const Labels* b = &rhs[i].metric;
      if (Labels::Compare(*b, *a) < 0) std::swap(a, b);
      return ExecError("found duplicate series for the match group " +
                       MatchLabels(rhs[i].metric, m).ToString() + " on the " + side +
                       " hand-side of the operation: [" + a->ToString() + ", " + b->ToString() +
                       "];many-to-many matching not allowed: matching labels must be unique on "
                       "one side");
    }
  }
  if (m.card == Cardinality::kOneToOne) {
    std::unordered_map<std::string_view, size_t> left_sigs;
    for (size_t i = 0; i < lhs.size(); ++i) {
      std::string_view sig = CachedSignature(cache, lhs[i].metric, m);
      auto [it, inserted] = left_sigs.try_emplace(sig, i);
      if (!inserted && right_sigs.count(sig) > 0) {
        const Labels* a = &lhs[it->second].metric;
        const Labels* b = &lhs[i].metric;
        if (Labels::Compare(*b, *a) < 0) std::swap(a, b);
        return ExecError("found duplicate series for the match group " +
                         MatchLabels(lhs[i].metric, m).ToString() +
                         " on the left hand-side of the operation: [" + a->ToString() + ", " +
                         b->ToString() +
                         "];many-to-many matching not allowed: matching labels must be unique on "
                         "one side");
      }
    }
  }
  std::unordered_map<std::string_view, std::unordered_set<Labels, LabelsHash>> matched;
  std::unordered_set<std::string_view> matched_one;
  EVector out;
  out.reserve(lhs.size());
  auto emit = [&](const Labels& metric_src, const Labels& one_metric, double fl, double fr,
                  bool src_drop, std::string_view sig, bool check,
                  bool fresh_src = false) -> Status {
    if (swapped) std::swap(fl, fr);
    auto [val, keep] = ElemBinop(op, fl, fr);
    if (IsCmp(op) && swapped) val = fr;  // keep the vector element of the original lhs
    if (return_bool) {
      val = keep ? 1.0 : 0.0;
    } else if (!keep) {
      return Status::Ok();
    }
    // A fill value's base labels are built at this step: nothing to reuse across steps.
    Labels metric = fresh_src ? ResultMetric(metric_src, one_metric, m)
                              : CachedResultMetric(cache, metric_src, one_metric, m);
    if (check) {
      if (m.card == Cardinality::kOneToOne) {
        if (!matched_one.insert(sig).second) {
          return ExecError(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
        }
      } else if (!matched[sig].insert(metric).second) {
        return ExecError("multiple matches for labels: grouping labels must ensure unique matches");
      }
    }
    out.push_back(ESample{std::move(metric), val, ts, src_drop || return_bool || DropsName(op)});
    return Status::Ok();
  };
  std::unordered_set<std::string_view> rhs_matched;
  for (const ESample& ls : lhs) {
    std::string_view sig = CachedSignature(cache, ls.metric, m);
    auto it = right_sigs.find(sig);
    if (it == right_sigs.end()) {
      if (fill_r) {
        LOOKOUT_RETURN_IF_ERROR(emit(ls.metric, Labels(), ls.v, *fill_r, ls.drop_name, sig, false));
      }
      continue;
    }
    rhs_matched.insert(sig);
    const ESample& rs = rhs[it->second];
    LOOKOUT_RETURN_IF_ERROR(emit(ls.metric, rs.metric, ls.v, rs.v, ls.drop_name, sig, true));
  }
  if (fill_l) {
    for (const ESample& rs : rhs) {
      std::string_view sig = CachedSignature(cache, rs.metric, m);
      if (rhs_matched.count(sig) > 0) continue;
      Labels base = MatchLabels(rs.metric, m);
      LOOKOUT_RETURN_IF_ERROR(emit(base, rs.metric, *fill_l, rs.v, false, sig, false, true));
    }
  }
  return out;
}

EVector SetBinop(BinOp op, EVector lhs, EVector rhs, const VectorMatching& m) {
  EVector out;
  if (op == BinOp::kLand) {
    if (lhs.empty() || rhs.empty()) return out;
    std::unordered_set<std::string> rs;
    for (const auto& s : rhs) rs.insert(Signature(s.metric, m));
    for (auto& s : lhs) {
      if (rs.count(Signature(s.metric, m)) > 0) out.push_back(std::move(s));
    }
  } else if (op == BinOp::kLor) {
    std::unordered_set<std::string> ls;
    for (auto& s : lhs) {
      ls.insert(Signature(s.metric, m));
      out.push_back(std::move(s));
    }
    for (auto& s : rhs) {
      if (ls.count(Signature(s.metric, m)) == 0) out.push_back(std::move(s));
    }
  } else {
    std::unordered_set<std::string> rs;
    for (const auto& s : rhs) rs.insert(Signature(s.metric, m));
    for (auto& s : lhs) {
      if (rs.count(Signature(s.metric, m)) == 0) out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace

Result<EValue> Evaluator::EvalBinary(const BinaryExpr& b, int64_t ts) {
  auto lr = Eval(*b.lhs, ts);
  if (!lr.ok()) return lr;
  auto rr = Eval(*b.rhs, ts);
  if (!rr.ok()) return rr;
  EValue& l = *lr;
  EValue& r = *rr;
  EValue out;
  if (l.type == ValueType::kScalar && r.type == ValueType::kScalar) {
    out.type = ValueType::kScalar;
    auto [v, keep] = ElemBinop(b.op, l.scalar, r.scalar);
    out.scalar = IsCmp(b.op) ? (keep ? 1.0 : 0.0) : v;
    return out;
  }
  out.type = ValueType::kVector;
  if (l.type == ValueType::kVector && r.type == ValueType::kVector) {
    VectorMatching def;
    def.card = IsSet(b.op) ? Cardinality::kManyToMany : Cardinality::kOneToOne;
    const VectorMatching& m = b.matching ? *b.matching : def;
    if (IsSet(b.op)) {
      out.vec = SetBinop(b.op, std::move(l.vec), std::move(r.vec), m);
      return out;
    }
    auto v = VectorBinop(b.op, std::move(l.vec), std::move(r.vec), m, b.return_bool, ts,
                         binop_caches_[&b]);
    if (!v.ok()) return v.status();
    out.vec = std::move(*v);
    return out;
  }
  // Vector/scalar.
  bool swap = l.type == ValueType::kScalar;
  EVector& vec = swap ? r.vec : l.vec;
  double sc = swap ? l.scalar : r.scalar;
  for (ESample& s : vec) {
    double lv = swap ? sc : s.v;
    double rv = swap ? s.v : sc;
    auto [v, keep] = ElemBinop(b.op, lv, rv);
    if (IsCmp(b.op) && swap) v = rv;
    if (b.return_bool) {
      v = keep ? 1.0 : 0.0;
      keep = true;
    }
    if (!keep) continue;
    out.vec.push_back(ESample{std::move(s.metric), v, ts,
                              s.drop_name || b.return_bool || DropsName(b.op)});
  }
  return out;
}

}  // namespace internal

// -----------------------------------------------------------------------------------------------
// Engine

namespace {

using internal::EValue;
using internal::Evaluator;

std::chrono::steady_clock::time_point Deadline(const EngineOptions& o) {
  auto now = std::chrono::steady_clock::now();
  if (o.timeout_ms <= 0) return std::chrono::steady_clock::time_point::max();
  return now + std::chrono::milliseconds(o.timeout_ms);
}

std::string TypeName(parser::ValueType t) {
  switch (t) {
    case parser::ValueType::kScalar: return "scalar";
    case parser::ValueType::kVector: return "instant vector";
    case parser::ValueType::kMatrix: return "range vector";
    case parser::ValueType::kString: return "string";
    default: return "none";
  }
}

Matrix FinishMatrix(internal::EMatrix em, bool sort) {
  Matrix m;
  m.reserve(em.size());
  for (auto& s : em) {
    Series out;
    out.metric = s.drop_name ? internal::DropMetricName(s.metric) : std::move(s.metric);
    out.points = std::move(s.points);
    m.push_back(std::move(out));
  }
  if (sort) {
    std::sort(m.begin(), m.end(),
              [](const Series& a, const Series& b) { return Labels::Compare(a.metric, b.metric) < 0; });
  }
  return m;
}

}  // namespace

common::Result<QueryResult> Engine::Instant(storage::Queryable& q, const parser::Expr& expr,
                                            int64_t t_ms, const std::atomic<bool>* cancel) {
  Evaluator ev(opts_, t_ms, t_ms, 0, cancel, Deadline(opts_));
  LOOKOUT_RETURN_IF_ERROR(ev.Prepare(q, expr));
  auto r = ev.Eval(expr, t_ms);
  if (!r.ok()) return r.status();
  QueryResult res;
  switch (r->type) {
    case parser::ValueType::kScalar:
      res.value = Scalar{t_ms, r->scalar};
      break;
    case parser::ValueType::kString:
      res.value = String{t_ms, r->str};
      break;
    case parser::ValueType::kMatrix: {
      Matrix m = FinishMatrix(std::move(r->mat), true);
      for (size_t i = 1; i < m.size(); ++i) {
        if (m[i].metric == m[i - 1].metric) {
          return internal::ExecError("vector cannot contain metrics with the same labelset");
        }
      }
      res.value = std::move(m);
      break;
    }
    default: {
      internal::EVector& ev_vec = r->vec;
      for (auto& s : ev_vec) {
        if (s.drop_name) s.metric = internal::DropMetricName(s.metric);
      }
      if (internal::ContainsSameLabelset(ev_vec)) {
        return internal::ExecError("vector cannot contain metrics with the same labelset");
      }
      Vector v;
      v.reserve(ev_vec.size());
      for (auto& s : ev_vec) v.push_back(Sample{std::move(s.metric), t_ms, s.v});
      res.value = std::move(v);
    }
  }
  res.annotations = ev.TakeAnnotations();
  return res;
}

common::Result<QueryResult> Engine::Range(storage::Queryable& q, const parser::Expr& expr,
                                          int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                          const std::atomic<bool>* cancel) {
  if (step_ms <= 0) return common::Status::InvalidArgument("zero or negative query resolution step widths are not accepted");
  if (end_ms < start_ms) return common::Status::InvalidArgument("end timestamp must not be before start time");
  parser::ValueType t = internal::TypeOf(expr);
  if (t != parser::ValueType::kScalar && t != parser::ValueType::kVector) {
    return common::Status::InvalidArgument(
        std::string("invalid expression type \"") + TypeName(t) +
        "\" for range query, must be Scalar or instant Vector");
  }
  Evaluator ev(opts_, start_ms, end_ms, step_ms, cancel, Deadline(opts_));
  LOOKOUT_RETURN_IF_ERROR(ev.Prepare(q, expr));
  internal::EMatrix series;
  // A selector or an in-place range function at the root (`x`, `rate(x[5m])`) passes a step's
  // samples one by one with the selector's labels; anything else yields a vector per step.
  const parser::Expr& root = internal::Unparen(expr);
  bool root_selector = root.kind == parser::Expr::Kind::kVectorSelector;
  bool root_call = root.kind == parser::Expr::Kind::kCall &&
                   internal::IsInPlaceCall(static_cast<const parser::Call&>(root));
  // A result series has at most one point per step; a small start saves the first regrowths
  // without betting memory on series that live for a few steps only.
  const size_t reserve = static_cast<size_t>(std::min<int64_t>((end_ms - start_ms) / step_ms + 1, 16));
  // Steps mostly yield their series in the same order: the k-th sample of a step usually shares
  // its label set (Labels::id()) with the result series of the previous step's k-th, which keeps
  // it alive, so an id is never reused; only other samples are looked up by hash.
  std::unordered_map<Labels, size_t, internal::LabelsHash> index;
  std::vector<size_t> order, next_order;
  int64_t ts = start_ms, n = 0;
  bool repeated = false;
  auto add = [&](const Labels& m, double v, bool drop_name) {
    size_t k = next_order.size(), idx;
    if (k < order.size() && m.id() != nullptr && series[order[k]].metric.id() == m.id()) {
      idx = order[k];
    } else {
      auto [it, inserted] = index.try_emplace(m, series.size());
      if (inserted) {
        series.emplace_back();
        series.back().metric = m;
        series.back().points.reserve(reserve);
      }
      idx = it->second;
    }
    next_order.push_back(idx);
    internal::ESeries& es = series[idx];
    if (!es.points.empty() && es.points.back().t == ts) repeated = true;
    es.drop_name = es.drop_name || drop_name;
    es.points.push_back(FPoint{ts, v});
    ++n;
  };
  for (; ts <= end_ms; ts += step_ms) {
    ev.ResetStepSamples();
    LOOKOUT_RETURN_IF_ERROR(ev.CheckInterrupt());
    n = 0;
    next_order.clear();
    if (root_selector) {
      LOOKOUT_RETURN_IF_ERROR(ev.EvalVectorSelectorInto(
          static_cast<const parser::VectorSelector&>(root), ts,
          [&](const Labels& m, double v, int64_t) { add(m, v, false); }));
    } else if (root_call) {
      LOOKOUT_RETURN_IF_ERROR(
          internal::EvalCallInto(ev, static_cast<const parser::Call&>(root), ts, add));
    } else {
      auto r = ev.Eval(expr, ts);
      if (!r.ok()) return r.status();
      if (r->type == parser::ValueType::kScalar) {
        if (series.empty()) series.push_back(internal::ESeries{});
        series[0].points.push_back(FPoint{ts, r->scalar});
        ev.AddResultSamples(1);
        continue;
      }
      for (auto& s : r->vec) add(s.metric, s.v, s.drop_name);
    }
    if (repeated) return internal::ExecError("vector cannot contain metrics with the same labelset");
    std::swap(order, next_order);
    ev.AddResultSamples(n);
  }
  // Drop names, then merge series that became identical (they must not overlap in time).
  Matrix m = FinishMatrix(std::move(series), true);
  Matrix merged;
  for (auto& s : m) {
    if (!merged.empty() && merged.back().metric == s.metric) {
      auto& dst = merged.back().points;
      std::vector<FPoint> all;
      all.reserve(dst.size() + s.points.size());
      std::merge(dst.begin(), dst.end(), s.points.begin(), s.points.end(), std::back_inserter(all),
                 [](const FPoint& a, const FPoint& b) { return a.t < b.t; });
      for (size_t i = 1; i < all.size(); ++i) {
        if (all[i].t == all[i - 1].t) {
          return internal::ExecError("vector cannot contain metrics with the same labelset");
        }
      }
      dst = std::move(all);
      continue;
    }
    merged.push_back(std::move(s));
  }
  QueryResult res;
  res.value = std::move(merged);
  res.annotations = ev.TakeAnnotations();
  return res;
}

}  // namespace collector::promql
