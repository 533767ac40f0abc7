// PromQL functions (Prometheus 3's promql/functions.go, floats only). Native-histogram functions
// return nothing on float input, as upstream does.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "collector/promql/engine/eval.h"
#include "common/base/utf8.h"
#include "common/re2/regex.h"

namespace collector::promql::internal {

using parser::Call;
using parser::Expr;
using parser::MatrixSelector;
using parser::VectorSelector;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Go's math.Max / math.Min (NaN wins; +0 > -0).
double GoMax(double a, double b) {
  if (std::isinf(a) && a > 0) return a;
  if (std::isinf(b) && b > 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && b == 0) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
double GoMin(double a, double b) {
  if (std::isinf(a) && a < 0) return a;
  if (std::isinf(b) && b < 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && b == 0) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

std::string GoFixed6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%f", v);
  return buf;
}

Result<double> ScalarArg(Evaluator& ev, const Expr& e, int64_t ts) {
  auto r = ev.Eval(e, ts);
  if (!r.ok()) return r.status();
  return r->scalar;
}
Result<std::string> StringArg(Evaluator& ev, const Expr& e, int64_t ts) {
  auto r = ev.Eval(e, ts);
  if (!r.ok()) return r.status();
  return r->str;
}
Result<EVector> VectorArg(Evaluator& ev, const Expr& e, int64_t ts) {
  auto r = ev.Eval(e, ts);
  if (!r.ok()) return r.status();
  return std::move(r->vec);
}

EValue VecValue(EVector v) {
  EValue out;
  out.type = ValueType::kVector;
  out.vec = std::move(v);
  return out;
}
EValue ScalarValue(double v) {
  EValue out;
  out.type = ValueType::kScalar;
  out.scalar = v;
  return out;
}

bool ValidLabelName(std::string_view n) { return !n.empty() && common::IsValidUtf8(n); }

// ---- range helpers ----------------------------------------------------------------------------

// Whether curr's start timestamp (OTel start time / created timestamp) says that the counter
// restarted after prev (upstream's isStartTimestampReset). A start timestamp of 0 is unknown,
// one at or after the sample's own time is OTel's "unknown start" or invalid, and one before
// prev's time is a cumulative series carrying on. One equal to prev's time marks a delta
// sample (a reset) when prev's own start was known and valid, and a cumulative series whose
// start is unknown otherwise.
bool IsStartTimestampReset(int64_t prev_st, int64_t prev_t, int64_t curr_st, int64_t curr_t) {
  if (curr_st == 0 || curr_st >= curr_t) return false;
  if (curr_st < prev_t) return false;
  if (curr_st > prev_t) return true;
  if (prev_st > prev_t) return false;
  return prev_st != 0 && prev_st != prev_t;
}

// Whether point i of a window is a counter reset: its value fell, or its start timestamp says so
// (`st`: the points' start timestamps, or empty).
bool IsReset(std::span<const FPoint> pts, std::span<const int64_t> st, size_t i) {
  return pts[i].v < pts[i - 1].v ||
         (!st.empty() && IsStartTimestampReset(st[i - 1], pts[i - 1].t, st[i], pts[i].t));
}

// Whether curr's start timestamp reaches back before prev without being prev's own start: the
// intervals the two samples cover overlap (upstream's checkStartTimeOverlap). Neither a delta
// series (curr_st == prev_t) nor a cumulative one (curr_st == prev_st) overlaps.
bool StartTimeOverlap(int64_t prev_st, int64_t prev_t, int64_t curr_st) {
  return curr_st != 0 && curr_st < prev_t && curr_st != prev_st;
}

// rate / increase / delta over one window. `st` holds the points' start timestamps (or is
// empty): for counters they mark resets too, and when the first point's start lies inside the
// range a zero sample is assumed there instead of extrapolating to the left, which also gives a
// value for a single point. `overlap` is set when counter start timestamps overlap.
std::optional<double> ExtrapolatedRate(std::span<const FPoint> pts, std::span<const int64_t> st,
                                       const RangeArg& ra, bool is_counter, bool is_rate,
                                       bool* overlap = nullptr, bool no_decrease = false) {
  if (pts.empty()) return std::nullopt;
  int64_t range_start = ra.range_end - ra.range_ms;
  int64_t range_end = ra.range_end;
  size_t n1 = pts.size() - 1;
  int64_t first_t = pts.front().t, last_t = pts.back().t;
  double result = pts.back().v - pts.front().v;
  if (is_counter && !(no_decrease && st.empty())) {
    for (size_t i = 1; i < pts.size(); ++i) {
      if (!st.empty() && overlap != nullptr && StartTimeOverlap(st[i - 1], pts[i - 1].t, st[i])) {
        *overlap = true;
      }
      if (IsReset(pts, st, i)) result += pts[i - 1].v;
    }
  }
  double to_start = static_cast<double>(first_t - range_start) / 1000;
  double to_end = static_cast<double>(range_end - last_t) / 1000;
  double sampled = static_cast<double>(last_t - first_t) / 1000;
  double avg_between = n1 > 0 ? sampled / static_cast<double>(n1) : 0;
  double threshold = avg_between * 1.1;
  if (is_counter && !st.empty() && st[0] != 0 && st[0] > range_start && st[0] < first_t) {
    // The counter started inside the range (the range start is exclusive): count from a zero
    // sample at its start. With a single point, threshold 0 also drops extrapolation right.
    to_start = 0;
    sampled = static_cast<double>(last_t - st[0]) / 1000;
    result += pts.front().v;
  } else if (n1 == 0) {
    return std::nullopt;
  } else {
    if (to_start >= threshold) to_start = avg_between / 2;
    if (is_counter && result > 0 && pts.front().v >= 0) {
      double to_zero = sampled * (pts.front().v / result);
      if (to_zero < to_start) to_start = to_zero;
    }
  }
  if (to_end >= threshold) to_end = avg_between / 2;
  double factor = sampled != 0 ? (sampled + to_start + to_end) / sampled : 1;
  if (is_rate) factor /= static_cast<double>(ra.range_ms) / 1000;
  return result * factor;
}

// irate / idelta over the last two points. For irate, a decrease or a start-timestamp reset
// (`st`: the points' start timestamps, or empty) makes the last value the increase.
std::optional<double> InstantValue(std::span<const FPoint> pts, std::span<const int64_t> st,
                                   bool is_rate) {
  if (pts.size() < 2) return std::nullopt;
  size_t n = pts.size();
  const FPoint& last = pts[n - 1];
  const FPoint& prev = pts[n - 2];
  double r;
  if (is_rate && IsReset(pts, st, n - 1)) {
    r = last.v;
  } else {
    r = last.v - prev.v;
  }
  if (is_rate) {
    int64_t dt = last.t - prev.t;
    if (dt == 0) return std::nullopt;
    r /= static_cast<double>(dt) / 1000;
  }
  return r;
}

std::pair<double, double> LinearRegression(std::span<const FPoint> pts, int64_t intercept_t) {
  double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
  double init_y = pts[0].v;
  bool const_y = true;
  for (size_t i = 0; i < pts.size(); ++i) {
    if (const_y && i > 0 && pts[i].v != init_y) const_y = false;
    n += 1;
    double x = static_cast<double>(pts[i].t - intercept_t) / 1e3;
    KahanSumInc(x, sx, cx);
    KahanSumInc(pts[i].v, sy, cy);
    KahanSumInc(x * pts[i].v, sxy, cxy);
    KahanSumInc(x * x, sx2, cx2);
  }
  if (const_y) {
    if (std::isinf(init_y)) return {kNaN, kNaN};
    return {0, init_y};
  }
  sx += cx;
  sy += cy;
  sxy += cxy;
  sx2 += cx2;
  double cov = sxy - sx * sy / n;
  double var = sx2 - sx * sx / n;
  double slope = cov / var;
  double intercept = sy / n - slope * sx / n;
  return {slope, intercept};
}

double AvgOverTime(std::span<const FPoint> pts) {
  double sum = pts[0].v, count = 1, mean = 0, c = 0;
  bool incremental = false;
  for (size_t i = 1; i < pts.size(); ++i) {
    double f = pts[i].v;
    count = static_cast<double>(i + 1);
    if (!incremental) {
      double ns = sum, nc = c;
      KahanSumInc(f, ns, nc);
      if (!std::isinf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    double q = (count - 1) / count;
    double m = q * mean, mc = q * c;
    KahanSumInc(f / count, m, mc);
    mean = m;
    c = mc;
  }
  if (incremental) return mean + c;
  return sum / count + c / count;
}

double VarianceOverTime(std::span<const FPoint> pts) {
  double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
  for (const auto& p : pts) {
    count++;
    double delta = p.v - (mean + cmean);
    KahanSumInc(delta / count, mean, cmean);
    KahanSumInc(delta * (p.v - (mean + cmean)), aux, caux);
  }
  return (aux + caux) / count;
}

// ---- classic histogram buckets -------------------------------------------------------------

struct Bucket {
  double upper;
  double count;
};

bool AlmostEqual(double a, double b, double eps) {
  constexpr double kMinNormal = 2.2250738585072014e-308;
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < eps * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < eps;
}

// Sorts, checks the +Inf bucket, coalesces equal bounds and forces monotonicity.
// Returns false when the highest bucket is not +Inf.
bool PrepareBuckets(std::vector<Bucket>& b, bool* forced) {
  std::sort(b.begin(), b.end(), [](const Bucket& x, const Bucket& y) { return x.upper < y.upper; });
  if (b.empty() || !(std::isinf(b.back().upper) && b.back().upper > 0)) return false;
  std::vector<Bucket> c;
  for (const Bucket& x : b) {
    if (!c.empty() && c.back().upper == x.upper) {
      c.back().count += x.count;
    } else {
      c.push_back(x);
    }
  }
  b = std::move(c);
  double prev = b[0].count;
  for (size_t i = 1; i < b.size(); ++i) {
    double curr = b[i].count;
    if (curr == prev) continue;
    if (AlmostEqual(prev, curr, 1e-12)) {
      b[i].count = prev;
      continue;
    }
    if (curr < prev) {
      b[i].count = prev;
      *forced = true;
      continue;
    }
    prev = curr;
  }
  return true;
}

double BucketQuantile(double q, std::vector<Bucket> b, bool* forced) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  if (!PrepareBuckets(b, forced)) return kNaN;
  if (b.size() < 2) return kNaN;
  double obs = b.back().count;
  if (obs == 0) return kNaN;
  double rank = q * obs;
  size_t i = 0;
  size_t n = b.size() - 1;
  // sort.Search over [0, n): first i with count >= rank.
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (b[mid].count >= rank) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  i = lo;
  if (i == n) return b[n - 1].upper;
  if (i == 0 && b[0].upper <= 0) return b[0].upper;
  double start = 0, end = b[i].upper, count = b[i].count;
  if (i > 0) {
    start = b[i - 1].upper;
    count -= b[i - 1].count;
    rank -= b[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}

double BucketFraction(double lower, double upper, std::vector<Bucket> b, bool* forced) {
  if (!PrepareBuckets(b, forced)) return kNaN;
  double total = b.back().count;
  if (total == 0 || std::isnan(lower) || std::isnan(upper)) return kNaN;
  if (lower >= upper) return 0;
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (size_t i = 0; i < b.size(); ++i) {
    double lb = i > 0 ? b[i - 1].upper : (b[0].upper > 0 ? 0.0 : -kInf);
    double ub = b[i].upper;
    double cnt = b[i].count - (i > 0 ? b[i - 1].count : 0);
    if (!lower_set && lb >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lb >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    // No interpolation inside a bucket of infinite width: it contributes nothing.
    if (!lower_set && lb < lower && ub > lower) {
      lower_rank = std::isinf(lb) ? rank + cnt : rank + cnt * (lower - lb) / (ub - lb);
      lower_set = true;
    }
    if (!upper_set && lb < upper && ub > upper) {
      upper_rank = std::isinf(lb) ? rank + cnt : rank + cnt * (upper - lb) / (ub - lb);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = b[i].count;
  }
  if (!lower_set || lower_rank > total) lower_rank = total;
  if (!upper_set || upper_rank > total) upper_rank = total;
  return (upper_rank - lower_rank) / total;
}

struct BucketGroup {
  Labels metric;  // without `le`
  std::vector<Bucket> buckets;
};

// Groups classic bucket series by their labels without `le`; warns on bad `le` labels.
std::vector<BucketGroup> GroupBuckets(Evaluator& ev, const EVector& in, const Expr& pos) {
  std::vector<BucketGroup> groups;
  std::unordered_map<std::string, size_t> index;
  for (const ESample& s : in) {
    std::string le(s.metric.Get("le"));
    double ub = 0;
    bool ok = !le.empty();
    if (ok) {
      std::string t = le;
      char* endp = nullptr;
      std::string lower;
      for (char ch : t) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      if (lower == "+inf" || lower == "inf") {
        ub = kInf;
      } else if (lower == "-inf") {
        ub = -kInf;
      } else if (lower == "nan") {
        ub = kNaN;
      } else {
        ub = std::strtod(t.c_str(), &endp);
        ok = endp != nullptr && *endp == '\0';
      }
    }
    if (!ok) {
      ev.Warn("bucket label \"le\" is missing or has a malformed value of \"" + le +
                  "\" for metric name \"" + std::string(s.metric.Get("__name__")) + "\"",
              pos);
      continue;
    }
    model::LabelsBuilder b(s.metric);
    b.Del("le");
    Labels key = b.Build();
    std::string k = key.ToString();
    auto [it, inserted] = index.try_emplace(k, groups.size());
    if (inserted) groups.push_back(BucketGroup{std::move(key), {}});
    groups[it->second].buckets.push_back(Bucket{ub, s.v});
  }
  return groups;
}

// Go's natural sort (github.com/facette/natsort semantics, close enough): digit runs compare
// numerically.
bool NatLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    bool db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      size_t za = na.find_first_not_of('0'), zb = nb.find_first_not_of('0');
      na = za == std::string::npos ? "" : na.substr(za);
      nb = zb == std::string::npos ? "" : nb.substr(zb);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

// Civil date from days since the epoch (Howard Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

double DatePart(const std::string& fn, double f) {
  if (std::isnan(f) || std::isinf(f)) return kNaN;
  int64_t secs = static_cast<int64_t>(f);
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (fn == "minute") return static_cast<double>((rem / 60) % 60);
  if (fn == "hour") return static_cast<double>(rem / 3600);
  if (fn == "day_of_month") return d;
  if (fn == "day_of_week") {
    int64_t w = (days + 4) % 7;  // 1970-01-01 was a Thursday
    if (w < 0) w += 7;
    return static_cast<double>(w);
  }
  if (fn == "day_of_year") {
    int doy = 0;
    for (unsigned i = 1; i < m; ++i) doy += kDays[i - 1] + ((i == 2 && IsLeap(y)) ? 1 : 0);
    return doy + static_cast<double>(d);
  }
  if (fn == "days_in_month") return kDays[m - 1] + ((m == 2 && IsLeap(y)) ? 1 : 0);
  if (fn == "month") return m;
  if (fn == "year") return static_cast<double>(y);
  return kNaN;
}

const std::unordered_map<std::string, double (*)(double)>& MathFuncs() {
  static const auto* m = new std::unordered_map<std::string, double (*)(double)>{
      {"abs", [](double v) { return std::fabs(v); }},
      {"ceil", [](double v) { return std::ceil(v); }},
      {"floor", [](double v) { return std::floor(v); }},
      {"exp", [](double v) { return std::exp(v); }},
      {"sqrt", [](double v) { return std::sqrt(v); }},
      {"ln", [](double v) { return std::log(v); }},
      {"log2", [](double v) { return std::log2(v); }},
      {"log10", [](double v) { return std::log10(v); }},
      {"sin", [](double v) { return std::sin(v); }},
      {"cos", [](double v) { return std::cos(v); }},
      {"tan", [](double v) { return std::tan(v); }},
      {"asin", [](double v) { return std::asin(v); }},
      {"acos", [](double v) { return std::acos(v); }},
      {"atan", [](double v) { return std::atan(v); }},
      {"sinh", [](double v) { return std::sinh(v); }},
      {"cosh", [](double v) { return std::cosh(v); }},
      {"tanh", [](double v) { return std::tanh(v); }},
      {"asinh", [](double v) { return std::asinh(v); }},
      {"acosh", [](double v) { return std::acosh(v); }},
      {"atanh", [](double v) { return std::atanh(v); }},
      {"deg", [](double v) { return v * 180 / std::numbers::pi; }},
      {"rad", [](double v) { return v * std::numbers::pi / 180; }},
      {"sgn",
       [](double v) {
         if (v < 0) return -1.0;
         if (v > 0) return 1.0;
         return v;  // 0, -0 and NaN
       }},
  };
  return *m;
}

bool IsDateFunc(const std::string& n) {
  return n == "day_of_month" || n == "day_of_week" || n == "day_of_year" ||
         n == "days_in_month" || n == "hour" || n == "minute" || n == "month" || n == "year";
}

Labels AbsentLabels(const Expr& arg) {
  const Expr& u = Unparen(arg);
  const VectorSelector* vs = nullptr;
  if (u.kind == Expr::Kind::kVectorSelector) {
    vs = static_cast<const VectorSelector*>(&u);
  } else if (u.kind == Expr::Kind::kMatrixSelector) {
    vs = static_cast<const VectorSelector*>(
        static_cast<const MatrixSelector&>(u).vector_selector.get());
  }
  if (vs == nullptr) return Labels();
  model::LabelsBuilder b;
  std::unordered_set<std::string> has;
  for (const auto& m : vs->matchers) {
    if (m.name() == "__name__") continue;
    if (m.type() == storage::Matcher::Type::kEqual && has.count(m.name()) == 0) {
      b.Set(m.name(), m.value());
      has.insert(m.name());
    } else {
      b.Del(m.name());
    }
  }
  return b.Build();
}

bool IsCounterName(std::string_view n) {
  auto ends = [&](std::string_view suf) {
    return n.size() >= suf.size() && n.substr(n.size() - suf.size()) == suf;
  };
  return ends("_total") || ends("_sum") || ends("_count") || ends("_bucket");
}

// rate/increase input that upstream flags with an info annotation: a named metric whose name
// does not look like a counter's and whose type is not known to be one.
bool MaybeNotCounter(const Labels& metric) {
  std::string_view name = metric.Get("__name__");
  return !name.empty() && !IsCounterName(name) && metric.Get("__type__") != "counter";
}

void InfoNotCounter(Evaluator& ev, const Labels& metric, const Expr& pos) {
  ev.Info("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"" +
              std::string(metric.Get("__name__")) + "\"",
          pos);
}

// Interpolates at `t` between a and b; for counters a reset between them counts from zero.
double Interpolate(const FPoint& a, const FPoint& b, int64_t t, bool counter) {
  double frac = static_cast<double>(t - a.t) / static_cast<double>(b.t - a.t);
  if (counter && b.v < a.v) return b.v * frac;
  return a.v + (b.v - a.v) * frac;
}

// The points an `anchored` / `smoothed` range selector presents to range functions: the value
// at the range start (the last sample before it, or interpolated), the samples inside, and for
// `smoothed` the value interpolated at the range end.
ESeries ExtendedPoints(const ESeries& s, const RangeArg& r, bool counter) {
  ESeries out;
  out.metric = s.metric;
  out.drop_name = s.drop_name;
  int64_t start = r.range_end - r.range_ms;
  if (r.anchored) {
    if (s.before) out.points.push_back(FPoint{start, s.before->v});
    out.points.insert(out.points.end(), s.points.begin(), s.points.end());
    return out;
  }
  double start_v, end_v;
  if (s.points.empty()) {
    // Samples only before and after the range: interpolate both ends between them.
    if (!s.before || !s.after) return out;
    start_v = Interpolate(*s.before, *s.after, start, counter);
    end_v = Interpolate(*s.before, *s.after, r.range_end, counter);
  } else {
    start_v = s.before ? Interpolate(*s.before, s.points.front(), start, counter)
                       : s.points.front().v;
    end_v = s.after ? Interpolate(s.points.back(), *s.after, r.range_end, counter)
                    : s.points.back().v;
  }
  out.points.push_back(FPoint{start, start_v});
  for (const auto& p : s.points) {
    if (p.t < r.range_end) out.points.push_back(p);
  }
  out.points.push_back(FPoint{r.range_end, end_v});
  return out;
}

Status CheckDuplicates(const EVector& v) {
  if (ContainsSameLabelset(v)) {
    return ExecError("vector cannot contain metrics with the same labelset");
  }
  return Status::Ok();
}

}  // namespace

bool IsInPlaceCall(const Call& call) {
  static const char* const kInPlace[] = {
      "rate",          "increase",         "delta",           "irate",
      "idelta",        "deriv",            "resets",          "changes",
      "avg_over_time", "sum_over_time",    "count_over_time", "min_over_time",
      "max_over_time", "last_over_time",   "first_over_time", "present_over_time",
      "stddev_over_time", "stdvar_over_time"};
  if (call.func == nullptr || call.args.size() != 1) return false;
  const Expr& a = Unparen(*call.args[0]);
  if (a.kind != Expr::Kind::kMatrixSelector) return false;
  const auto& vs = static_cast<const parser::VectorSelector&>(
      *static_cast<const parser::MatrixSelector&>(a).vector_selector);
  return !vs.anchored && !vs.smoothed &&
         std::find(std::begin(kInPlace), std::end(kInPlace), call.func->name) != std::end(kInPlace);
}

namespace {
Result<EValue> EvalCallImpl(Evaluator& ev, const Call& call, int64_t ts, const CallSink* sink);
}  // namespace

Result<EValue> EvalCall(Evaluator& ev, const Call& call, int64_t ts) {
  return EvalCallImpl(ev, call, ts, nullptr);
}

Status EvalCallInto(Evaluator& ev, const Call& call, int64_t ts, const CallSink& sink) {
  if (!IsInPlaceCall(call)) return Status::Internal("EvalCallInto: not an in-place call");
  auto r = EvalCallImpl(ev, call, ts, &sink);
  return r.ok() ? Status::Ok() : r.status();
}

namespace {

Result<EValue> EvalCallImpl(Evaluator& ev, const Call& call, int64_t ts, const CallSink* sink) {
  if (call.func == nullptr) return Status::InvalidArgument("unknown function");
  const std::string& fn = call.func->name;
  const auto& args = call.args;
  auto arg = [&](size_t i) -> const Expr& { return *args[i]; };

  // --- scalar-valued / no-arg functions
  if (fn == "time") return ScalarValue(static_cast<double>(ts) / 1000.0);
  if (fn == "pi") return ScalarValue(std::numbers::pi);
  if (fn == "step") return ScalarValue(static_cast<double>(ev.interval()) / 1000.0);
  if (fn == "range") return ScalarValue(static_cast<double>(ev.end() - ev.start()) / 1000.0);
  if (fn == "start") return ScalarValue(static_cast<double>(ev.start()) / 1000.0);
  if (fn == "end") return ScalarValue(static_cast<double>(ev.end()) / 1000.0);
  if (fn == "min_of" || fn == "max_of") {
    auto a = ScalarArg(ev, arg(0), ts);
    if (!a.ok()) return a.status();
    auto b = ScalarArg(ev, arg(1), ts);
    if (!b.ok()) return b.status();
    return ScalarValue(fn == "min_of" ? GoMin(*a, *b) : GoMax(*a, *b));
  }
  if (fn == "scalar") {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    return ScalarValue(v->size() == 1 ? (*v)[0].v : kNaN);
  }
  if (fn == "vector") {
    auto s = ScalarArg(ev, arg(0), ts);
    if (!s.ok()) return s.status();
    return VecValue({ESample{Labels(), *s, ts, false}});
  }

  // --- simple math
  const auto& mf = MathFuncs();
  if (auto it = mf.find(fn); it != mf.end()) {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    for (auto& s : *v) {
      s.v = it->second(s.v);
      s.t = ts;
      s.drop_name = true;
    }
    return VecValue(std::move(*v));
  }
  if (fn == "round") {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    double to_nearest = 1;
    if (args.size() > 1) {
      auto n = ScalarArg(ev, arg(1), ts);
      if (!n.ok()) return n.status();
      to_nearest = *n;
    }
    double inv = 1.0 / to_nearest;
    for (auto& s : *v) {
      s.v = std::floor(s.v * inv + 0.5) / inv;
      s.drop_name = true;
    }
    return VecValue(std::move(*v));
  }
  if (fn == "clamp" || fn == "clamp_min" || fn == "clamp_max") {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    double lo = -kInf, hi = kInf;
    if (fn == "clamp") {
      auto a = ScalarArg(ev, arg(1), ts);
      if (!a.ok()) return a.status();
      auto b = ScalarArg(ev, arg(2), ts);
      if (!b.ok()) return b.status();
      lo = *a;
      hi = *b;
      if (hi < lo) return VecValue({});
    } else {
      auto a = ScalarArg(ev, arg(1), ts);
      if (!a.ok()) return a.status();
      (fn == "clamp_min" ? lo : hi) = *a;
    }
    for (auto& s : *v) {
      if (fn == "clamp") {
        s.v = GoMax(lo, GoMin(hi, s.v));
      } else if (fn == "clamp_min") {
        s.v = GoMax(lo, s.v);
      } else {
        s.v = GoMin(hi, s.v);
      }
      s.drop_name = true;
    }
    return VecValue(std::move(*v));
  }
  if (IsDateFunc(fn)) {
    EVector v;
    if (args.empty()) {
      v.push_back(ESample{Labels(), static_cast<double>(ts) / 1000.0, ts, false});
    } else {
      auto r = VectorArg(ev, arg(0), ts);
      if (!r.ok()) return r.status();
      v = std::move(*r);
    }
    for (auto& s : v) {
      s.v = DatePart(fn, s.v);
      s.drop_name = true;
    }
    return VecValue(std::move(v));
  }
  if (fn == "start_timestamp") {
    // Start timestamps come with a selector's samples; an expression's samples have none, so
    // it yields nothing (as upstream).
    const Expr& u = Unparen(arg(0));
    if (u.kind != Expr::Kind::kVectorSelector) {
      auto r = VectorArg(ev, u, ts);
      if (!r.ok()) return r.status();
      return VecValue({});
    }
    auto r = ev.EvalStartTimestamps(static_cast<const VectorSelector&>(u), ts);
    if (!r.ok()) return r.status();
    return VecValue(std::move(*r));
  }
  if (fn == "timestamp") {
    const Expr& u = Unparen(arg(0));
    EVector v;
    if (u.kind == Expr::Kind::kVectorSelector) {
      auto r = ev.EvalVectorSelector(static_cast<const VectorSelector&>(u), ts);
      if (!r.ok()) return r.status();
      v = std::move(*r);
    } else {
      auto r = VectorArg(ev, u, ts);
      if (!r.ok()) return r.status();
      v = std::move(*r);
    }
    for (auto& s : v) {
      s.v = static_cast<double>(s.t) / 1000.0;
      s.t = ts;
      s.drop_name = true;
    }
    return VecValue(std::move(v));
  }

  // --- ordering
  if (fn == "sort" || fn == "sort_desc" || fn == "sort_by_label" || fn == "sort_by_label_desc") {
    if (ev.start() != ev.end()) {
      ev.Warn("sort is ineffective for range queries since results are always ordered by labels",
              call);
    }
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    if (fn == "sort") {
      std::stable_sort(v->begin(), v->end(), [](const ESample& a, const ESample& b) {
        if (std::isnan(a.v)) return false;
        if (std::isnan(b.v)) return true;
        return a.v < b.v;
      });
    } else if (fn == "sort_desc") {
      std::stable_sort(v->begin(), v->end(), [](const ESample& a, const ESample& b) {
        if (std::isnan(a.v)) return false;
        if (std::isnan(b.v)) return true;
        return a.v > b.v;
      });
    } else {
      std::vector<std::string> names;
      for (size_t i = 1; i < args.size(); ++i) {
        auto s = StringArg(ev, arg(i), ts);
        if (!s.ok()) return s.status();
        names.push_back(*s);
      }
      bool desc = fn == "sort_by_label_desc";
      std::stable_sort(v->begin(), v->end(), [&](const ESample& a, const ESample& b) {
        for (const auto& n : names) {
          std::string la(a.metric.Get(n)), lb(b.metric.Get(n));
          if (la == lb) continue;
          return desc ? NatLess(lb, la) : NatLess(la, lb);
        }
        int c = Labels::Compare(a.metric, b.metric);
        return desc ? c > 0 : c < 0;
      });
    }
    return VecValue(std::move(*v));
  }

  // --- labels
  if (fn == "label_replace") {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    std::string dst, repl, src, regex;
    for (auto [i, out] : {std::pair<size_t, std::string*>{1, &dst}, {2, &repl}, {3, &src},
                          {4, &regex}}) {
      auto s = StringArg(ev, arg(i), ts);
      if (!s.ok()) return s.status();
      *out = *s;
    }
    auto re = common::re2::Regex::CompileAnchored(regex);
    if (!re.ok()) {
      return ExecError("invalid regular expression in label_replace(): " + regex);
    }
    if (!ValidLabelName(dst)) {
      return ExecError("invalid destination label name in label_replace(): " + dst);
    }
    for (auto& s : *v) {
      std::string src_val(s.metric.Get(src));
      std::string res;
      if (re->ExpandMatch(src_val, repl, res)) {
        model::LabelsBuilder b(s.metric);
        if (res.empty()) {
          b.Del(dst);
        } else {
          b.Set(dst, res);
        }
        s.metric = b.Build();
        if (dst == "__name__") s.drop_name = false;
      }
      s.t = ts;
    }
    LOOKOUT_RETURN_IF_ERROR(CheckDuplicates(*v));
    return VecValue(std::move(*v));
  }
  if (fn == "label_join") {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    auto dst = StringArg(ev, arg(1), ts);
    if (!dst.ok()) return dst.status();
    auto sep = StringArg(ev, arg(2), ts);
    if (!sep.ok()) return sep.status();
    std::vector<std::string> srcs;
    for (size_t i = 3; i < args.size(); ++i) {
      auto s = StringArg(ev, arg(i), ts);
      if (!s.ok()) return s.status();
      if (!ValidLabelName(*s)) return ExecError("invalid source label name in label_join(): " + *s);
      srcs.push_back(*s);
    }
    if (!ValidLabelName(*dst)) {
      return ExecError("invalid destination label name in label_join(): " + *dst);
    }
    for (auto& s : *v) {
      std::string joined;
      for (size_t i = 0; i < srcs.size(); ++i) {
        if (i > 0) joined += *sep;
        joined += s.metric.Get(srcs[i]);
      }
      model::LabelsBuilder b(s.metric);
      if (joined.empty()) {
        b.Del(*dst);
      } else {
        b.Set(*dst, joined);
      }
      s.metric = b.Build();
      if (*dst == "__name__") s.drop_name = false;
      s.t = ts;
    }
    LOOKOUT_RETURN_IF_ERROR(CheckDuplicates(*v));
    return VecValue(std::move(*v));
  }
  if (fn == "absent") {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    if (!v->empty()) return VecValue({});
    return VecValue({ESample{AbsentLabels(arg(0)), 1, ts, false}});
  }
  if (fn == "info") {
    auto base = VectorArg(ev, arg(0), ts);
    if (!base.ok()) return base.status();
    std::vector<storage::Matcher> name_ms, data_ms;
    if (args.size() > 1) {
      const Expr& u = Unparen(arg(1));
      if (u.kind == Expr::Kind::kVectorSelector) {
        for (const auto& m : static_cast<const VectorSelector&>(u).matchers) {
          (m.name() == "__name__" ? name_ms : data_ms).push_back(m);
        }
      }
    }
    bool has_positive = false;
    for (const auto& m : name_ms) {
      has_positive = has_positive || m.type() == storage::Matcher::Type::kEqual ||
                     m.type() == storage::Matcher::Type::kRegex;
    }
    if (name_ms.empty()) {
      auto m = storage::Matcher::Make(storage::Matcher::Type::kEqual, "__name__", "target_info");
      if (!m.ok()) return m.status();
      name_ms.push_back(*m);
    } else if (!has_positive) {
      // Only negative name matchers: info metrics are still the *_info series.
      auto m = storage::Matcher::Make(storage::Matcher::Type::kRegex, "__name__", ".+_info");
      if (!m.ok()) return m.status();
      name_ms.push_back(*m);
    }
    std::vector<storage::Matcher> sel = name_ms;
    sel.insert(sel.end(), data_ms.begin(), data_ms.end());
    auto infos = ev.SelectAt(sel, ev.RefTimeOf(arg(0), ts));
    if (!infos.ok()) return infos.status();
    bool empty_ok = true;
    for (const auto& m : data_ms) empty_ok = empty_ok && m.Matches("");
    static const char* kIdent[] = {"instance", "job"};
    // Of info series with the same name and identifying labels, only the latest sample counts.
    {
      std::unordered_map<std::string, size_t> latest;
      EVector kept;
      for (auto& inf : *infos) {
        std::string key(inf.metric.Get("__name__"));
        for (const char* id : kIdent) key += std::string("\xff") + std::string(inf.metric.Get(id));
        auto [it, inserted] = latest.try_emplace(key, kept.size());
        if (inserted) {
          kept.push_back(std::move(inf));
        } else if (inf.t > kept[it->second].t) {
          kept[it->second] = std::move(inf);
        }
      }
      *infos = std::move(kept);
    }
    EVector out;
    for (auto& s : *base) {
      bool is_info = true;
      for (const auto& m : name_ms) is_info = is_info && m.Matches(s.metric.Get("__name__"));
      if (is_info) {
        out.push_back(std::move(s));
        continue;
      }
      model::LabelsBuilder b(s.metric);
      std::unordered_map<std::string, std::string> added;
      bool matched = false;
      for (const auto& inf : *infos) {
        bool same = true;
        for (const char* id : kIdent) {
          if (inf.metric.Has(id) && inf.metric.Get(id) != s.metric.Get(id)) same = false;
        }
        if (!same) continue;
        matched = true;
        for (const auto& l : inf.metric) {
          if (l.name == "__name__" || l.name == "instance" || l.name == "job") continue;
          if (s.metric.Has(l.name)) continue;
          if (!data_ms.empty()) {
            bool listed = false;
            for (const auto& m : data_ms) listed = listed || m.name() == l.name;
            if (!listed) continue;
          }
          auto [ait, fresh] = added.try_emplace(l.name, l.value);
          if (!fresh && ait->second != l.value) {
            return ExecError("conflicting label: " + l.name + " has values \"" + ait->second +
                             "\" and \"" + l.value + "\" in info series for " +
                             s.metric.ToString());
          }
          b.Set(l.name, l.value);
        }
      }
      if (!matched && !empty_ok) continue;
      s.metric = b.Build();
      out.push_back(std::move(s));
    }
    return VecValue(std::move(out));
  }

  // --- classic histograms
  if (fn == "histogram_quantile" || fn == "histogram_fraction" || fn == "histogram_quantiles") {
    std::vector<double> qs;
    double lower = 0, upper = 0;
    size_t vec_idx = 0;
    std::string qlabel;
    if (fn == "histogram_quantile") {
      auto q = ScalarArg(ev, arg(0), ts);
      if (!q.ok()) return q.status();
      qs.push_back(*q);
      vec_idx = 1;
    } else if (fn == "histogram_fraction") {
      auto l = ScalarArg(ev, arg(0), ts);
      if (!l.ok()) return l.status();
      auto u = ScalarArg(ev, arg(1), ts);
      if (!u.ok()) return u.status();
      lower = *l;
      upper = *u;
      vec_idx = 2;
    } else {
      auto l = StringArg(ev, arg(1), ts);
      if (!l.ok()) return l.status();
      qlabel = *l;
      for (size_t i = 2; i < args.size(); ++i) {
        auto q = ScalarArg(ev, arg(i), ts);
        if (!q.ok()) return q.status();
        qs.push_back(*q);
      }
      vec_idx = 0;
    }
    for (size_t i = 0; i < qs.size(); ++i) {
      if (std::isnan(qs[i]) || qs[i] < 0 || qs[i] > 1) {
        const Expr& at = fn == "histogram_quantile" ? arg(0) : arg(2 + i);
        ev.Warn("quantile value should be between 0 and 1, got " + FormatG(qs[i]), at);
      }
    }
    auto v = VectorArg(ev, arg(vec_idx), ts);
    if (!v.ok()) return v.status();
    const Expr& vpos = Unparen(arg(vec_idx));
    auto groups = GroupBuckets(ev, *v, vpos);
    EVector out;
    for (auto& g : groups) {
      bool forced = false;
      if (fn == "histogram_fraction") {
        out.push_back(ESample{g.metric, BucketFraction(lower, upper, g.buckets, &forced), ts, true});
      } else if (fn == "histogram_quantile") {
        out.push_back(ESample{g.metric, BucketQuantile(qs[0], g.buckets, &forced), ts, true});
      } else {
        for (double q : qs) {
          model::LabelsBuilder b(g.metric);
          std::string qs_text = FormatFloat(q);
          if (std::isfinite(q) && qs_text.find('.') == std::string::npos) qs_text += ".0";
          b.Set(qlabel, qs_text);
          out.push_back(ESample{b.Build(), BucketQuantile(q, g.buckets, &forced), ts, true});
        }
      }
      if (forced) {
        ev.Info("input to histogram_quantile needed to be fixed for monotonicity (see "
                "https://prometheus.io/docs/prometheus/latest/querying/functions/"
                "#histogram_quantile) for metric name \"" +
                    std::string(g.metric.Get("__name__")) + "\"",
                vpos);
      }
    }
    LOOKOUT_RETURN_IF_ERROR(CheckDuplicates(out));
    return VecValue(std::move(out));
  }
  if (fn == "histogram_count" || fn == "histogram_sum" || fn == "histogram_avg" ||
      fn == "histogram_stddev" || fn == "histogram_stdvar") {
    auto v = VectorArg(ev, arg(0), ts);
    if (!v.ok()) return v.status();
    return VecValue({});  // float samples are ignored
  }

  // --- range-vector functions
  size_t range_idx = args.size();
  for (size_t i = 0; i < args.size(); ++i) {
    if (TypeOf(*args[i]) == ValueType::kMatrix) {
      range_idx = i;
      break;
    }
  }
  if (range_idx == args.size()) {
    return Status::InvalidArgument("function " + fn + " is not supported");
  }
  std::vector<double> sargs;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i == range_idx) continue;
    auto s = ScalarArg(ev, arg(i), ts);
    if (!s.ok()) return s.status();
    sargs.push_back(*s);
  }
  const Expr& rpos = Unparen(arg(range_idx));
  // A plain matrix selector under a function that only reads its points: the function runs on
  // the selector's data in place (Evaluator::ForEachRangeWindow), without building the matrix.
  // The other functions validate their arguments first or need the matrix itself.
  bool in_place = IsInPlaceCall(call);
  Result<RangeArg> ra = RangeArg{};
  if (!in_place) {
    ra = ev.EvalRange(arg(range_idx), ts);
    if (!ra.ok()) return ra.status();
  }

  if (fn == "absent_over_time") {
    for (const auto& s : ra->mat) {
      if (!s.points.empty()) return VecValue({});
    }
    return VecValue({ESample{AbsentLabels(arg(range_idx)), 1, ts, false}});
  }
  if (fn == "double_exponential_smoothing") {
    double sf = sargs[0], tf = sargs[1];
    if (sf <= 0 || sf >= 1) {
      return ExecError("invalid smoothing factor. Expected: 0 < sf < 1, got: " + GoFixed6(sf));
    }
    if (tf <= 0 || tf >= 1) {
      return ExecError("invalid trend factor. Expected: 0 < tf < 1, got: " + GoFixed6(tf));
    }
  }
  if (fn == "quantile_over_time") {
    double q = sargs[0];
    if (std::isnan(q) || q < 0 || q > 1) {
      ev.Warn("quantile value should be between 0 and 1, got " + FormatG(q), arg(0));
    }
  }
  bool keep_name = fn == "last_over_time" || fn == "first_over_time";

  RangeFn f;
  RangeArg& r = *ra;
  if (fn == "rate" || fn == "increase") {
    f = [&, is_rate = fn == "rate"](const auto& p, const WindowInfo& w) {
      bool overlap = false;
      auto v = ExtrapolatedRate(p, w.st, r, true, is_rate, &overlap, w.no_decrease);
      if (overlap) {
        ev.Warn("sample has start time that overlaps with previous sample timestamp for metric \"" +
                    std::string(w.metric.Get("__name__")) + "\"",
                rpos);
      }
      return v;
    };
  } else if (fn == "delta") {
    f = [&](const auto& p, const auto&) { return ExtrapolatedRate(p, {}, r, false, false); };
  } else if (fn == "irate") {
    f = [](const auto& p, const WindowInfo& w) { return InstantValue(p, w.st, true); };
  } else if (fn == "idelta") {
    f = [](const auto& p, const auto&) { return InstantValue(p, {}, false); };
  } else if (fn == "deriv") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      if (p.size() < 2) return std::nullopt;
      return LinearRegression(p, p[0].t).first;
    };
  } else if (fn == "predict_linear") {
    double dur = sargs[0];
    f = [dur, ts](const auto& p, const auto&) -> std::optional<double> {
      if (p.size() < 2) return std::nullopt;
      auto [slope, intercept] = LinearRegression(p, ts);
      return slope * dur + intercept;
    };
  } else if (fn == "resets") {
    f = [](const auto& p, const WindowInfo& w) -> std::optional<double> {
      double n = 0;
      for (size_t i = 1; i < p.size(); ++i) {
        if (IsReset(p, w.st, i)) n++;
      }
      return n;
    };
  } else if (fn == "changes") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      double n = 0;
      for (size_t i = 1; i < p.size(); ++i) {
        double c = p[i].v, prev = p[i - 1].v;
        if (!(c == prev || (std::isnan(c) && std::isnan(prev)))) n++;
      }
      return n;
    };
  } else if (fn == "avg_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> { return AvgOverTime(p); };
  } else if (fn == "sum_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      double s = 0, c = 0;
      for (const auto& x : p) KahanSumInc(x.v, s, c);
      return s + c;
    };
  } else if (fn == "count_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      return static_cast<double>(p.size());
    };
  } else if (fn == "min_over_time" || fn == "max_over_time" || fn == "ts_of_min_over_time" ||
             fn == "ts_of_max_over_time") {
    bool is_max = fn == "max_over_time" || fn == "ts_of_max_over_time";
    bool want_ts = fn.rfind("ts_of_", 0) == 0;
    f = [is_max, want_ts](const auto& p, const auto&) -> std::optional<double> {
      double best = p[0].v;
      int64_t best_t = p[0].t;
      for (const auto& x : p) {
        bool better = is_max ? x.v > best : x.v < best;
        if (better || std::isnan(best)) {
          best = x.v;
          best_t = x.t;
        }
      }
      return want_ts ? static_cast<double>(best_t) / 1000.0 : best;
    };
  } else if (fn == "last_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> { return p.back().v; };
  } else if (fn == "first_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> { return p.front().v; };
  } else if (fn == "ts_of_last_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      return static_cast<double>(p.back().t) / 1000.0;
    };
  } else if (fn == "ts_of_first_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      return static_cast<double>(p.front().t) / 1000.0;
    };
  } else if (fn == "present_over_time") {
    f = [](const auto&, const auto&) -> std::optional<double> { return 1.0; };
  } else if (fn == "quantile_over_time") {
    double q = sargs[0];
    f = [q](const auto& p, const auto&) -> std::optional<double> {
      std::vector<double> vals;
      vals.reserve(p.size());
      for (const auto& x : p) vals.push_back(x.v);
      return Quantile(q, vals);
    };
  } else if (fn == "stddev_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      return std::sqrt(VarianceOverTime(p));
    };
  } else if (fn == "stdvar_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> { return VarianceOverTime(p); };
  } else if (fn == "mad_over_time") {
    f = [](const auto& p, const auto&) -> std::optional<double> {
      std::vector<double> vals;
      for (const auto& x : p) {
        // A NaN sample makes the median, and so the deviation, undefined (upstream: NaN).
        if (std::isnan(x.v)) return kNaN;
        vals.push_back(x.v);
      }
      double median = Quantile(0.5, vals);
      std::vector<double> dev;
      for (const auto& x : p) dev.push_back(std::fabs(x.v - median));
      return Quantile(0.5, dev);
    };
  } else if (fn == "double_exponential_smoothing") {
    double sf = sargs[0], tf = sargs[1];
    f = [sf, tf](const auto& p, const auto&) -> std::optional<double> {
      if (p.size() < 2) return std::nullopt;
      double s0 = 0, s1 = p[0].v, b = p[1].v - p[0].v;
      for (size_t i = 1; i < p.size(); ++i) {
        double x = sf * p[i].v;
        if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
      }
      return s1;
    };
  } else {
    // Native-histogram-only range functions and unsupported ones yield nothing.
    return VecValue({});
  }

  bool extended = r.anchored || r.smoothed;
  if (r.smoothed && fn != "rate" && fn != "increase" && fn != "delta") {
    return ExecError("smoothed modifier can only be used with: delta, increase, rate - not with " +
                     fn);
  }
  if (r.anchored && fn != "rate" && fn != "increase" && fn != "delta" && fn != "changes" &&
      fn != "resets") {
    return ExecError(
        "anchored modifier can only be used with: changes, delta, increase, rate, resets - not "
        "with " +
        fn);
  }
  if (extended) {
    bool counter = fn == "rate" || fn == "increase";
    if (fn == "rate" || fn == "increase" || fn == "delta") {
      f = [&r, counter, is_rate = fn == "rate"](const auto& p,
                                                 const auto&) -> std::optional<double> {
        double res = p.back().v - p.front().v;
        if (counter) {
          for (size_t i = 1; i < p.size(); ++i) {
            if (IsReset(p, {}, i)) res += p[i - 1].v;
          }
        }
        if (is_rate) res /= static_cast<double>(r.range_ms) / 1000;
        return res;
      };
    }
  }
  EVector out;
  bool counter_fn = fn == "rate" || fn == "increase";
  if (in_place) {
    // As the loop below, for what EvalMatrixSelector would have returned (drop_name false).
    LOOKOUT_RETURN_IF_ERROR(ev.EvalRangeFunction(
        call, static_cast<const parser::MatrixSelector&>(rpos), ts, &r, f,
        [&](const Labels& metric) { return counter_fn && MaybeNotCounter(metric); },
        [&](const Labels& metric, std::optional<double> v, bool not_counter) {
          if (not_counter) InfoNotCounter(ev, metric, rpos);
          if (!v) return;
          if (sink != nullptr) {
            (*sink)(metric, *v, !keep_name);
          } else {
            out.push_back(ESample{metric, *v, ts, !keep_name});
          }
        }));
    return VecValue(std::move(out));
  }
  for (ESeries& s0 : ra->mat) {
    if (s0.points.empty() && !r.smoothed) continue;
    ESeries adjusted;
    if (extended) {
      adjusted = ExtendedPoints(s0, r, fn == "rate" || fn == "increase" || fn == "resets");
    }
    const ESeries& s = extended ? adjusted : s0;
    if (s.points.empty()) continue;
    if (counter_fn && MaybeNotCounter(s.metric)) InfoNotCounter(ev, s.metric, rpos);
    auto v = f(s.points, WindowInfo{s.metric, {}});  // no start timestamps: see WindowInfo
    if (!v) continue;
    bool drop = keep_name ? s.drop_name : true;
    // The matrix is not read again: move the labels unless `s` is the adjusted copy.
    out.push_back(ESample{extended ? s.metric : std::move(s0.metric), *v, ts, drop});
  }
  return VecValue(std::move(out));
}

}  // namespace

}  // namespace collector::promql::internal
