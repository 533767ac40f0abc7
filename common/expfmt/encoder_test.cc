#include "common/expfmt/encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace common::expfmt {
namespace {

std::string F(double v) {
  std::string s;
  AppendFloat(s, v);
  return s;
}

TEST(AppendFloat, MatchesGoClientFormatting) {
  // Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints, with
  // client_golang's special cases.
  struct Case {
    double v;
    const char* want;
  } cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-1, "-1"},
      {2, "2"},
      {0.5, "0.5"},
      {1.305e-06, "1.305e-06"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {329204, "329204"},
      {999999, "999999"},
      {1000000, "1e+06"},
      {1150976, "1.150976e+06"},
      {2.189426688e+10, "2.189426688e+10"},
      {7.99998e+08, "7.99998e+08"},
      {123.456, "123.456"},
      {1e21, "1e+21"},
      {1e100, "1e+100"},
      {-3.5e-300, "-3.5e-300"},
      {18446744073709551615.0, "1.8446744073709552e+19"},
      {0.1 + 0.2, "0.30000000000000004"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const auto& c : cases) EXPECT_EQ(F(c.v), c.want) << c.want;
}

TEST(Escaping, LabelValuesAndHelp) {
  std::string s;
  AppendLabelValue(s, "a\\b\"c\nd");
  EXPECT_EQ(s, "a\\\\b\\\"c\\nd");
  s.clear();
  AppendHelp(s, "m", "x\\y\nz \"q\"");
  EXPECT_EQ(s, "# HELP m x\\\\y\\nz \"q\"\n");
  s.clear();
  AppendType(s, "m", MetricType::kCounter);
  EXPECT_EQ(s, "# TYPE m counter\n");
}

}  // namespace
}  // namespace common::expfmt
