#include "collector/promql/promqltest/script.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace collector::promql::promqltest {
namespace {

using K = SeqValue::Kind;

std::vector<double> Floats(const std::vector<SeqValue>& vs) {
  std::vector<double> out;
  for (const auto& v : vs) out.push_back(v.kind == K::kFloat ? v.v : -12345);
  return out;
}

TEST(ExpandValues, Table) {
  struct Case {
    const char* in;
    std::vector<double> want;  // -12345 = not a float slot
  } cases[] = {
      {"1", {1}},
      {"0+10x3", {0, 10, 20, 30}},
      {"0x10", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {"5x2", {5, 5, 5}},
      {"10-2x2", {10, 8, 6}},
      {"-1-1x2", {-1, -2, -3}},
      {"1e3 .5 -1E+308", {1e3, 0.5, -1e308}},
      {"1 _ 3", {1, -12345, 3}},
      {"_x3 1", {-12345, -12345, -12345, 1}},
      {"", {}},
      {"  1\t2  ", {1, 2}},
  };
  for (const auto& c : cases) {
    auto r = ExpandValues(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.status().ToString();
    EXPECT_EQ(Floats(*r), c.want) << c.in;
  }
}

TEST(ExpandValues, SpecialValues) {
  auto r = ExpandValues("Inf -Inf +inf NaN nan stale");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_TRUE(std::isinf((*r)[0].v) && (*r)[0].v > 0);
  EXPECT_TRUE(std::isinf((*r)[1].v) && (*r)[1].v < 0);
  EXPECT_TRUE(std::isinf((*r)[2].v) && (*r)[2].v > 0);
  EXPECT_TRUE(std::isnan((*r)[3].v));
  EXPECT_TRUE(std::isnan((*r)[4].v));
  EXPECT_EQ((*r)[5].kind, K::kStale);
}

TEST(ExpandValues, RepeatedAdditionIsBitIdentical) {
  auto r = ExpandValues("0.1+0.1x10");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 11u);
  double cur = 0.1;
  for (size_t i = 0; i < r->size(); ++i) {
    EXPECT_EQ(std::memcmp(&(*r)[i].v, &cur, sizeof cur), 0) << i;
    cur = cur + 0.1;
  }
  // a + i*b would differ somewhere along this sequence.
  EXPECT_NE((*r)[10].v, 0.1 + 10 * 0.1);
}

TEST(ExpandValues, Histograms) {
  auto r = ExpandValues("{{schema:1 sum:3 count:22 buckets:[5 10 7]}} 1 {{}}x2 "
                        "{{schema:0 sum:1}}+{{schema:0 sum:2}}x3 _");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u + 1 + 3 + 4 + 1);
  EXPECT_EQ((*r)[0].kind, K::kHistogram);
  EXPECT_EQ((*r)[1].kind, K::kFloat);
  EXPECT_EQ((*r)[4].kind, K::kHistogram);
  EXPECT_EQ((*r)[8].kind, K::kHistogram);
  EXPECT_EQ((*r)[9].kind, K::kOmitted);
}

TEST(ExpandValues, Errors) {
  for (const char* in : {"abc", "1+x3", "1+2", "stalex3", "1x", "{{schema:1", "1y", "0x1f"}) {
    EXPECT_FALSE(ExpandValues(in).ok()) << in;
  }
}

TEST(ParseScalarExpectation, GoRules) {
  EXPECT_EQ(*ParseScalarExpectation("0x10"), 16);
  EXPECT_EQ(*ParseScalarExpectation("0o10"), 8);
  EXPECT_EQ(*ParseScalarExpectation("010"), 8);
  EXPECT_EQ(*ParseScalarExpectation("0b11"), 3);
  EXPECT_EQ(*ParseScalarExpectation("-3"), -3);
  EXPECT_EQ(*ParseScalarExpectation("1e3"), 1000);
  EXPECT_EQ(*ParseScalarExpectation("0.5"), 0.5);
  EXPECT_TRUE(std::isnan(*ParseScalarExpectation("NaN")));
  EXPECT_EQ(*ParseScalarExpectation("-Inf"), -HUGE_VAL);
  EXPECT_FALSE(ParseScalarExpectation("foo").ok());
  EXPECT_FALSE(ParseScalarExpectation("{}").ok());
}

TEST(ParseSeriesLiteral, Forms) {
  std::string_view rest;
  auto l = ParseSeriesLiteral(R"(http_requests{job="api", instance='0',} 1 2)", &rest);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(*l, (model::Labels{{"__name__", "http_requests"}, {"job", "api"}, {"instance", "0"}}));
  EXPECT_EQ(rest, "1 2");
  l = ParseSeriesLiteral(R"({__name__="m", a="x\"y\n"} 3)", &rest);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (model::Labels{{"__name__", "m"}, {"a", "x\"y\n"}}));
  l = ParseSeriesLiteral("{} 1", &rest);
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->empty());
  l = ParseSeriesLiteral("foo:bar_baz 1", &rest);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (model::Labels{{"__name__", "foo:bar_baz"}}));
  l = ParseSeriesLiteral(R"({"my.metric", "a.b"="c"} 1)", &rest);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(*l, (model::Labels{{"__name__", "my.metric"}, {"a.b", "c"}}));
  l = ParseSeriesLiteral("foo {{schema:1}}", &rest);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(rest, "{{schema:1}}");
  EXPECT_FALSE(ParseSeriesLiteral(R"(foo{a=~"x"} 1)", &rest).ok());
  EXPECT_FALSE(ParseSeriesLiteral(R"(foo{a="x" 1)", &rest).ok());
  EXPECT_FALSE(ParseSeriesLiteral("1 2", &rest).ok());
}

TEST(ParseScript, CommandsAndBlocks) {
  const char* text = R"(# comment
load 5m
	http{job="a"}	0+10x2
    http{job="a"}   1 2
  other 1 _ stale

eval instant at 10m http
  {__name__="http", job="a"} 2

EVAL range from 0 to 10m step 5m sum(http)
    {} 1 2 _

eval instant at 1m nothing
# empty

eval_fail instant at 0 foo(

eval_ordered instant at 1m sort(http)
  http{job="a"} 2

clear

eval instant at 0 1.5
  1.5

eval instant at 0 "x"
  expect string `x`

eval instant at 1m x[1m]
  expect range vector from 0 to 1m step 30s
  expect no_warn
  x 1 2 3

eval instant at 0 foo
  expect fail msg:vector cannot contain metrics with the same labelset
  expect warn regex: some.*thing
  expect no_info
)";
  auto s = ParseScript(text, "t.test");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->commands.size(), 11u);
  const auto& load = std::get<LoadCmd>(s->commands[0]);
  EXPECT_EQ(load.line, 2);
  EXPECT_EQ(load.step_ms, 300000);
  ASSERT_EQ(load.series.size(), 2u);  // the repeated label set keeps its last line
  EXPECT_EQ(Floats(load.series[0].values), (std::vector<double>{1, 2}));
  EXPECT_EQ(load.series[1].values[2].kind, K::kStale);

  const auto& e1 = std::get<EvalCmd>(s->commands[1]);
  EXPECT_FALSE(e1.range);
  EXPECT_EQ(e1.start_ms, 600000);
  EXPECT_EQ(e1.expr, "http");
  ASSERT_EQ(e1.series.size(), 1u);
  EXPECT_EQ(e1.series[0].line, 8);

  const auto& e2 = std::get<EvalCmd>(s->commands[2]);
  EXPECT_TRUE(e2.range);
  EXPECT_EQ(e2.end_ms, 600000);
  EXPECT_EQ(e2.step_ms, 300000);
  EXPECT_EQ(e2.expr, "sum(http)");
  ASSERT_EQ(e2.series.size(), 1u);
  EXPECT_EQ(e2.series[0].values.size(), 3u);

  const auto& e3 = std::get<EvalCmd>(s->commands[3]);
  EXPECT_TRUE(e3.series.empty());  // a comment ends the block: empty result expected

  const auto& e4 = std::get<EvalCmd>(s->commands[4]);
  EXPECT_TRUE(e4.Has(Expectation::Type::kFail));
  EXPECT_EQ(e4.expr, "foo(");
  const auto& e5 = std::get<EvalCmd>(s->commands[5]);
  EXPECT_TRUE(e5.Has(Expectation::Type::kOrdered));
  EXPECT_TRUE(std::holds_alternative<ClearCmd>(s->commands[6]));

  const auto& e7 = std::get<EvalCmd>(s->commands[7]);
  ASSERT_TRUE(e7.scalar.has_value());
  EXPECT_EQ(*e7.scalar, 1.5);
  EXPECT_EQ(*std::get<EvalCmd>(s->commands[8]).string, "x");

  const auto& e9 = std::get<EvalCmd>(s->commands[9]);
  EXPECT_TRUE(e9.range_vector);
  EXPECT_EQ(e9.rv_step_ms, 30000);
  EXPECT_TRUE(e9.Has(Expectation::Type::kNoWarn));
  ASSERT_EQ(e9.series.size(), 1u);
  EXPECT_EQ(e9.series[0].values.size(), 3u);
}

TEST(ParseScript, Expectations) {
  auto s = ParseScript(R"(eval instant at 0 foo
  expect fail msg:vector cannot contain metrics with the same labelset
  expect warn regex: some.*thing
  expect no_info
)", "t");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const auto& e = std::get<EvalCmd>(s->commands[0]);
  const Expectation* f = e.Find(Expectation::Type::kFail);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->match, Expectation::Match::kMsg);
  EXPECT_EQ(f->text, "vector cannot contain metrics with the same labelset");
  const Expectation* w = e.Find(Expectation::Type::kWarn);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->match, Expectation::Match::kRegex);
  EXPECT_EQ(w->text, "some.*thing");
  EXPECT_TRUE(e.Has(Expectation::Type::kNoInfo));
}

TEST(ParseScript, HistogramsAndStartTimestamps) {
  auto s = ParseScript(R"(load 1m
  h {{schema:0 sum:1 count:1}}x3
  c{type="x"}@st _ -30s-1mx2
  c{type="x"} _ 0+60x2

load_with_nhcb 1m
  x_bucket{le="1"} 1 2

eval instant at 0 h
  {} {{schema:0}}
)", "t");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const auto& l = std::get<LoadCmd>(s->commands[0]);
  EXPECT_TRUE(l.has_histograms);
  EXPECT_TRUE(l.has_start_timestamps);
  ASSERT_EQ(l.series.size(), 2u);
  EXPECT_EQ(l.series[0].values.size(), 4u);
  EXPECT_TRUE(l.series[0].st_offsets.empty());
  using Off = std::vector<std::optional<int64_t>>;
  EXPECT_EQ(l.series[1].st_offsets, (Off{std::nullopt, -30000, -90000, -150000}));
  EXPECT_TRUE(std::get<LoadCmd>(s->commands[1]).with_nhcb);
  EXPECT_TRUE(std::get<LoadCmd>(s->commands[1]).has_histograms);
  EXPECT_TRUE(std::get<EvalCmd>(s->commands[2]).body_has_histogram);
}

TEST(ExpandStartTimestampOffsets, Forms) {
  using Off = std::vector<std::optional<int64_t>>;
  auto x = [](const char* t) {
    auto r = ExpandStartTimestampOffsets(t);
    EXPECT_TRUE(r.ok()) << t << ": " << r.status().ToString();
    return r.ok() ? *r : Off{};
  };
  EXPECT_EQ(x("_ _x2 -1m"), (Off{std::nullopt, std::nullopt, std::nullopt, -60000}));
  EXPECT_EQ(x("-59999msx2"), (Off{-59999, -59999, -59999}));
  EXPECT_EQ(x("0-1mx2 +1m -0ms 1ms"), (Off{0, -60000, -120000, 60000, 0, 1}));
  EXPECT_EQ(x("-60s+1m30sx1 0"), (Off{-60000, 30000, 0}));
  for (const char* bad : {"1", "x2", "-1mx", "1m+", "1m+x2", "stale", "{{}}"}) {
    EXPECT_FALSE(ExpandStartTimestampOffsets(bad).ok()) << bad;
  }
  // The `@st` line must be followed by the same series with as many slots.
  EXPECT_FALSE(ParseScript("load 1m\n  a@st -1m\n  b 1\n", "t").ok());
  EXPECT_FALSE(ParseScript("load 1m\n  a@st -1m -1m\n  a 1\n", "t").ok());
  EXPECT_FALSE(ParseScript("load 1m\n  a 1\n  a@st -1m\n", "t").ok());
}

TEST(ParseScript, Errors) {
  struct Case {
    const char* text;
    const char* want;  // substring of the message
  } cases[] = {
      {"bogus 1\n", "1: invalid command"},
      {"\n\nload\n", "3: invalid load"},
      {"eval instant 1m foo\n", "1: invalid eval instant"},
      {"eval instant at 1m foo\n  foo 1 2\n", "2: expecting multiple values"},
      {"eval range from 0 to 1m step 1m foo\n  expect ordered\n", "2: range queries cannot"},
      {"eval instant at 0 foo\n  expect fail\n  expect fail\n", "3: more than one"},
      {"eval instant at 0 foo\n  expect warn\n  expect no_warn\n", "3: conflicting"},
      {"eval instant at 0 foo\n  expect sometimes\n", "2: unknown expectation"},
      {"load 1m\n  foo{a=\"b\" 1\n", "2: "},
      {"load 1m\n  foo 1+\n", "2: "},
  };
  for (const auto& c : cases) {
    auto s = ParseScript(c.text, "t");
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_NE(s.status().message().find(c.want), std::string_view::npos)
        << c.text << " -> " << s.status().message();
  }
}

TEST(ParseScriptDuration, Forms) {
  EXPECT_EQ(*ParseScriptDuration("0"), 0);
  EXPECT_EQ(*ParseScriptDuration("0s"), 0);
  EXPECT_EQ(*ParseScriptDuration("1m30s"), 90000);
  EXPECT_EQ(*ParseScriptDuration("20s500ms"), 20500);
  EXPECT_EQ(*ParseScriptDuration("-59999ms", true), -59999);
  EXPECT_FALSE(ParseScriptDuration("-1m").ok());
  EXPECT_FALSE(ParseScriptDuration("abc").ok());
}

}  // namespace
}  // namespace collector::promql::promqltest

namespace collector::promql::promqltest {
namespace {

TEST(ParseScript, ClearIsOneLine) {
  auto s = ParseScript("load 1m\n  a 1\n\nclear\nload 1m\n  b 2\n\neval instant at 0 b\n  b 2\n", "t");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->commands.size(), 4u);
  EXPECT_TRUE(std::holds_alternative<ClearCmd>(s->commands[1]));
  EXPECT_EQ(std::get<LoadCmd>(s->commands[2]).series.size(), 1u);
}

}  // namespace
}  // namespace collector::promql::promqltest
