// Differential PromQL test (issue 5): the same deterministic hour of samples is pushed with
// remote_write into lookout-collector and into a real Prometheus 2.42
// (--web.enable-remote-write-receiver), then every query below is asked of both through
// /api/v1/query and /api/v1/query_range and the JSON answers are compared: resultType, the set of
// series (labels exactly), timestamps exactly, values within a relative 1e-9 (absolute 1e-9 near
// zero, where Kahan vs naive summation differ in the last bits); NaN equals NaN.
//
// Alignment: samples sit at 3 s past the 15 s grid, evaluation times at 10 s past it, and every
// range, offset and subquery step is a multiple of 5 s. So no range window, lookback window or
// subquery step ever has a sample exactly on its left boundary, where Prometheus 2.x (closed) and
// 3.x (open, which lookout implements) legitimately differ.
//
// Known 2.42 vs Prometheus 3 differences are printed with the table: avoided by construction
// (kAvoided), asked in their 2.42 spelling (Query::prom_expr), or skipped (Query::skip).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "collector/storage/storage.h"
#include "common/proto/remote_write.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;
using common::proto::RwRequest;
using common::proto::RwSeries;
using nlohmann::json;

constexpr int64_t kStepMs = 15'000;
constexpr int kSamples = 240;  // one hour at 15 s
constexpr double kRelTol = 1e-9;

// Deterministic pseudo-random number in [0, 1) from three integers (splitmix64).
double Rand(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^
               (c + 1) * 0x94d049bb133111ebull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / 9007199254740992.0;
}

// Known 2.42 vs Prometheus 3 differences that the data and the evaluation times avoid by
// construction (printed with the table). Queries that differ only by name are rewritten for 2.42
// with Query::prom_expr; functions 2.42 lacks are skipped with Query::skip.
const char* kAvoided[] = {
    "range and lookback windows: left-closed in 2.x, left-open in 3.x. Samples sit 3 s past the "
    "15 s grid, evaluation times 10 s past it, durations/offsets/subquery steps are multiples of 5 "
    "s: "
    "no sample ever falls on a window's left edge",
    "rate/increase at a counter's start: 2.x limits the extrapolation to the counter's zero point "
    "before applying the 1.1-interval threshold, 3.x after it; they differ when the zero point "
    "lies "
    "0.5-1.1 sample intervals before the first sample. Counters here start at 0 or at least 25 "
    "intervals' worth of increase",
    "vector-scalar atan2: 2.42 keeps __name__ (shouldDropMetricName lacked ATAN2), 3.x drops it",
    "holt_winters is double_exponential_smoothing in 3.x",
};

// One series: sorted labels and a value (or nothing) per sample index.
struct GenSeries {
  std::map<std::string, std::string> labels;
  std::vector<std::pair<int, double>> points;  // (sample index, value)
};

// ~300 series over an hour: counters with resets, gauges with a gap and stale markers, a
// classic histogram, info-style series. `first_ms` is the timestamp of sample index 0.
std::vector<GenSeries> Generate() {
  std::vector<GenSeries> out;
  const char* jobs[] = {"api", "db", "cache"};
  const double les[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5};
  const char* le_str[] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"};
  for (int j = 0; j < 3; ++j) {
    for (int i = 0; i < 4; ++i) {
      const int tgt = j * 4 + i;
      std::map<std::string, std::string> base = {
          {"job", jobs[j]}, {"instance", "host-" + std::to_string(tgt) + ":9100"}};
      auto with = [&](const std::string& name, std::map<std::string, std::string> extra) {
        GenSeries s;
        s.labels = base;
        s.labels["__name__"] = name;
        for (auto& [k, v] : extra) s.labels[k] = v;
        return s;
      };
      // up: target 5 is down for 10 minutes.
      GenSeries up = with("up", {});
      for (int k = 0; k < kSamples; ++k)
        up.points.push_back({k, tgt == 5 && k >= 100 && k < 140 ? 0 : 1});
      out.push_back(std::move(up));
      GenSeries info = with("build_info", {{"version", "1." + std::to_string(tgt % 3) + ".0"}});
      for (int k = 0; k < kSamples; ++k) info.points.push_back({k, 1});
      out.push_back(std::move(info));
      // http_requests_total: integer increments; some reset; one ends with a stale marker.
      int mc = 0;
      for (const char* method : {"GET", "POST"}) {
        for (const char* code : {"200", "500"}) {
          GenSeries s = with("http_requests_total", {{"method", method}, {"code", code}});
          double v = 1000 + std::floor(Rand(tgt, mc, 999) * 1000);  // see kAvoided: zero point
          for (int k = 0; k < kSamples; ++k) {
            v += std::floor(Rand(tgt, mc, k) * (code[0] == '2' ? 40 : 5));
            if (tgt % 3 == 0 && mc == 1 && k == 120 + tgt) v = std::floor(Rand(tgt, k, 7) * 3);
            if (tgt == 11 && mc == 3 && k >= 230) {
              s.points.push_back({k, collector::storage::StaleNaN()});
              break;
            }
            s.points.push_back({k, v});
          }
          out.push_back(std::move(s));
          ++mc;
        }
      }
      // node_cpu_seconds_total: fractional increments, target 7 resets once.
      for (int cpu = 0; cpu < 2; ++cpu) {
        int mi = 0;
        for (const char* mode : {"idle", "user", "system"}) {
          GenSeries s =
              with("node_cpu_seconds_total", {{"cpu", std::to_string(cpu)}, {"mode", mode}});
          double v = 1000 + Rand(tgt, cpu * 3 + mi, 4242) * 5000;  // see kAvoided: zero point
          for (int k = 0; k < kSamples; ++k) {
            v += Rand(tgt * 10 + cpu, mi, k) * (mi == 0 ? 14 : 3);
            if (tgt == 7 && k == 200) v = Rand(tgt, k, cpu) * 2;
            s.points.push_back({k, v});
          }
          out.push_back(std::move(s));
          ++mi;
        }
      }
      // temperature_celsius: a gauge; target 2 has a 12-minute gap, target 3 a stale marker
      // followed by silence and a restart.
      GenSeries temp = with("temperature_celsius", {});
      for (int k = 0; k < kSamples; ++k) {
        if (tgt == 2 && k >= 80 && k < 128) continue;
        if (tgt == 3 && k > 150 && k < 170) continue;
        double v = 20 + 10 * std::sin(k / 20.0 + tgt) + Rand(tgt, k, 77);
        temp.points.push_back({k, tgt == 3 && k == 150 ? collector::storage::StaleNaN() : v});
      }
      out.push_back(std::move(temp));
      GenSeries queue = with("queue_depth", {});
      for (int k = 0; k < kSamples; ++k)
        queue.points.push_back({k, std::floor(Rand(tgt, k, 5) * 10)});
      out.push_back(std::move(queue));
      GenSeries ratio = with("ratio", {});
      for (int k = 0; k < kSamples; ++k) {
        ratio.points.push_back({k, std::sin(k / 7.0 + tgt * 0.5) * 0.999});
      }
      out.push_back(std::move(ratio));
      // A classic histogram; target 4's resets at sample 160 (all its series together).
      std::vector<GenSeries> hist;
      for (const char* le : le_str)
        hist.push_back(with("request_duration_seconds_bucket", {{"le", le}}));
      hist.push_back(with("request_duration_seconds_sum", {}));
      hist.push_back(with("request_duration_seconds_count", {}));
      std::vector<double> cum(7, 0);
      double sum = 0;
      for (int k = 0; k < kSamples; ++k) {
        if (tgt == 4 && k == 160) {
          std::fill(cum.begin(), cum.end(), 0);
          sum = 0;
        }
        int n = k == 0 ? 0 : static_cast<int>(Rand(tgt, k, 31) * 12);  // starts empty
        for (int o = 0; o < n; ++o) {
          double d = std::pow(Rand(tgt, k, 100 + o), 2) * (j + 1) * 1.5;
          sum += d;
          for (int b = 0; b < 7; ++b) {
            if (b == 6 || d <= les[b]) cum[b] += 1;
          }
        }
        for (int b = 0; b < 7; ++b) hist[b].points.push_back({k, cum[b]});
        hist[7].points.push_back({k, sum});
        hist[8].points.push_back({k, cum[6]});
      }
      for (auto& h : hist) out.push_back(std::move(h));
    }
  }
  return out;
}

struct Query {
  const char* expr;                 // asked of lookout (and of Prometheus unless prom_expr is set)
  char mode;                        // 'B' instant and range, 'I' instant only, 'R' range only
  bool ordered = false;             // instant vector order matters (sort, sort_desc)
  const char* skip = nullptr;       // not in 2.42 at all: printed as skipped with this reason
  const char* prom_expr = nullptr;  // the 2.42 spelling of the same question, where it differs
};

// $AT is replaced by a timestamp inside the data (10 s past the grid).
const Query kQueries[] = {
    // Selectors: all four matcher types, offset, @, raw ranges, subqueries.
    {"{__name__=~\".+\"}[1h]", 'I'},
    {"http_requests_total", 'B'},
    {"http_requests_total{job=\"api\"}", 'B'},
    {"http_requests_total{job!=\"api\",code=\"500\"}", 'B'},
    {"http_requests_total{instance=~\"host-1.*\",method!~\"GE.\"}", 'B'},
    {"{__name__=~\"temperature_.*|queue_depth\",job=~\"db|cache\"}", 'B'},
    {"temperature_celsius offset 5m", 'B'},
    {"temperature_celsius offset -2m", 'B'},
    {"temperature_celsius @ start()", 'R'},
    {"temperature_celsius @ end()", 'B'},
    {"temperature_celsius @ $AT", 'B'},
    {"rate(http_requests_total[5m] @ end())", 'R'},
    {"rate(http_requests_total[5m] @ start() offset 5m)", 'R'},
    {"http_requests_total[2m] offset 10m", 'I'},
    {"temperature_celsius[5m:1m]", 'I'},
    {"max_over_time(rate(http_requests_total[1m])[10m:30s])", 'B'},
    {"min_over_time(deriv(temperature_celsius[5m])[15m:1m] offset 5m)", 'B'},
    {"avg_over_time(temperature_celsius[20m:])", 'B'},
    {"sum_over_time(rate(node_cpu_seconds_total{mode=\"user\"}[2m])[30m:5m] @ $AT)", 'B'},
    // Arithmetic, comparison and set operators, with bool / on / ignoring / group_*.
    {"http_requests_total + 1", 'B'},
    {"queue_depth - 2 * temperature_celsius", 'B'},
    {"temperature_celsius / 3", 'B'},
    {"queue_depth % 3", 'B'},
    {"temperature_celsius ^ 2", 'B'},
    // 2.42 keeps __name__ on vector-scalar atan2 (shouldDropMetricName lacked ATAN2); Prometheus 3
    // drops it like every arithmetic operator: `+ 0` asks 2.42 the same question.
    {"ratio atan2 0.5", 'B', false, nullptr, "(ratio atan2 0.5) + 0"},
    {"temperature_celsius atan2 on(job, instance) ratio", 'B'},
    {"-temperature_celsius", 'B'},
    {"1 + 2 * 3 ^ 2 % 5 - 8 / 4", 'B'},
    {"5 > bool 3", 'B'},
    {"(2 ^ 3 ^ 2) == bool 512", 'B'},
    {"temperature_celsius > 25", 'B'},
    {"temperature_celsius > bool 25", 'B'},
    {"queue_depth == 3", 'B'},
    {"queue_depth != bool 3", 'B'},
    {"temperature_celsius <= 22", 'B'},
    {"22 >= bool temperature_celsius", 'B'},
    {"queue_depth < 4", 'B'},
    {"temperature_celsius + queue_depth", 'B'},
    {"temperature_celsius - on(job, instance) queue_depth", 'B'},
    {"temperature_celsius * ignoring(job) queue_depth", 'B'},
    {"http_requests_total / on(job, instance) group_left up", 'B'},
    {"up * on(job, instance) group_right http_requests_total", 'B'},
    {"http_requests_total / ignoring(code) group_left sum without(code) (http_requests_total)",
     'B'},
    {"rate(node_cpu_seconds_total[5m]) * on(job, instance) group_left(version) build_info", 'B'},
    {"build_info * on(job, instance) group_right(version) queue_depth", 'B'},
    {"http_requests_total > bool on(job, instance) group_left up", 'B'},
    {"up and temperature_celsius", 'B'},
    {"up or no_such_metric", 'B'},
    {"temperature_celsius unless on(instance) (queue_depth > 5)", 'B'},
    {"http_requests_total and on(job) (up == 0)", 'B'},
    {"queue_depth or on(job) temperature_celsius", 'B'},
    {"(temperature_celsius > 20) * 2 unless ignoring(job) queue_depth == 0", 'B'},
    // Aggregations.
    {"sum(http_requests_total)", 'B'},
    {"sum by (job) (rate(http_requests_total[5m]))", 'B'},
    {"sum without (instance, method) (rate(http_requests_total[5m]))", 'B'},
    {"sum(rate(http_requests_total[5m])) by (job, code)", 'B'},
    {"min by (job) (temperature_celsius)", 'B'},
    {"max without (instance) (temperature_celsius)", 'B'},
    {"avg by (job, mode) (rate(node_cpu_seconds_total[5m]))", 'B'},
    {"group by (job) (up)", 'B'},
    {"count by (code) (http_requests_total)", 'B'},
    {"count_values(\"depth\", queue_depth)", 'B'},
    {"count_values without (instance) (\"v\", queue_depth)", 'B'},
    {"stddev by (job) (temperature_celsius)", 'B'},
    {"stdvar without (instance) (rate(node_cpu_seconds_total[5m]))", 'B'},
    {"topk(3, rate(node_cpu_seconds_total[5m]))", 'B'},
    {"bottomk by (job) (2, temperature_celsius)", 'B'},
    {"topk without (cpu) (1, node_cpu_seconds_total)", 'B'},
    {"quantile(0.9, temperature_celsius)", 'B'},
    {"quantile by (job) (0.5, rate(http_requests_total[5m]))", 'B'},
    {"quantile(1.5, temperature_celsius)", 'B'},
    {"count(count by (instance) (up))", 'B'},
    {"max(topk(2, temperature_celsius))", 'B'},
    {"limitk(2, temperature_celsius)", 'B', false,
     "limitk is not in Prometheus 2.42 (added in 3.x)"},
    {"limit_ratio(0.5, temperature_celsius)", 'B', false,
     "limit_ratio is not in Prometheus 2.42 (added in 3.x)"},
    // Range-vector functions.
    {"rate(http_requests_total[5m])", 'B'},
    {"irate(http_requests_total[5m])", 'B'},
    {"increase(http_requests_total[10m])", 'B'},
    {"delta(temperature_celsius[10m])", 'B'},
    {"idelta(temperature_celsius[5m])", 'B'},
    {"deriv(temperature_celsius[10m])", 'B'},
    {"predict_linear(temperature_celsius[10m], 600)", 'B'},
    {"predict_linear(node_cpu_seconds_total[15m], 3600)", 'B'},
    {"resets(http_requests_total[30m])", 'B'},
    {"resets(request_duration_seconds_bucket[1h])", 'B'},
    {"changes(queue_depth[10m])", 'B'},
    {"changes(up[1h])", 'B'},
    {"avg_over_time(temperature_celsius[10m])", 'B'},
    {"min_over_time(temperature_celsius[10m])", 'B'},
    {"max_over_time(temperature_celsius[10m])", 'B'},
    {"sum_over_time(queue_depth[5m])", 'B'},
    {"count_over_time(temperature_celsius[10m])", 'B'},
    {"quantile_over_time(0.75, temperature_celsius[10m])", 'B'},
    {"stddev_over_time(temperature_celsius[10m])", 'B'},
    {"stdvar_over_time(ratio[10m])", 'B'},
    {"last_over_time(temperature_celsius[10m])", 'B'},
    {"present_over_time(temperature_celsius[10m])", 'B'},
    {"absent_over_time(temperature_celsius{instance=\"host-2:9100\"}[5m])", 'B'},
    {"absent_over_time(no_such_metric{job=\"x\"}[5m])", 'B'},
    // Renamed in Prometheus 3 (holt_winters in 2.42).
    {"double_exponential_smoothing(temperature_celsius[10m], 0.5, 0.5)", 'B', false, nullptr,
     "holt_winters(temperature_celsius[10m], 0.5, 0.5)"},
    // Classic histograms.
    {"histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))", 'B'},
    {"histogram_quantile(0.5, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))", 'B'},
    {"histogram_quantile(0.99, sum by (le) (increase(request_duration_seconds_bucket[10m])))", 'B'},
    {"histogram_quantile(0, sum by (le) (rate(request_duration_seconds_bucket[5m])))", 'B'},
    {"histogram_quantile(1.5, sum by (le) (rate(request_duration_seconds_bucket[5m])))", 'B'},
    {"rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])", 'B'},
    // Labels.
    {"label_replace(up, \"host\", \"$1\", \"instance\", \"(.*):.*\")", 'B'},
    {"label_replace(up, \"foo\", \"bar\", \"nolabel\", \"\")", 'B'},
    {"label_replace(up, \"instance\", \"\", \"instance\", \".*\")", 'B'},
    {"label_replace(rate(http_requests_total[5m]), \"__name__\", \"renamed\", \"\", \"\")", 'B'},
    {"label_join(up, \"combined\", \"/\", \"job\", \"instance\")", 'B'},
    {"label_join(up, \"job\", \"-\", \"instance\", \"job\")", 'B'},
    // Clamping, absence, sorting.
    {"clamp(temperature_celsius, 20, 25)", 'B'},
    {"clamp_min(ratio, 0)", 'B'},
    {"clamp_max(ratio, 0.2)", 'B'},
    {"clamp(temperature_celsius, 25, 20)", 'B'},
    {"absent(no_such_metric)", 'B'},
    {"absent(no_such_metric{job=\"x\",instance=~\"y\"})", 'B'},
    {"absent(up)", 'B'},
    {"sort(rate(node_cpu_seconds_total[5m]))", 'B', true},
    {"sort_desc(temperature_celsius)", 'B', true},
    // Time and date.
    {"time()", 'B'},
    {"timestamp(temperature_celsius)", 'B'},
    {"time() - timestamp(up)", 'B'},
    {"hour()", 'B'},
    {"minute(timestamp(up))", 'B'},
    {"month()", 'B'},
    {"year(vector(1700000000))", 'B'},
    {"day_of_week()", 'B'},
    {"day_of_month(vector(1709251200))", 'B'},
    {"day_of_year()", 'B'},
    {"days_in_month(vector(1706745600))", 'B'},
    // Math and trigonometry.
    {"sin(ratio) + cos(ratio) + tan(ratio)", 'B'},
    {"asin(ratio)", 'B'},
    {"acos(ratio)", 'B'},
    {"atan(temperature_celsius)", 'B'},
    {"sinh(ratio) - cosh(ratio) * tanh(ratio)", 'B'},
    {"asinh(temperature_celsius)", 'B'},
    {"acosh(temperature_celsius)", 'B'},
    {"atanh(ratio)", 'B'},
    {"deg(ratio)", 'B'},
    {"rad(temperature_celsius)", 'B'},
    {"pi()", 'B'},
    {"abs(ratio)", 'B'},
    {"ceil(temperature_celsius)", 'B'},
    {"floor(temperature_celsius)", 'B'},
    {"round(temperature_celsius)", 'B'},
    {"round(temperature_celsius, 0.5)", 'B'},
    {"exp(ratio)", 'B'},
    {"ln(temperature_celsius)", 'B'},
    {"log2(queue_depth)", 'B'},
    {"log10(temperature_celsius)", 'B'},
    {"sqrt(queue_depth)", 'B'},
    {"sgn(ratio)", 'B'},
    {"scalar(sum(up))", 'B'},
    {"scalar(up)", 'B'},
    {"vector(3)", 'B'},
    {"42", 'B'},
    {"\"hello\"", 'I'},
    // Combinations.
    {"sum by (job) (rate(http_requests_total{code=\"500\"}[5m])) / sum by (job) "
     "(rate(http_requests_total[5m]))",
     'B'},
    {"rate(http_requests_total[5m])[10m:1m] offset 3m", 'I'},
    {"deriv(temperature_celsius[5m] @ $AT)", 'B'},
    {"(1 - ratio) / (1 + ratio)", 'B'},
    {"sum(http_requests_total) by (job) > 90000", 'B'},
    {"sum by (__name__) (rate(http_requests_total[5m]))", 'B'},
};

struct Server {
  int port;
  std::string name;
};

// Values compare within kRelTol (absolute near zero); NaN equals NaN; infinities exactly.
bool SameValue(const json& a, const json& b) {
  if (!a.is_string() || !b.is_string()) return a == b;
  double x = std::strtod(a.get<std::string>().c_str(), nullptr);
  double y = std::strtod(b.get<std::string>().c_str(), nullptr);
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (std::isinf(x) || std::isinf(y)) return x == y;
  return std::fabs(x - y) <= kRelTol * std::max({1.0, std::fabs(x), std::fabs(y)});
}

bool SamePoint(const json& a, const json& b) {
  return a.is_array() && b.is_array() && a.size() == 2 && b.size() == 2 &&
         std::llround(a[0].get<double>() * 1000) == std::llround(b[0].get<double>() * 1000) &&
         SameValue(a[1], b[1]);
}

// Compares two successful `data` objects; returns "" when equal, else what differs.
std::string Diff(const json& p, const json& l, bool ordered) {
  if (p["resultType"] != l["resultType"]) {
    return "resultType " + p["resultType"].dump() + " vs " + l["resultType"].dump();
  }
  const std::string type = p["resultType"];
  const json& pr = p["result"];
  const json& lr = l["result"];
  if (type == "scalar" || type == "string") {
    return SamePoint(pr, lr) ? "" : "value " + pr.dump() + " vs " + lr.dump();
  }
  if (pr.size() != lr.size()) {
    return std::to_string(pr.size()) + " series vs " + std::to_string(lr.size());
  }
  std::map<std::string, const json*> lmap;
  for (const auto& s : lr) lmap[s["metric"].dump()] = &s;
  for (size_t i = 0; i < pr.size(); ++i) {
    const json& ps = pr[i];
    std::string key = ps["metric"].dump();
    if (ordered && lr[i]["metric"].dump() != key) {
      return "order differs at " + std::to_string(i) + ": " + key + " vs " + lr[i]["metric"].dump();
    }
    auto it = lmap.find(key);
    if (it == lmap.end()) return "series " + key + " missing in lookout";
    const json& ls = *it->second;
    if (type == "vector") {
      if (!SamePoint(ps["value"], ls["value"])) {
        return key + ": " + ps["value"].dump() + " vs " + ls["value"].dump();
      }
      continue;
    }
    const json& pv = ps["values"];
    const json& lv = ls["values"];
    if (pv.size() != lv.size()) {
      return key + ": " + std::to_string(pv.size()) + " points vs " + std::to_string(lv.size());
    }
    for (size_t k = 0; k < pv.size(); ++k) {
      if (!SamePoint(pv[k], lv[k])) return key + ": " + pv[k].dump() + " vs " + lv[k].dump();
    }
  }
  return "";
}

std::string Shorten(std::string s, size_t n = 300) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

class PromqlDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/prometheus")) {
      if (InCI()) FAIL() << "/usr/bin/prometheus missing (install-deps installs it; CI=true)";
      GTEST_SKIP()
          << "/usr/bin/prometheus not installed: the differential test needs Prometheus 2.42";
    }
    dir_ = fs::temp_directory_path() / ("lookout-promql-diff-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    lport_ = FreePort();
    pport_ = FreePort();
    lookout_ = Child({BuildDir() + "/collector/lookout-collector",
                      "--web.listen-address=127.0.0.1:" + std::to_string(lport_),
                      "--storage.tsdb.path=" + dir_ + "/lookout"},
                     dir_ + "/collector.log");
    std::ofstream(dir_ + "/prometheus.yml")
        << "global:\n  evaluation_interval: 1m\nscrape_configs: []\n";
    prom_ = Child({"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                   "--web.listen-address=127.0.0.1:" + std::to_string(pport_),
                   "--storage.tsdb.path=" + dir_ + "/prom", "--web.enable-remote-write-receiver"},
                  dir_ + "/prometheus.log");
    ASSERT_TRUE(WaitHttpOk(lport_, "/-/ready", std::chrono::seconds(20)))
        << "lookout-collector not ready";
    ASSERT_TRUE(WaitHttpOk(pport_, "/-/ready", std::chrono::seconds(60))) << "prometheus not ready";
  }
  void TearDown() override {
    prom_.Stop();
    lookout_.Stop();
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }
  // GET `path` from a server; the parsed body (discarded when not JSON).
  json Ask(int port, const std::string& path, int& status) {
    std::string body;
    status = HttpGet(port, path, body);
    return json::parse(body, nullptr, false);
  }
  std::string dir_;
  int lport_ = 0, pport_ = 0;
  Child lookout_, prom_;
};

TEST_F(PromqlDiff, AnswersAsPrometheus242) {
  // Data: 240 samples per series, 3 s past the 15 s grid, the last one ~30 s ago.
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  const int64_t first_ms = (now / kStepMs) * kStepMs - kSamples * kStepMs - kStepMs + 3000;
  const int64_t first_s = first_ms / 1000;  // ≡ 3 (mod 15)
  std::vector<GenSeries> data = Generate();
  size_t nsamples = 0;
  // Pushed in time slices (all series for 5 minutes, oldest first): each series stays in order
  // and Prometheus' head never sees a sample more than its min valid time behind.
  for (int from = 0; from < kSamples; from += 20) {
    RwRequest r;
    for (const auto& g : data) {
      RwSeries s;
      for (const auto& [k, v] : g.labels) s.labels.push_back({k, v});
      for (const auto& [k, v] : g.points) {
        if (k >= from && k < from + 20) s.samples.push_back({v, first_ms + k * kStepMs});
      }
      if (s.samples.empty()) continue;
      nsamples += s.samples.size();
      r.series.push_back(std::move(s));
    }
    std::string body = common::proto::EncodeWriteRequest(r), resp;
    ASSERT_EQ(PostRemoteWrite(lport_, body, resp), 204)
        << "lookout: " << resp;
    int st = PostRemoteWrite(pport_, body, resp);
    ASSERT_TRUE(st == 204 || st == 200) << "prometheus: " << st << " " << resp;
  }
  std::printf("pushed %zu series, %zu samples (first sample at %lld)\n", data.size(), nsamples,
              static_cast<long long>(first_ms));

  // Evaluation times ≡ 10 (mod 15 s): one in the middle (gap over, stale target silent), one
  // after the last sample; one range covers the last 40 minutes at 1 m, the other the whole hour
  // at 15 s (series starts, the gap, resets, the stale marker).
  const int64_t t_mid = first_s + 150 * 15 + 7, t_end = first_s + (kSamples - 1) * 15 + 7;
  const int64_t r_start = first_s + 80 * 15 + 7, r_end = t_end;
  const std::string at = std::to_string(first_s + 200 * 15 + 7);

  struct Row {
    std::string query, how, series, verdict, detail;
  };
  std::vector<Row> rows;
  int ok = 0, mismatch = 0, skipped = 0, empty = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (const Query& q : kQueries) {
    auto subst = [&](std::string e) {
      for (size_t p; (p = e.find("$AT")) != std::string::npos;) e.replace(p, 3, at);
      return e;
    };
    std::string lexpr = subst(q.expr);
    std::string pexpr = subst(q.prom_expr != nullptr ? q.prom_expr : q.expr);
    std::vector<std::pair<std::string, std::string>> asks;  // (how, query string)
    if (q.mode != 'R') {
      for (int64_t t : {t_mid, t_end})
        asks.push_back(
            {"instant@" + std::to_string(t - first_s), "/api/v1/query?time=" + std::to_string(t)});
    }
    if (q.mode != 'I') {
      asks.push_back({"range 1m", "/api/v1/query_range?start=" + std::to_string(r_start) +
                                      "&end=" + std::to_string(r_end) + "&step=60"});
      asks.push_back({"range 15s", "/api/v1/query_range?start=" + std::to_string(first_s + 7) +
                                       "&end=" + std::to_string(r_end) + "&step=15"});
    }
    for (const auto& [how, params] : asks) {
      Row row{lexpr, how, "", "", ""};
      if (q.skip != nullptr) {
        row.verdict = "skipped";
        row.detail = q.skip;
        ++skipped;
        rows.push_back(row);
        continue;
      }
      int ps = 0, ls = 0;
      json pj = Ask(pport_, params + "&query=" + UrlEncode(pexpr), ps);
      json lj = Ask(lport_, params + "&query=" + UrlEncode(lexpr), ls);
      std::string diff;
      if (pj.is_discarded() || lj.is_discarded()) {
        diff = "non-JSON answer (prometheus " + std::to_string(ps) + ", lookout " +
               std::to_string(ls) + ")";
      } else if (pj["status"] != "success" || lj["status"] != "success") {
        row.series = "error";
        if (pj["status"] != lj["status"] || ps != ls) {
          diff = "prometheus " + std::to_string(ps) + " " + Shorten(pj.dump()) + " / lookout " +
                 std::to_string(ls) + " " + Shorten(lj.dump());
        }
      } else {
        diff = Diff(pj["data"], lj["data"], q.ordered && how.rfind("range", 0) != 0);
        const json& res = pj["data"]["result"];
        row.series = pj["data"]["resultType"] == "scalar" || pj["data"]["resultType"] == "string"
                         ? "1"
                         : std::to_string(res.size());
        if (res.empty() && diff.empty()) ++empty;
      }
      if (q.prom_expr != nullptr) row.detail = std::string("2.42: ") + pexpr;
      if (diff.empty()) {
        row.verdict = "ok";
        ++ok;
      } else {
        row.verdict = "MISMATCH";
        row.detail = Shorten(diff, 600) + (row.detail.empty() ? "" : " (" + row.detail + ")");
        ++mismatch;
        ADD_FAILURE() << "mismatch: " << pexpr << " [" << how << "]: " << row.detail;
      }
      rows.push_back(row);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n%-90s %-13s %6s %s\n", "query", "evaluation", "series", "result");
  for (const auto& r : rows) {
    std::printf("%-90s %-13s %6s %s%s%s\n", Shorten(r.query, 90).c_str(), r.how.c_str(),
                r.series.c_str(), r.verdict.c_str(), r.detail.empty() ? "" : ": ",
                r.detail.c_str());
  }
  std::printf(
      "\n%zu expressions, %zu evaluations in %.1f s: %d ok (%d of them empty on both), %d "
      "mismatch, "
      "%d skipped\n",
      std::size(kQueries), rows.size(), secs, ok, empty, mismatch, skipped);
  std::printf("known 2.42 vs Prometheus 3 differences kept out of the comparison:\n");
  for (const char* a : kAvoided) std::printf("  - %s\n", a);
  EXPECT_GE(std::size(kQueries), 80u);
  EXPECT_EQ(mismatch, 0);
}

}  // namespace
}  // namespace tests
