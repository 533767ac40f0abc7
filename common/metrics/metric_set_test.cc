#include "common/metrics/metric_set.h"

#include <gtest/gtest.h>

namespace common::metrics {
namespace {

TEST(MetricSet, EncodesSortedAsClientGolang) {
  MetricSet a, b;
  a.Gauge("zeta", "Z.", 3);
  a.Counter("alpha_total", "A.", 10, {{"mode", "user"}, {"cpu", "1"}});
  a.Counter("alpha_total", "A.", 5, {{"cpu", "0"}, {"mode", "user"}});
  b.Counter("alpha_total", "A.", 7, {{"cpu", "0"}, {"mode", "idle"}});
  b.Gauge("mid", "M.", 1, {{"x", ""}});  // empty label values are dropped
  Encoder enc;
  std::string out;
  const MetricSet* sets[] = {&a, &b};
  enc.Encode(sets, out);
  EXPECT_EQ(out,
            "# HELP alpha_total A.\n# TYPE alpha_total counter\n"
            "alpha_total{cpu=\"0\",mode=\"idle\"} 7\n"
            "alpha_total{cpu=\"0\",mode=\"user\"} 5\n"
            "alpha_total{cpu=\"1\",mode=\"user\"} 10\n"
            "# HELP mid M.\n# TYPE mid gauge\nmid 1\n"
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

}  // namespace
}  // namespace common::metrics
