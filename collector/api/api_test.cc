#include "collector/api/api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <limits>

namespace collector::api {
namespace {

TEST(FormatSampleValue, GoFormatting) {
  struct Case {
    double v;
    const char* want;
  } cases[] = {
      {1, "1"},           {0, "0"},
      {-1, "-1"},         {0.25, "0.25"},
      {1234567.5, "1234567.5"}, {13.066666666666666, "13.066666666666666"},
      {1e-7, "1e-07"},    {1e-6, "0.000001"},
      {1e21, "1e+21"},    {1e20, "100000000000000000000"},
      {123456789012345680000.0, "123456789012345680000"},
      {-2.5e-10, "-2.5e-10"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
      {0.1 + 0.2, "0.30000000000000004"},
      {std::nan(""), "NaN"}, {HUGE_VAL, "+Inf"}, {-HUGE_VAL, "-Inf"},
  };
  for (const auto& c : cases) EXPECT_EQ(FormatSampleValue(c.v), c.want) << c.want;
}

TEST(FormatTimestamp, MillisecondsAsSeconds) {
  EXPECT_EQ(FormatTimestamp(4000), "4");
  EXPECT_EQ(FormatTimestamp(1710497700000), "1710497700");
  EXPECT_EQ(FormatTimestamp(1710497700005), "1710497700.005");
  EXPECT_EQ(FormatTimestamp(1710497700050), "1710497700.050");
  EXPECT_EQ(FormatTimestamp(1710497700500), "1710497700.500");
  EXPECT_EQ(FormatTimestamp(-1500), "-1.500");
  EXPECT_EQ(FormatTimestamp(0), "0");
}

TEST(ParseDurationParamMs, FloatSecondsOrDuration) {
  EXPECT_EQ(*ParseDurationParamMs("15"), 15000);
  EXPECT_EQ(*ParseDurationParamMs("0.5"), 500);
  EXPECT_EQ(*ParseDurationParamMs("0.29"), 290);
  EXPECT_EQ(*ParseDurationParamMs("1m30s"), 90000);
  EXPECT_EQ(*ParseDurationParamMs("1d"), 86400000);
  EXPECT_FALSE(ParseDurationParamMs("").ok());
  EXPECT_FALSE(ParseDurationParamMs("abc").ok());
  EXPECT_FALSE(ParseDurationParamMs("1e30").ok());
}

TEST(Params, BodyWinsOverQuery) {
  Params p = Params::Parse("time=1&match[]=a");
  p.Merge(Params::Parse("time=2&match[]=b"));
  EXPECT_EQ(p.Get("time"), "2");
  EXPECT_EQ(p.GetAll("match[]"), (std::vector<std::string>{"b", "a"}));
}

TEST(RenderQueryData, Shapes) {
  promql::Vector vec;
  vec.push_back({model::Labels{{"__name__", "up"}, {"job", "a\"b"}}, 1500, 1});
  vec.push_back({model::Labels{{"__name__", "up"}, {"job", "c"}}, 1500, 0.5});
  bool truncated = false;
  EXPECT_EQ(RenderQueryData(promql::Value(vec), 0, &truncated),
            R"({"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1.500,"1"]},)"
            R"({"metric":{"__name__":"up","job":"c"},"value":[1.500,"0.5"]}]})");
  EXPECT_FALSE(truncated);
  EXPECT_EQ(RenderQueryData(promql::Value(vec), 1, &truncated).find("\"c\""), std::string::npos);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(RenderQueryData(promql::Value(promql::Scalar{4000, 2}), 0, nullptr),
            R"({"resultType":"scalar","result":[4,"2"]})");
  EXPECT_EQ(RenderQueryData(promql::Value(promql::String{0, "x"}), 0, nullptr),
            R"({"resultType":"string","result":[0,"x"]})");
  promql::Matrix m;
  m.push_back({model::Labels{}, {{0, 1}, {60000, 2}}});
  EXPECT_EQ(RenderQueryData(promql::Value(m), 0, nullptr),
            R"({"resultType":"matrix","result":[{"metric":{},"values":[[0,"1"],[60,"2"]]}]})");
}

// Matrix points take a faster path than FormatTimestamp / FormatSampleValue: the same text.
TEST(RenderQueryData, MatrixPointsFormatAsSingleValues) {
  std::mt19937_64 rng(7);
  promql::Matrix m(1);
  std::string want = R"({"resultType":"matrix","result":[{"metric":{},"values":[)";
  for (int i = 0; i < 20000; ++i) {
    double v;
    switch (i % 4) {
      case 0: {
        uint64_t bits = rng();
        std::memcpy(&v, &bits, sizeof v);  // any double: NaN, Inf, tiny, huge
        break;
      }
      case 1: v = std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 120) - 80); break;
      case 2: v = static_cast<double>(rng() % 100000000) / std::pow(10, rng() % 12); break;
      default: v = -static_cast<double>(rng() % 1000) * 1e13; break;  // around 2^53
    }
    int64_t t = static_cast<int64_t>(rng() % 4000000000000ull) - 1000000000000;
    m[0].points.push_back({t, v});
    if (i > 0) want += ',';
    want += "[" + FormatTimestamp(t) + ",\"" + FormatSampleValue(v) + "\"]";
  }
  want += "]}]}";
  EXPECT_EQ(RenderQueryData(promql::Value(m), 0, nullptr), want);
}

// Large matrices are encoded in two halves on two threads: the same text as one by one.
TEST(RenderQueryData, LargeMatrixSameAsSeriesBySeries) {
  promql::Matrix m;
  const std::string head = R"({"resultType":"matrix","result":[)";
  std::string want = head;
  for (int s = 0; s < 7; ++s) {
    promql::Series series;
    series.metric = model::Labels{{"__name__", "m"}, {"i", std::to_string(s)}};
    for (int i = 0; i < 9000 + s * 1000; ++i) series.points.push_back({i * 15000 + s, i * 0.25 - s});
    promql::Matrix one{series};
    std::string r = RenderQueryData(promql::Value(one), 0, nullptr);
    // {"resultType":"matrix","result":[ ... ]}: keep the series object.
    std::string obj = r.substr(head.size(), r.size() - head.size() - 2);
    want += (s > 0 ? "," : "") + obj;
    m.push_back(std::move(series));
  }
  want += "]}";
  EXPECT_EQ(RenderQueryData(promql::Value(m), 0, nullptr), want);
  bool truncated = false;
  EXPECT_EQ(RenderQueryData(promql::Value(m), 2, &truncated).find(R"("i":"2")"), std::string::npos);
  EXPECT_TRUE(truncated);
}

}  // namespace
}  // namespace collector::api
