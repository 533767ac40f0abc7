// Malformed, huge and adversarial PromQL sent to a running lookout-collector (issue 5): every one
// must be answered within the query timeout with 400, 422 or 503 and Prometheus' error envelope
// {"status":"error","errorType":...,"error":...}, never another 5xx, never a crash; afterwards
// /-/healthy and a normal query still answer.
//
// A few entries are legal PromQL that is only adversarial (regex bombs, 10,000 balanced
// parentheses, a 5,000-deep function chain): Prometheus answers them, so they may succeed with
// 200, but still within the time bound and without hurting the server. They are marked
// kMaySucceed and counted apart.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/proto/remote_write.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;
using common::proto::RwRequest;
using common::proto::RwSeries;
using nlohmann::json;

const char* kForm = "Content-Type: application/x-www-form-urlencoded\r\n";
constexpr int kQueryTimeoutS = 5;
// The query timeout plus slack for a loaded 2-core machine (the HTTP client gives up at 10 s).
constexpr double kAnswerWithinS = kQueryTimeoutS + 4.0;

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

enum Flags { kMustFail = 0, kMaySucceed = 1 };

struct BadQuery {
  std::string cls;
  std::string endpoint;  // "query" or "query_range"
  std::string form;      // the whole form body; `query` is URL-encoded here
  std::string shown;     // what is printed
  int flags = kMustFail;
};

// Range parameters inside the pushed data (seconds).
struct Window {
  int64_t start, end;
};

std::vector<BadQuery> Corpus(const Window& w) {
  std::vector<BadQuery> c;
  const std::string inst = "&time=" + std::to_string(w.end);
  const std::string range =
      "&start=" + std::to_string(w.start) + "&end=" + std::to_string(w.end) + "&step=15";
  auto add = [&](const std::string& cls, const std::string& q, int flags = kMustFail,
                 const char* what = nullptr) {
    std::string shown =
        what != nullptr ? std::string(what) + " (" + std::to_string(q.size()) + " chars)"
        : q.size() > 80 ? q.substr(0, 60) + "... (" + std::to_string(q.size()) + " chars)"
                        : q;
    c.push_back({cls, "query", "query=" + UrlEncode(q) + inst, shown, flags});
  };
  auto add_range = [&](const std::string& cls, const std::string& q, const std::string& params) {
    c.push_back(
        {cls, "query_range", "query=" + UrlEncode(q) + params, q + " [" + params + "]", kMustFail});
  };

  // Syntax errors of many kinds.
  for (const char* q : {"",
                        " ",
                        "# only a comment",
                        "up{",
                        "up}",
                        "up{job=\"a\"",
                        "up{job=}",
                        "up{job}",
                        "up{=\"a\"}",
                        "up{job=\"a\",,}",
                        "up{job==\"a\"}",
                        "up{job=~}",
                        "up{job=\"a\" job=\"b\"}",
                        "up)",
                        "(up",
                        "((up)",
                        "up[5m",
                        "up[]",
                        "up[5m]]",
                        "sum(",
                        "sum by (job",
                        "sum by job (up)",
                        "sum(up) by (job) without (instance)",
                        "sum without (job) by (instance) (up)",
                        "1 +",
                        "+",
                        "* up",
                        "up +* up",
                        "up == == up",
                        "up and",
                        "or up",
                        "up offset",
                        "up offset -",
                        "up @",
                        "up @ foo()",
                        "up @ \"x\"",
                        "up @ 1 @ 2",
                        "up offset 1m offset 2m",
                        "rate(up[5m] offset)",
                        "$",
                        "up{job=\"a\"}{job=\"b\"}",
                        "up ~ 1",
                        "up !~ \"a\"",
                        "1e",
                        "0x",
                        "1..2",
                        "..",
                        "[5m]",
                        "up[5m:1m:1m]",
                        "up[:1m]",
                        "up[5m:",
                        "rate(up[5m]))",
                        "topk(up)",
                        "topk(, up)",
                        "sum(up,)",
                        "foo bar",
                        "up unless",
                        "1 2",
                        "\"a\" \"b\"",
                        "up{job=\"a\"} offset 5m [5m]",
                        "sum by (job) ()",
                        "up[5m] @ end() offset",
                        "{",
                        "}",
                        "()",
                        "up,",
                        "up ;",
                        "avg(up) by"}) {
    add("syntax", q);
  }
  // Lexer: strings, escapes, bytes.
  for (const char* q :
       {"up{job=\"unterminated}", "up{job='x\"}", "\"\\q\"", "\"\\xZZ\"", "\"\\u12\"", "`raw",
        "up{job=\"\xff\xfe\"}", "\xc3\x28", "up # comment {\n{", "\"\\", "\xc3\xa9t\xc3\xa9",
        "up \x01", "up{job=\"a\\\"}"}) {
    add("lexer", q);
  }
  add("lexer", std::string("up{job=\"a\"}\0", 12));
  // Durations.
  for (const char* q : {"up[5x]", "up[-5m]", "up[5m-]", "up[1m1y]", "up[1.5m]", "up[5mm]",
                        "up offset 5x", "up[99999999999999999999y]", "up offset 9999999999999999y",
                        "up[1h:-1m]", "up[1h:1m1y]", "up[5m] offset 1dd", "rate(up[ 5 m ])"}) {
    add("duration", q);
  }
  // Wrong argument types, unknown functions, wrong arity.
  for (const char* q : {"rate(up)",
                        "rate(1)",
                        "sum(up[5m])",
                        "abs(\"x\")",
                        "abs(up[5m])",
                        "label_replace(up, 1, \"a\", \"b\", \"c\")",
                        "histogram_quantile(\"a\", up)",
                        "topk(\"a\", up)",
                        "count_values(1, up)",
                        "quantile(\"x\", up)",
                        "up[5m] + 1",
                        "\"a\" + 1",
                        "-\"a\"",
                        "time()[5m]",
                        "(up)[5m]",
                        "rate(up[5m])[5m]",
                        "sum(up)[5m]",
                        "vector(up)",
                        "scalar(1)",
                        "absent_over_time(up)",
                        "round(up, up)",
                        "clamp(up, up, 1)",
                        "predict_linear(up[5m], up)",
                        "sort(up[5m])",
                        "max_over_time(time()[5m:1m])",
                        "no_such_function(up)",
                        "rate_over_time(up[5m])",
                        "holt_winters_v2(up[5m], 0.5, 0.5)",
                        "label_replace(up)",
                        "histogram_quantile(0.9)",
                        "abs()",
                        "abs(up, up)",
                        "time(1)",
                        "count_values(up)",
                        "quantile(up)",
                        "label_join(up, \"a\")",
                        "sum(up, up)",
                        "topk(1, 2, up)"}) {
    add("type", q);
  }
  // Vector matching misuse, scalars with modifiers, set operators on scalars.
  for (const char* q : {"1 + on(job) group_left 2", "1 + on(job) 2", "up + on(job) 1", "1 + bool 2",
                        "1 > 2", "up and 1", "1 or 2", "up + bool up",
                        "up and on(job) group_left up", "up * on(job) group_left(job) up",
                        "up unless bool up", "up + ignoring(job) group_left group_right up",
                        "up + on(job) group_left(0a) up", "\"a\" == bool \"a\""}) {
    add("matching", q);
  }
  // Selectors that cannot be evaluated, invalid regexes and label names.
  for (const char* q :
       {"{}", "{job=~\".*\"}", "{job!=\"x\"}", "{__name__=\"\"}", "up{__name__=\"b\"}",
        "up{0a=\"1\"}", "{__name__=~\"(\"}", "up{job=~\"[\"}", "up{job=~\"a{1001}\"}",
        "up{job=~\"(?P<x\"}", "up{job=~\"\\\\\"}", "up{job!~\"*\"}"}) {
    add("selector", q);
  }
  // Errors at evaluation time.
  for (const char* q :
       {"http_requests_total + on(job) http_requests_total",
        "up / on(job) group_left http_requests_total",
        // Prometheus 3 validates label names as UTF-8 ("0bad" is legal there): use empty ones.
        "label_replace(up, \"\", \"x\", \"job\", \".*\")",
        "label_replace(up, \"dst\", \"$1\", \"job\", \"(\")",
        "label_join(up, \"\", \",\", \"job\")", "count_values(\"\", up)",
        "label_replace(http_requests_total, \"code\", \"x\", \"\", \"\")",
        "label_join(http_requests_total, \"method\", \"\", \"job\")", "topk(1e300, up)",
        "bottomk(-1e300, up)", "topk(NaN, up)", "limitk(1e300, up)", "topk(scalar(up), up)"}) {
    add("execution", q);
  }
  // Size and nesting.
  add("size", Repeat("(", 10000) + "up" + Repeat(")", 10000), kMaySucceed,
      "10,000 balanced parentheses");
  add("size", Repeat("(", 10000) + "up" + Repeat(")", 9999), kMustFail,
      "10,000 parentheses, one unclosed");
  add("size", Repeat("(", 100000) + "up", kMustFail, "100,000 unclosed parentheses");
  add("size", Repeat("(", 50000) + "up" + Repeat(")", 50000), kMaySucceed,
      "50,000 balanced parentheses");
  add("size", Repeat("abs(", 5000) + "up" + Repeat(")", 5000), kMaySucceed,
      "abs() nested 5,000 deep");
  add("size", Repeat("abs(", 20000) + "up" + Repeat(")", 20000), kMaySucceed,
      "abs() nested 20,000 deep");
  add("size", Repeat("up ^ ", 20000) + "up", kMaySucceed, "20,001-term right-associative ^ chain");
  add("size", Repeat("-", 100000) + "up", kMaySucceed, "100,000 unary minus signs");
  add("size", Repeat("up + ", 20000), kMustFail, "20,000-term + chain, dangling operator");
  add("size", Repeat("up + ", 20000) + "up", kMaySucceed, "20,001-term + chain");
  add("size", "up{job=\"" + std::string(100000, 'a'), kMustFail,
      "unterminated 100k-char label value");
  add("size", std::string(100000, 'a') + "{", kMustFail, "100k-char metric name, unclosed brace");
  add("size", "sum by (" + Repeat("l,", 50000) + ") (up", kMustFail,
      "50,000 grouping labels, unclosed");
  add("size", Repeat("sum(", 3000) + "up" + Repeat(")", 2999), kMustFail,
      "sum() nested 3,000 deep, unclosed");
  add("size", Repeat("max_over_time(", 1000) + "up" + Repeat("[1m:1s])", 1000), kMaySucceed,
      "1,000 nested [1m:1s] subqueries");
  // Regex bombs and huge alternations: legal, RE2 keeps them linear.
  add("regex", "{__name__=~\"(a*)*b\"}", kMaySucceed);
  add("regex", "{__name__=~\"(a|aa)*c\"}", kMaySucceed);
  add("regex", "{job=~\"(x+x+)+y\"}", kMaySucceed);
  add("regex", "{__name__=~\"(.*a){20}\"}", kMaySucceed);
  add("regex", "up{job=~\"(.*.*.*.*.*.*.*.*.*=.*)*\"}", kMaySucceed);
  {
    std::string alt;
    for (int i = 0; i < 10000; ++i)
      alt += (i ? "|" : "") + std::string("metric_") + std::to_string(i);
    add("regex", "{__name__=~\"" + alt + "\"}", kMaySucceed);
    add("regex", "{__name__=~\"" + alt + "|(\"}");
  }
  add("regex", "up{job=~\"" + Repeat("(", 2000) + "a" + Repeat(")", 2000) + "\"}", kMaySucceed);
  add("regex", "up{job=~\"((a{100}){100}){100}\"}");
  // Resource limits: the 11,000 points limit, max samples, the timeout.
  add_range("limits", "up", "&start=0&end=315360000&step=1");  // ten years at 1 s
  add_range(
      "limits", "up",
      "&start=" + std::to_string(w.start) + "&end=" + std::to_string(w.start + 11001) + "&step=1");
  add_range("limits", "up",
            "&start=" + std::to_string(w.end) + "&end=" + std::to_string(w.start) + "&step=15");
  add_range("limits", "up",
            "&start=" + std::to_string(w.start) + "&end=" + std::to_string(w.end) + "&step=0");
  add_range("limits", "up",
            "&start=" + std::to_string(w.start) + "&end=" + std::to_string(w.end) + "&step=-15");
  add_range("limits", "up",
            "&start=" + std::to_string(w.start) + "&end=" + std::to_string(w.end) + "&step=abc");
  add_range("limits", "up", "&start=yesterday&end=" + std::to_string(w.end) + "&step=15");
  add_range("limits", "up", "&start=" + std::to_string(w.start) + "&step=15");
  add_range("limits", "up[5m]", range);
  add_range("limits", "\"a string\"", range);
  // count_values with a new output series per step and value: ~10,900 steps x 13 values, over
  // --query.max-samples. (Prometheus also counts the aggregation's input matrix and rejects this
  // query at any step over the hour; lookout counts what it holds per step.)
  add_range(
      "limits", "count_values(\"v\", {__name__=~\".+\"} + time())",
      "&start=" + std::to_string(w.end - 3800) + "&end=" + std::to_string(w.end) + "&step=0.35");
  add("limits", "max_over_time(up[3650d:1ms])");
  add("limits", "count_values(\"v\", sum_over_time(({__name__=~\".+\"} + time())[1h:1ms]))");
  add("limits",
      "max_over_time(max_over_time(max_over_time(max_over_time(rate(http_requests_total[1m])"
      "[1h:1s])[1h:1s])[1h:1s])[1h:1s])");
  add("limits", "sum_over_time({__name__=~\".+\"}[3650d:1s] @ 0)");
  c.push_back(
      {"limits", "query", "time=" + std::to_string(w.end), "(no query parameter)", kMustFail});
  c.push_back({"limits", "query", "query=up&time=1e400", "up [time=1e400]", kMustFail});
  c.push_back({"limits", "query", "query=up&time=" + std::to_string(w.end) + "&timeout=abc",
               "up [timeout=abc]", kMustFail});
  return c;
}

// One lookout-collector over a data dir; Restart() brings it back on the same data (the WAL
// replays) after a crash, so that the whole corpus runs and every crasher is listed.
class Collector {
 public:
  explicit Collector(std::string dir) : dir_(std::move(dir)) {}
  bool Start() {
    port_ = FreePort();
    child_ = Child(
        {BuildDir() + "/collector/lookout-collector",
         "--web.listen-address=127.0.0.1:" + std::to_string(port_),
         "--storage.tsdb.path=" + dir_ + "/data",
         "--query.timeout=" + std::to_string(kQueryTimeoutS) + "s", "--query.max-samples=100000"},
        dir_ + "/collector.log");
    return WaitHttpOk(port_, "/-/ready", std::chrono::seconds(20));
  }
  int port() const { return port_; }
  bool Running() { return child_.Running(); }
  void Stop() { child_.Stop(); }

 private:
  std::string dir_;
  int port_ = 0;
  Child child_;
};

// Running() right after a dropped connection may race the exit: give a dying process a moment.
bool Died(Collector& c, int status) {
  if (status != 0) return !c.Running();
  for (int i = 0; i < 20 && c.Running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return !c.Running();
}

TEST(PromqlBadQueries, AnswersErrorsAndSurvives) {
  std::string dir = fs::temp_directory_path() / ("lookout-promql-bad-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Collector c(dir);
  ASSERT_TRUE(c.Start());

  // An hour of data at 15 s: 12 targets with `up` and four http_requests_total series each.
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int64_t first = (now / 15000) * 15000 - 240 * 15000;
  RwRequest r;
  for (int t = 0; t < 12; ++t) {
    std::vector<std::pair<std::string, std::string>> base = {
        {"instance", "host-" + std::to_string(t) + ":9100"}, {"job", t < 6 ? "api" : "db"}};
    RwSeries up;
    up.labels = {{"__name__", "up"}, base[0], base[1]};
    for (int k = 0; k < 240; ++k) up.samples.push_back({1, first + k * 15000});
    r.series.push_back(up);
    for (const char* code : {"200", "500"}) {
      for (const char* method : {"GET", "POST"}) {
        RwSeries s;
        s.labels = {{"__name__", "http_requests_total"},
                    {"code", code},
                    base[0],
                    base[1],
                    {"method", method}};
        for (int k = 0; k < 240; ++k)
          s.samples.push_back({static_cast<double>(k * (t + 1)), first + k * 15000});
        r.series.push_back(s);
      }
    }
  }
  std::string resp;
  ASSERT_EQ(
      PostRemoteWrite(c.port(), common::proto::EncodeWriteRequest(r), resp),
      204)
      << resp;
  Window w{first / 1000 + 600, first / 1000 + 239 * 15};

  std::vector<BadQuery> corpus = Corpus(w);
  struct Count {
    int total = 0, s400 = 0, s422 = 0, s503 = 0, s200 = 0, crash = 0, bad = 0;
  };
  std::map<std::string, Count> counts;
  std::vector<std::string> crashers;
  int failures = 0;
  double slowest = 0;
  std::string slowest_q;
  for (const auto& q : corpus) {
    auto t0 = std::chrono::steady_clock::now();
    std::string body;
    int st = HttpPost(c.port(), "/api/v1/" + q.endpoint, q.form, kForm, body);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (secs > slowest) {
      slowest = secs;
      slowest_q = q.shown;
    }
    Count& n = counts[q.cls];
    ++n.total;
    json j = json::parse(body, nullptr, false);
    std::string why;
    if (Died(c, st)) {
      why = "CRASH: lookout-collector died";
      ++n.crash;
      crashers.push_back(q.cls + ": " + q.shown);
    } else if (st == 200 && (q.flags & kMaySucceed)) {
      if (j.is_discarded() || j["status"] != "success") why = "200 without a success envelope";
      ++n.s200;
    } else if (st != 400 && st != 422 && st != 503) {
      why = "status " + std::to_string(st);
    } else if (j.is_discarded() || j["status"] != "error" || !j["errorType"].is_string() ||
               j["errorType"].get<std::string>().empty() || !j["error"].is_string() ||
               j["error"].get<std::string>().empty()) {
      why = "no error envelope";
    } else {
      (st == 400 ? n.s400 : st == 422 ? n.s422 : n.s503)++;
    }
    if (why.empty() && secs > kAnswerWithinS) why = "answered after " + std::to_string(secs) + " s";
    std::string msg = j.is_discarded() ? body.substr(0, 120) : j.value("error", std::string());
    std::printf("%-10s %3d %5.2fs %-62s %s\n", q.cls.c_str(), st, secs,
                q.shown.size() > 62 ? (q.shown.substr(0, 59) + "...").c_str() : q.shown.c_str(),
                (why.empty() ? msg.substr(0, 140) : why).c_str());
    if (!why.empty()) {
      ++n.bad;
      ++failures;
      ADD_FAILURE() << q.cls << " " << q.shown << ": " << why << " (status " << st << ", body "
                    << body.substr(0, 300) << ")";
      if (!c.Running()) {
        c.Stop();  // reap
        ASSERT_TRUE(c.Start()) << "lookout-collector does not come back after a crash";
      }
    }
  }
  std::printf("\n%-10s %6s %5s %5s %5s %5s %6s %5s\n", "class", "total", "400", "422", "503",
              "200*", "crash", "bad");
  int total = 0;
  for (const auto& [cls, n] : counts) {
    std::printf("%-10s %6d %5d %5d %5d %5d %6d %5d\n", cls.c_str(), n.total, n.s400, n.s422, n.s503,
                n.s200, n.crash, n.bad);
    total += n.total;
  }
  std::printf(
      "%d queries (200* only for legal-but-adversarial ones), %d failures, %zu crashes; slowest "
      "%.2f s: "
      "%s\n",
      total, failures, crashers.size(), slowest, slowest_q.c_str());
  for (const auto& q : crashers) std::printf("  crashed lookout-collector: %s\n", q.c_str());
  EXPECT_GE(corpus.size(), 100u);
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(crashers.empty());

  // Still healthy, and still answering normal queries.
  ASSERT_TRUE(c.Running()) << "lookout-collector died; see " << dir << "/collector.log";
  std::string body;
  EXPECT_EQ(HttpGet(c.port(), "/-/healthy", body), 200);
  ASSERT_EQ(HttpPost(c.port(), "/api/v1/query", "query=sum%28up%29&time=" + std::to_string(w.end),
                     kForm, body),
            200)
      << body;
  json j = json::parse(body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << body;
  EXPECT_EQ(j["data"]["result"][0]["value"][1], "12") << body;
  c.Stop();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace tests
