#include "collector/tsdb/chunkenc/xor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "collector/storage/storage.h"

namespace collector::tsdb::chunkenc {
namespace {

struct S {
  int64_t t;
  double v;
};

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

void RoundTrip(const std::vector<S>& in) {
  XorAppender app;
  for (const auto& s : in) app.Append(s.t, s.v);
  EXPECT_EQ(app.NumSamples(), static_cast<int>(in.size()));
  XorIterator it(app.Bytes());
  size_t i = 0;
  while (it.Next()) {
    ASSERT_LT(i, in.size());
    EXPECT_EQ(it.t(), in[i].t) << "sample " << i;
    EXPECT_EQ(Bits(it.v()), Bits(in[i].v)) << "sample " << i;  // bit-exact, NaNs included
    ++i;
  }
  EXPECT_TRUE(it.status().ok()) << it.status().ToString();
  EXPECT_EQ(i, in.size());
}

TEST(Xor, RandomValuesAndIrregularTimestamps) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    std::vector<S> in;
    int64_t t = static_cast<int64_t>(rng() % 2000000000000ll) - 1000000000000ll;
    for (int i = 0; i < kSamplesPerChunk; ++i) {
      // Gaps from 0 ms to beyond the 20-bit delta-of-delta range.
      static const int64_t kGaps[] = {1, 15000, 15001, 14999, 8191, 65536, 524288, 1ll << 40};
      t += kGaps[rng() % 8] + static_cast<int64_t>(rng() % 3);
      double v;
      std::memcpy(&v, &(const uint64_t&)rng(), sizeof v);
      if (rng() % 4 == 0) v = static_cast<double>(rng() % 1000);
      in.push_back({t, v});
    }
    RoundTrip(in);
  }
}

TEST(Xor, ConstantCounterAndSpecialValues) {
  std::vector<S> constant, counter, special;
  double c = 0;
  for (int i = 0; i < kSamplesPerChunk; ++i) {
    int64_t t = 1700000000000 + i * 15000;
    constant.push_back({t, 42.0});
    c += 1234.5 + (i % 7);
    counter.push_back({t, c});
    double specials[] = {std::nan(""), storage::StaleNaN(), -0.0, 0.0, INFINITY, -INFINITY,
                         1e-310, 1.7976931348623157e308};
    special.push_back({t, specials[i % 8]});
  }
  RoundTrip(constant);
  RoundTrip(counter);
  RoundTrip(special);
  RoundTrip({});
  RoundTrip({{5, 1.0}});
  RoundTrip({{-5, 1.0}, {-4, 2.0}});
  // A regular 15 s constant series costs about 2 bits per sample after the first.
  XorAppender app;
  for (const auto& s : constant) app.Append(s.t, s.v);
  EXPECT_LT(app.Bytes().size(), 50u);
}

TEST(Xor, StaleMarkerSurvives) {
  XorAppender app;
  app.Append(1000, 1.0);
  app.Append(2000, storage::StaleNaN());
  app.Append(3000, 2.0);
  XorIterator it(app.Bytes());
  ASSERT_TRUE(it.Next());
  ASSERT_TRUE(it.Next());
  EXPECT_TRUE(storage::IsStaleNaN(it.v()));
  ASSERT_TRUE(it.Next());
  EXPECT_EQ(it.v(), 2.0);
}

TEST(Xor, TruncatedChunksReportCorruptionNeverCrash) {
  XorAppender app;
  for (int i = 0; i < 100; ++i) app.Append(i * 1000 + (i % 3), i * 1.5);
  std::string full = app.Bytes();
  for (size_t cut = 0; cut < full.size(); ++cut) {
    XorIterator it(std::string_view(full).substr(0, cut));
    int n = 0;
    while (it.Next()) ++n;
    EXPECT_LT(n, 100);
    EXPECT_FALSE(it.status().ok()) << "cut at " << cut;
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string junk(rng() % 64, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    XorIterator it(junk);
    int n = 0;
    while (it.Next() && n < 100000) ++n;
  }
}

}  // namespace
}  // namespace collector::tsdb::chunkenc
