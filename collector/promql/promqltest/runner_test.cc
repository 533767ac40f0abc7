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

TEST(Runner, SkipsNativeHistogramAndStartTimestampSections) {
  auto r = RunText(R"(load 1m
  h {{schema:0 sum:1 count:1}}x3
  f 1 2 3

eval instant at 1m f
  f 2

eval instant at 1m h
  {} {{schema:0 sum:1 count:1}}

clear
load 1m
  c{a="b"}@st _ -30s-1mx2
  c{a="b"} _ 0+60x2

eval instant at 2m c
  c{a="b"} 60

clear
load_with_nhcb 1m
  x_bucket{le="1"} 1 2

eval instant at 1m x_bucket
  x_bucket{le="1"} 2
)");
  EXPECT_EQ(r.skipped, 4);
  EXPECT_EQ(r.skipped_native_histograms, 3);
  EXPECT_EQ(r.skipped_start_timestamps, 1);
  ASSERT_EQ(r.evals.size(), 4u);
  EXPECT_EQ(r.evals[2].skip, SkipKind::kStartTimestamps);
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
