#include "collector/promql/promqltest/runner.h"

#include <gtest/gtest.h>

#include <cmath>

#include "collector/storage/storage.h"

namespace collector::promql::promqltest {
namespace {

FileReport RunText(const char* text) {
  auto s = ParseScript(text, "t.test");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return {};
  return RunScript(*s, "t.test");
}

std::string Describe(const FileReport& r) {
  std::string out;
  for (const auto& e : r.evals) {
    if (e.outcome != Outcome::kFail) continue;
    out += std::to_string(e.line) + ": " + e.expr + ": " + e.message + "\n  expected: " + e.expected +
           "\n  got: " + e.got + "\n";
  }
  return out;
}

TEST(AlmostEqual, UpstreamRules) {
  EXPECT_TRUE(AlmostEqual(1, 1));
  EXPECT_TRUE(AlmostEqual(1, 1 + 1e-9));
  EXPECT_FALSE(AlmostEqual(1, 1.001));
  EXPECT_TRUE(AlmostEqual(std::nan(""), std::nan("")));
  EXPECT_FALSE(AlmostEqual(std::nan(""), storage::StaleNaN()));
  EXPECT_TRUE(AlmostEqual(storage::StaleNaN(), storage::StaleNaN()));
  EXPECT_FALSE(AlmostEqual(0, 1e-300));
  EXPECT_TRUE(AlmostEqual(HUGE_VAL, HUGE_VAL));
  EXPECT_FALSE(AlmostEqual(HUGE_VAL, -HUGE_VAL));
}

constexpr const char* kNativeHistogramScript = R"(load 1m
  h {{schema:0 sum:1 count:1}}x3
  f 1 2 3
  g 1 1 {{schema:0 sum:1 count:1}}

eval instant at 1m f
  f 2

eval instant at 1m h
  {} {{schema:0 sum:1 count:1}}

eval instant at 1m sum(rate({__name__=~"h|f"}[2m]))
  {} 1

eval instant at 1m histogram_count(h)
  {} 1

eval instant at 1m timestamp(g)
  {} 60

eval instant at 2m timestamp(g)
  {} 120

eval range from 0 to 1m step 1m max_over_time(g[1m])
  {} 1 1

eval range from 0 to 1m step 1m max_over_time(g[1m] offset -1m)
  {} 1 1

clear
load 1m
  c{a="b"}@st _ -30s-1mx2
  c{a="b"} _ 0+60x2

eval instant at 2m c
  c{a="b"} 60

clear
load_with_nhcb 1m
  x_bucket{le="1"} 1 2
  x_bucket{le="+Inf"} 1 2

eval instant at 1m x_bucket
  x_bucket{le="1"} 2
  x_bucket{le="+Inf"} 2

eval instant at 1m histogram_quantile(0.5, x)
  {} 0.5
)";

TEST(Runner, SkipsOnlyEvalsThatReadNativeHistograms) {
  auto r = RunText(kNativeHistogramScript);
  ASSERT_EQ(r.evals.size(), 11u);
  EXPECT_EQ(r.evals[0].outcome, Outcome::kPass) << Describe(r);  // f: floats only
  EXPECT_EQ(r.evals[1].outcome, Outcome::kSkip);                 // (a) `{{` in the body
  EXPECT_EQ(r.evals[2].outcome, Outcome::kSkip);                 // (b) the regex matches h
  EXPECT_NE(r.evals[2].skip_reason.find("__name__=\"h\""), std::string::npos) << r.evals[2].skip_reason;
  EXPECT_EQ(r.evals[3].outcome, Outcome::kSkip);                 // (c) histogram_count(h)
  EXPECT_NE(r.evals[3].skip_reason.find("histogram_count"), std::string::npos) << r.evals[3].skip_reason;
  // g has floats at 0 and 1m and a histogram at 2m: only what reads 2m is skipped.
  EXPECT_EQ(r.evals[4].outcome, Outcome::kPass) << Describe(r);
  EXPECT_EQ(r.evals[5].outcome, Outcome::kSkip);
  EXPECT_EQ(r.evals[6].outcome, Outcome::kPass) << Describe(r);
  EXPECT_EQ(r.evals[7].outcome, Outcome::kSkip);  // a negative offset reaches 2m
  EXPECT_EQ(r.evals[8].outcome, Outcome::kPass) << Describe(r);  // @st data runs
  EXPECT_EQ(r.evals[9].outcome, Outcome::kPass) << Describe(r);  // classic buckets are floats
  EXPECT_EQ(r.evals[10].outcome, Outcome::kSkip);                // x is the synthesised NHCB
  EXPECT_EQ(r.passed, 5);
  EXPECT_EQ(r.failed, 0) << Describe(r);
  EXPECT_EQ(r.skipped, 6);
  EXPECT_EQ(r.skipped_native_histograms, 6);
}

TEST(Runner, ConservativeNativeHistogramSkip) {
  auto s = ParseScript(kNativeHistogramScript, "t.test");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  RunOptions opts;
  opts.conservative_nh_skip = true;
  auto r = RunScript(*s, "t.test", opts);
  EXPECT_EQ(r.passed, 1);  // `c` after the `clear`: no histograms loaded there
  EXPECT_EQ(r.skipped, 10);
  EXPECT_EQ(r.skipped_native_histograms, 10);
  ASSERT_EQ(r.evals.size(), 11u);
  EXPECT_EQ(r.evals[8].outcome, Outcome::kPass) << Describe(r);
  EXPECT_NE(r.evals[0].skip_reason.find("line 1"), std::string::npos) << r.evals[0].skip_reason;
}

TEST(Runner, LoadErrorsAreFailures) {
  auto r = RunText("load 1m\n  a 1 2\n\nload 1m\n  a 5\n");
  EXPECT_EQ(r.failed, 1);
  ASSERT_EQ(r.evals.size(), 1u);
  EXPECT_EQ(r.evals[0].failure, FailureKind::kLoad);
  EXPECT_EQ(r.evals[0].line, 5);
}

// These need a working engine: a selector, a scalar, a range query, an error.
TEST(Runner, BasicEvaluation) {
  auto r = RunText(R"(load 1m
  a{job="x"} 0+1x10
  a{job="y"} 10 _ stale

eval instant at 5m a
  a{job="x"} 5

eval instant at 1m a
  a{job="x"} 1
  a{job="y"} 10

eval instant at 0 1.5
  1.5

eval range from 0 to 2m step 1m a{job="x"}
  a{job="x"} 0 1 2

eval instant at 0 a{
  expect fail
)");
  EXPECT_EQ(r.failed, 0) << Describe(r);
  EXPECT_EQ(r.passed, 5);

  // Failures are reported with what was expected and what came.
  auto bad = RunText(R"(load 1m
  a 1

eval instant at 0 a
  a 2

eval instant at 0 a
  b 1

eval instant at 0 a
  expect fail
)");
  EXPECT_EQ(bad.failed, 3);
  ASSERT_EQ(bad.evals.size(), 3u);
  EXPECT_EQ(bad.evals[0].failure, FailureKind::kMismatch);
  EXPECT_EQ(bad.evals[2].failure, FailureKind::kMissingError);
}

}  // namespace
}  // namespace collector::promql::promqltest
