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

struct LabelsHash {
  size_t operator()(const Labels& l) const { return l.Hash(); }
};

bool Listed(const std::vector<std::string>& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

Labels GroupLabels(const Labels& l, const std::vector<std::string>& grouping, bool without) {
  std::vector<model::Label> out;
  for (const auto& x : l) {
    bool listed = Listed(grouping, x.name);
    if (without ? (listed || x.name == "__name__") : !listed) continue;
    out.push_back(x);
  }
  return Labels(std::move(out));
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

}  // namespace

Result<EValue> EvalAggregate(Evaluator& ev, const AggregateExpr& agg, int64_t ts) {
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

  std::unordered_map<Labels, size_t, LabelsHash> index;
  std::vector<Group> groups;
  for (size_t i = 0; i < vec.size(); ++i) {
    const ESample& s = vec[i];
    Labels gl = GroupLabels(s.metric, grouping, agg.without);
    auto [it, inserted] = index.try_emplace(gl, groups.size());
    double f = s.v;
    if (inserted) {
      Group g;
      g.metric = std::move(gl);
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
    Group& g = groups[it->second];
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
