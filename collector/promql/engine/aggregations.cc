// Aggregation operators (Prometheus' rangeEvalAgg / aggregation / aggregationK), one step at a time.

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "collector/promql/engine/eval.h"
#include "common/base/utf8.h"

namespace collector::promql::internal {

using parser::AggOp;
using parser::AggregateExpr;

double Quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return std::nan("");
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  });
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

namespace {

bool Listed(const std::vector<std::string>& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

bool InGroup(const model::Label& x, const std::vector<std::string>& grouping, bool without) {
  bool listed = Listed(grouping, x.name);
  return !(without ? (listed || x.name == "__name__") : !listed);
}

Labels GroupLabels(const Labels& l, const std::vector<std::string>& grouping, bool without) {
  std::vector<model::Label> out;
  for (const auto& x : l) {
    if (InGroup(x, grouping, without)) out.push_back(x);
  }
  return Labels(std::move(out));
}

// A hash of GroupLabels(l, grouping, without), without building it.
uint64_t GroupHash(const Labels& l, const std::vector<std::string>& grouping, bool without) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  std::hash<std::string_view> hs;
  for (const auto& x : l) {
    if (!InGroup(x, grouping, without)) continue;
    h = (h ^ hs(x.name)) * 0x100000001b3ull;
    h = (h ^ hs(x.value)) * 0x100000001b3ull;
  }
  return h;
}

// GroupLabels(l, grouping, without) == group, without building the left side.
bool InSameGroup(const Labels& l, const Labels& group, const std::vector<std::string>& grouping,
                 bool without) {
  auto g = group.begin();
  for (const auto& x : l) {
    if (!InGroup(x, grouping, without)) continue;
    if (g == group.end() || g->name != x.name || g->value != x.value) return false;
    ++g;
  }
  return g == group.end();
}

struct Group {
  Labels metric;
  bool drop_name = false;
  double value = 0;
  double kahan = 0;
  double mean = 0;
  double count = 0;
  bool incremental = false;
  std::vector<double> values;    // quantile
  std::vector<size_t> members;   // topk & co (indexes into the input)
};

// Prometheus' vectorByValueHeap Less: NaN sorts first, then ascending.
bool LessTop(double a, double b) { return std::isnan(a) || a < b; }
// vectorByReverseValueHeap Less: NaN first, then descending.
bool LessBottom(double a, double b) { return std::isnan(a) || a > b; }

// sum, avg, count, min, max or group by (...) of a selector or of a range function evaluated
// in place (IsInPlaceCall), e.g. `sum by (instance) (rate(x[5m]))`: what the general path below
// computes, without building the input vector. The samples arrive in the same order, so groups
// are created, accumulated (the same arithmetic, in the same order) and output in the same
// order; a series' group is looked up once per query.
bool FusedAggregation(const AggregateExpr& agg) {
  if (agg.param) return false;
  switch (agg.op) {
    case AggOp::kSum:
    case AggOp::kAvg:
    case AggOp::kCount:
    case AggOp::kMin:
    case AggOp::kMax:
    case AggOp::kGroup:
      break;
    default:
      return false;
  }
  const parser::Expr& in = Unparen(*agg.expr);
  return in.kind == parser::Expr::Kind::kVectorSelector ||
         (in.kind == parser::Expr::Kind::kCall && IsInPlaceCall(static_cast<const parser::Call&>(in)));
}

Result<EValue> EvalFusedAggregation(Evaluator& ev, const AggregateExpr& agg, int64_t ts) {
  Evaluator::GroupCache& gc = ev.GroupCacheOf(agg);
  struct Acc {
    uint32_t group;
    bool drop_name;
    bool incremental;
    double value, kahan, mean, count;
  };
  std::vector<Acc> accs;
  std::vector<int32_t> slot(gc.labels.size(), -1);  // group -> index into accs at this step
  LOOKOUT_RETURN_IF_ERROR(ev.CheckInterrupt());
  auto add = [&](const Labels& metric, double f, bool drop_name) {
    auto [it, inserted] = gc.of.try_emplace(&metric, 0);
    if (inserted) {
      std::vector<uint32_t>& same_hash = gc.by_hash[GroupHash(metric, agg.grouping, agg.without)];
      uint32_t gi = static_cast<uint32_t>(gc.labels.size());
      for (uint32_t c : same_hash) {
        if (InSameGroup(metric, gc.labels[c], agg.grouping, agg.without)) {
          gi = c;
          break;
        }
      }
      if (gi == gc.labels.size()) {
        same_hash.push_back(gi);
        gc.labels.push_back(GroupLabels(metric, agg.grouping, agg.without));
      }
      it->second = gi;
    }
    uint32_t g = it->second;
    if (g >= slot.size()) slot.resize(g + 1, -1);
    if (slot[g] < 0) {
      slot[g] = static_cast<int32_t>(accs.size());
      accs.push_back(Acc{g, drop_name, false, agg.op == AggOp::kGroup ? 1 : f, 0, f, 1});
      return;
    }
    Acc& a = accs[static_cast<size_t>(slot[g])];
    a.drop_name = a.drop_name || drop_name;
    // As the general path's switch.
    switch (agg.op) {
      case AggOp::kSum:
        KahanSumInc(f, a.value, a.kahan);
        break;
      case AggOp::kAvg: {
        a.count++;
        if (!a.incremental) {
          double nv = a.value, nc = a.kahan;
          KahanSumInc(f, nv, nc);
          if (!std::isinf(nv)) {
            a.value = nv;
            a.kahan = nc;
            break;
          }
          a.incremental = true;
          a.mean = a.value / (a.count - 1);
          a.kahan /= a.count - 1;
        }
        if (std::isinf(a.mean)) {
          if (std::isinf(f) && (a.mean > 0) == (f > 0)) break;
          if (!std::isinf(f) && !std::isnan(f)) break;
        }
        double q = (a.count - 1) / a.count;
        double m = q * a.mean, c = q * a.kahan;
        KahanSumInc(f / a.count, m, c);
        a.mean = m;
        a.kahan = c;
        break;
      }
      case AggOp::kCount:
        a.count++;
        break;
      case AggOp::kMax:
        if (a.value < f || std::isnan(a.value)) a.value = f;
        break;
      case AggOp::kMin:
        if (a.value > f || std::isnan(a.value)) a.value = f;
        break;
      default:  // kGroup
        break;
    }
  };
  const parser::Expr& in = Unparen(*agg.expr);
  if (in.kind == parser::Expr::Kind::kVectorSelector) {
    LOOKOUT_RETURN_IF_ERROR(ev.EvalVectorSelectorInto(
        static_cast<const parser::VectorSelector&>(in), ts,
        [&](const Labels& m, double f, int64_t) { add(m, f, false); }));
  } else {
    LOOKOUT_RETURN_IF_ERROR(EvalCallInto(ev, static_cast<const parser::Call&>(in), ts, add));
  }
  EValue out;
  out.type = ValueType::kVector;
  out.vec.reserve(accs.size());
  for (const Acc& a : accs) {
    const Labels& l = gc.labels[a.group];
    double v = a.value;
    switch (agg.op) {
      case AggOp::kSum:
        v = a.value + a.kahan;
        break;
      case AggOp::kAvg:
        v = a.incremental ? a.mean + a.kahan : a.value / a.count + a.kahan / a.count;
        break;
      case AggOp::kCount:
        v = a.count;
        break;
      default:
        break;
    }
    out.vec.push_back(ESample{l, v, ts, a.drop_name && l.Has("__name__")});
  }
  return out;
}

}  // namespace

Result<EValue> EvalAggregate(Evaluator& ev, const AggregateExpr& agg, int64_t ts) {
  if (FusedAggregation(agg)) return EvalFusedAggregation(ev, agg, ts);
  double param = 0;
  std::string str_param;
  if (agg.param) {
    auto p = ev.Eval(*agg.param, ts);
    if (!p.ok()) return p.status();
    if (p->type == ValueType::kString) {
      str_param = p->str;
    } else {
      param = p->scalar;
    }
  }
  auto in = ev.Eval(*agg.expr, ts);
  if (!in.ok()) return in.status();
  EVector& vec = in->vec;
  EValue out;
  out.type = ValueType::kVector;

  std::vector<std::string> grouping = agg.grouping;
  if (agg.op == AggOp::kCountValues) {
    if (str_param.empty() || !common::IsValidUtf8(str_param)) {
      return ExecError("invalid label name \"" + str_param + "\"");
    }
    if (!agg.without) grouping.push_back(str_param);
    for (auto& s : vec) {
      model::LabelsBuilder b(s.metric);
      b.Set(str_param, FormatFloat(s.v));
      s.metric = b.Build();
    }
  }
  if (agg.op == AggOp::kQuantile && (std::isnan(param) || param < 0 || param > 1)) {
    ev.Warn("quantile value should be between 0 and 1, got " + FormatG(param), *agg.param);
  }
  int64_t k = 0;
  double ratio = 0;
  if (agg.op == AggOp::kTopK || agg.op == AggOp::kBottomK || agg.op == AggOp::kLimitK) {
    if (std::isnan(param) || param >= 9.223372036854775807e18 || param < -9.223372036854775808e18) {
      return ExecError("Scalar value " + FormatG(param) + " overflows int64");
    }
    k = static_cast<int64_t>(param);
    if (k < 1) return out;
  }
  if (agg.op == AggOp::kLimitRatio) {
    if (std::isnan(param)) return ExecError("Ratio value NaN is NaN");
    ratio = param;
    if (ratio < -1 || ratio > 1) {
      ratio = ratio < -1 ? -1.0 : 1.0;
      ev.Warn("ratio value should be between -1 and 1, got " + FormatG(param) +
                  ", capping to " + FormatG(ratio),
              *agg.param);
    }
    if (ratio == 0) return out;
  }

  // Groups by a hash of their labels; a group's Labels are built once, by its first sample.
  std::unordered_map<uint64_t, std::vector<size_t>> index;  // hash -> indexes into groups
  std::vector<Group> groups;
  // `op(...)` without by/without: one group with no labels, no hashing.
  const bool one_group = !agg.without && grouping.empty();
  for (size_t i = 0; i < vec.size(); ++i) {
    const ESample& s = vec[i];
    std::vector<size_t>* same_hash = nullptr;
    size_t gi = groups.size();
    if (one_group) {
      if (!groups.empty()) gi = 0;
    } else {
      same_hash = &index[GroupHash(s.metric, grouping, agg.without)];
      for (size_t c : *same_hash) {
        if (InSameGroup(s.metric, groups[c].metric, grouping, agg.without)) {
          gi = c;
          break;
        }
      }
    }
    bool inserted = gi == groups.size();
    double f = s.v;
    if (inserted) {
      if (same_hash != nullptr) same_hash->push_back(gi);
      Group g;
      g.metric = GroupLabels(s.metric, grouping, agg.without);
      g.drop_name = s.drop_name;
      g.value = f;
      g.mean = f;
      g.count = 1;
      switch (agg.op) {
        case AggOp::kStddev:
        case AggOp::kStdvar:
          g.value = 0;
          break;
        case AggOp::kGroup:
          g.value = 1;
          break;
        case AggOp::kQuantile:
          g.values.push_back(f);
          break;
        default:
          break;
      }
      if (agg.op == AggOp::kTopK || agg.op == AggOp::kBottomK || agg.op == AggOp::kLimitK ||
          agg.op == AggOp::kLimitRatio) {
        g.count = 0;
      } else {
        groups.push_back(std::move(g));
        continue;
      }
      groups.push_back(std::move(g));
    }
    Group& g = groups[gi];
    g.drop_name = g.drop_name || s.drop_name;
    switch (agg.op) {
      case AggOp::kSum:
        KahanSumInc(f, g.value, g.kahan);
        break;
      case AggOp::kAvg: {
        g.count++;
        if (!g.incremental) {
          double nv = g.value, nc = g.kahan;
          KahanSumInc(f, nv, nc);
          if (!std::isinf(nv)) {
            g.value = nv;
            g.kahan = nc;
            break;
          }
          g.incremental = true;
          g.mean = g.value / (g.count - 1);
          g.kahan /= g.count - 1;
        }
        if (std::isinf(g.mean)) {
          if (std::isinf(f) && (g.mean > 0) == (f > 0)) break;
          if (!std::isinf(f) && !std::isnan(f)) break;
        }
        double q = (g.count - 1) / g.count;
        double m = q * g.mean, c = q * g.kahan;
        KahanSumInc(f / g.count, m, c);
        g.mean = m;
        g.kahan = c;
        break;
      }
      case AggOp::kCount:
      case AggOp::kCountValues:
        g.count++;
        break;
      case AggOp::kGroup:
        break;
      case AggOp::kMax:
        if (g.value < f || std::isnan(g.value)) g.value = f;
        break;
      case AggOp::kMin:
        if (g.value > f || std::isnan(g.value)) g.value = f;
        break;
      case AggOp::kStddev:
      case AggOp::kStdvar: {
        g.count++;
        double delta = f - g.mean;
        g.mean += delta / g.count;
        g.value += delta * (f - g.mean);
        break;
      }
      case AggOp::kQuantile:
        g.values.push_back(f);
        break;
      case AggOp::kTopK:
      case AggOp::kBottomK: {
        bool top = agg.op == AggOp::kTopK;
        auto less = top ? LessTop : LessBottom;
        // Min-heap by `less` (the element to evict on top).
        auto heap_cmp = [&](size_t a, size_t b) { return less(vec[b].v, vec[a].v); };
        if (static_cast<int64_t>(g.members.size()) < k) {
          g.members.push_back(i);
          std::push_heap(g.members.begin(), g.members.end(), heap_cmp);
        } else {
          double top_v = vec[g.members.front()].v;
          bool replace = top ? (top_v < f) : (top_v > f);
          if (replace || (std::isnan(top_v) && !std::isnan(f))) {
            std::pop_heap(g.members.begin(), g.members.end(), heap_cmp);
            g.members.back() = i;
            std::push_heap(g.members.begin(), g.members.end(), heap_cmp);
          }
        }
        break;
      }
      case AggOp::kLimitK:
        if (static_cast<int64_t>(g.members.size()) < k) g.members.push_back(i);
        break;
      case AggOp::kLimitRatio: {
        double offset = static_cast<double>(s.metric.Hash()) /
                        static_cast<double>(std::numeric_limits<uint64_t>::max());
        if ((ratio >= 0 && offset < ratio) || (ratio < 0 && offset >= 1.0 + ratio)) {
          g.members.push_back(i);
        }
        break;
      }
    }
  }

  for (Group& g : groups) {
    switch (agg.op) {
      case AggOp::kTopK:
      case AggOp::kBottomK: {
        auto less = agg.op == AggOp::kTopK ? LessTop : LessBottom;
        // sort.Reverse of the heap order: "largest" first, NaN last.
        std::stable_sort(g.members.begin(), g.members.end(),
                         [&](size_t a, size_t b) { return less(vec[b].v, vec[a].v); });
        for (size_t i : g.members) {
          ESample s = vec[i];
          s.t = ts;
          out.vec.push_back(std::move(s));
        }
        continue;
      }
      case AggOp::kLimitK:
      case AggOp::kLimitRatio:
        for (size_t i : g.members) {
          ESample s = vec[i];
          s.t = ts;
          out.vec.push_back(std::move(s));
        }
        continue;
      default:
        break;
    }
    double v = 0;
    switch (agg.op) {
      case AggOp::kSum:
        v = g.value + g.kahan;
        break;
      case AggOp::kAvg:
        v = g.incremental ? g.mean + g.kahan : g.value / g.count + g.kahan / g.count;
        break;
      case AggOp::kCount:
      case AggOp::kCountValues:
        v = g.count;
        break;
      case AggOp::kStdvar:
        v = g.value / g.count;
        break;
      case AggOp::kStddev:
        v = std::sqrt(g.value / g.count);
        break;
      case AggOp::kQuantile:
        v = Quantile(param, g.values);
        break;
      default:
        v = g.value;
        break;
    }
    bool drop = g.drop_name && g.metric.Has("__name__");
    out.vec.push_back(ESample{std::move(g.metric), v, ts, drop});
  }
  return out;
}

}  // namespace collector::promql::internal
