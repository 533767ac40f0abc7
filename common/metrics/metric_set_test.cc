#include "common/metrics/metric_set.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

// Counts heap allocations so the test can show a steady-state pass allocates nothing.
static std::atomic<long> g_allocs{0};
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace common::metrics {
namespace {

TEST(MetricSet, EncodesSortedAsClientGolang) {
  MetricSet a, b;
  a.Gauge("zeta", "Z.", 3);
  a.Counter("alpha_total", "A.", 10, {{"mode", "user"}, {"cpu", "1"}});
  a.Counter("alpha_total", "A.", 5, {{"cpu", "0"}, {"mode", "user"}});
  b.Counter("alpha_total", "A.", 7, {{"cpu", "0"}, {"mode", "idle"}});
  b.Gauge("mid", "M.", 1, {{"x", ""}});  // empty label values are kept
  Encoder enc;
  std::string out;
  const MetricSet* sets[] = {&a, &b};
  enc.Encode(sets, out);
  EXPECT_EQ(out,
            "# HELP alpha_total A.\n# TYPE alpha_total counter\n"
            "alpha_total{cpu=\"0\",mode=\"idle\"} 7\n"
            "alpha_total{cpu=\"0\",mode=\"user\"} 5\n"
            "alpha_total{cpu=\"1\",mode=\"user\"} 10\n"
            "# HELP mid M.\n# TYPE mid gauge\nmid{x=\"\"} 1\n"
            "# HELP zeta Z.\n# TYPE zeta gauge\nzeta 3\n");
}

TEST(MetricSet, FewerLabelsSortFirstAndValuesCompareBytewise) {
  MetricSet s;
  s.Gauge("m", "h", 1, {{"a", "x"}, {"b", "y"}});
  s.Gauge("m", "h", 2, {{"a", "x "}});
  s.Gauge("m", "h", 3, {{"a", "x"}});
  Encoder enc;
  std::string out;
  const MetricSet* sets[] = {&s};
  enc.Encode(sets, out);
  EXPECT_EQ(out, "# HELP m h\n# TYPE m gauge\nm{a=\"x\"} 3\nm{a=\"x \"} 2\n"
                 "m{a=\"x\",b=\"y\"} 1\n");
}

TEST(MetricSet, SummariesAndHistogramsAsClientGolangWritesThem) {
  MetricSet s;
  std::pair<double, double> q[] = {{0.5, 1.5}, {0.99, 3}};
  Label l[] = {{"job", "b"}};
  s.AddSummary("rpc_seconds", "RPC latency.", l, q, 42.5, 10);
  Label l2[] = {{"job", "a"}};
  std::pair<double, uint64_t> b[] = {{0.1, 2}, {1, 5}};
  s.AddHistogram("req_seconds", "Request latency.", l2, b, 3.25, 7);
  Encoder enc;
  std::string out;
  const MetricSet* sets[] = {&s};
  enc.Encode(sets, out);
  EXPECT_EQ(out,
            "# HELP req_seconds Request latency.\n# TYPE req_seconds histogram\n"
            "req_seconds_bucket{job=\"a\",le=\"0.1\"} 2\nreq_seconds_bucket{job=\"a\",le=\"1\"} 5\n"
            "req_seconds_bucket{job=\"a\",le=\"+Inf\"} 7\nreq_seconds_sum{job=\"a\"} 3.25\n"
            "req_seconds_count{job=\"a\"} 7\n"
            "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds summary\n"
            "rpc_seconds{job=\"b\",quantile=\"0.5\"} 1.5\nrpc_seconds{job=\"b\",quantile=\"0.99\"} 3\n"
            "rpc_seconds_sum{job=\"b\"} 42.5\nrpc_seconds_count{job=\"b\"} 10\n");
}

TEST(MetricSet, InvalidUtf8InLabelValuesIsReplaced) {
  MetricSet s;
  s.Gauge("m", "h", 1, {{"v", "ok\xff\xfe\xc3(\xe2\x82\xac"}});  // a run, then a lone byte
  Encoder enc;
  std::string out;
  const MetricSet* sets[] = {&s};
  enc.Encode(sets, out);
  EXPECT_EQ(out, "# HELP m h\n# TYPE m gauge\nm{v=\"ok\xef\xbf\xbd(\xe2\x82\xac\"} 1\n");
}

TEST(MetricSet, ClearKeepsFamiliesButDropsSamples) {
  MetricSet s;
  s.Gauge("m", "h", 1);
  s.Clear();
  EXPECT_EQ(s.size(), 0u);
  Encoder enc;
  std::string out;
  const MetricSet* sets[] = {&s};
  enc.Encode(sets, out);
  EXPECT_EQ(out, "");  // families without samples are not written
  s.Gauge("m", "h", 2);
  enc.Encode(sets, out);
  EXPECT_EQ(out, "# HELP m h\n# TYPE m gauge\nm 2\n");
}

TEST(MetricSet, SteadyStatePassDoesNotAllocate) {
  MetricSet s;
  Encoder enc;
  std::string out;
  const MetricSet* sets[] = {&s};
  char cpu[8], mode[16];
  auto fill = [&] {
    s.Clear();
    for (int c = 0; c < 64; ++c) {
      std::snprintf(cpu, sizeof cpu, "%d", c);
      for (int m = 0; m < 8; ++m) {
        std::snprintf(mode, sizeof mode, "mode%d", m);
        s.Counter("node_cpu_seconds_total", "CPU time.", c * 10.5 + m, {{"cpu", cpu}, {"mode", mode}});
      }
      s.Gauge("node_cpu_frequency_hertz_with_a_long_family_name", "Freq.", 1e9 + c, {{"cpu", cpu}});
    }
    out.clear();
    enc.Encode(sets, out);
  };
  fill();  // first pass sizes every buffer
  long before = g_allocs.load();
  fill();
  fill();
  EXPECT_EQ(g_allocs.load() - before, 0) << "allocations in steady-state passes of 576 samples";
  EXPECT_EQ(s.size(), 576u);
  EXPECT_NE(out.find("node_cpu_seconds_total{cpu=\"63\",mode=\"mode7\"} 668.5"), std::string::npos);
}

}  // namespace
}  // namespace common::metrics
