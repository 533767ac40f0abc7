#include "collector/tsdb/chunkenc/block.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "collector/tsdb/chunkenc/xor.h"

namespace collector::tsdb::chunkenc {
namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}
double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}
// Prometheus' stale marker.
const double kStale = FromBits(0x7ff0000000000002ull);

void ExpectRoundTrip(const std::vector<Sample>& in, int want_format = -1) {
  for (int f : {-1, int{kFormatXor}, int{kFormatDecimal}}) {
    std::string b = f < 0 ? EncodeBlock(in) : EncodeBlockAs(in, static_cast<uint8_t>(f));
    ASSERT_TRUE(IsBlock(b));
    if (f < 0 && want_format >= 0) {
      EXPECT_EQ(BlockFormat(b), want_format);
    }
    auto n = BlockNumSamples(b);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, in.size());
    std::vector<Sample> out = {{-5, 1.0}};  // Decode appends
    auto s = DecodeBlock(b, out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(out.size(), in.size() + 1);
    for (size_t i = 0; i < in.size(); ++i) {
      ASSERT_EQ(out[i + 1].t, in[i].t) << i;
      ASSERT_EQ(Bits(out[i + 1].v), Bits(in[i].v)) << i << " " << in[i].v;
    }
    // Re-encoded as XOR chunks for the querier.
    auto chunks = ToXorChunks(in);
    size_t i = 0;
    for (const auto& c : chunks) {
      XorIterator it(c);
      EXPECT_LE(it.NumSamples(), kSamplesPerChunk);
      while (it.Next()) {
        ASSERT_LT(i, in.size());
        EXPECT_EQ(it.t(), in[i].t);
        EXPECT_EQ(Bits(it.v()), Bits(in[i].v));
        ++i;
      }
      EXPECT_TRUE(it.status().ok());
    }
    EXPECT_EQ(i, in.size());
  }
}

std::vector<Sample> Scrape(size_t n, std::mt19937_64& rng, bool jitter) {
  std::vector<Sample> s;
  int64_t t = 1700000000000;
  for (size_t i = 0; i < n; ++i) {
    t += 15000 + (jitter ? static_cast<int64_t>(rng() % 7) - 3 : 0);
    s.push_back({t, 0});
  }
  return s;
}

TEST(Block, Empty) { ExpectRoundTrip({}); }

TEST(Block, RandomValuesUseXor) {
  std::mt19937_64 rng(1);
  for (size_t n : {1u, 2u, 3u, 119u, 120u, 121u, 1000u}) {
    auto s = Scrape(n, rng, true);
    for (auto& x : s) x.v = FromBits(rng());
    ExpectRoundTrip(s);
    std::uniform_real_distribution<double> u(-1e6, 1e6);
    for (auto& x : s) x.v = u(rng);
    ExpectRoundTrip(s, n > 3 ? kFormatXor : -1);
  }
}

TEST(Block, ConstantCounterAndDecimalGauge) {
  std::mt19937_64 rng(2);
  auto s = Scrape(960, rng, true);
  for (auto& x : s) x.v = 42;
  ExpectRoundTrip(s, kFormatDecimal);
  double c = 123456789;
  for (auto& x : s) x.v = c += static_cast<double>(rng() % 5000);
  ExpectRoundTrip(s, kFormatDecimal);
  double secs = 8123.45;
  for (auto& x : s) x.v = (secs += static_cast<double>(rng() % 1500) / 100);
  // Accumulated sums are not exact decimals; round them as node_exporter's text output would.
  for (auto& x : s) x.v = std::round(x.v * 100) / 100;
  ExpectRoundTrip(s, kFormatDecimal);
  for (auto& x : s) x.v = static_cast<double>(static_cast<int64_t>(rng() % 400) - 200) / 1000;
  ExpectRoundTrip(s, kFormatDecimal);
  // Small decimals: the decimal format beats XOR and EncodeBlock picks it.
  std::string b = EncodeBlock(s);
  EXPECT_EQ(BlockFormat(b), kFormatDecimal);
  EXPECT_LT(b.size(), EncodeBlockAs(s, kFormatXor).size());
  // Large integers (bytes counters) and negative zero.
  for (auto& x : s) x.v = static_cast<double>(rng() % (1ull << 52));
  ExpectRoundTrip(s, kFormatDecimal);
  s[5].v = -0.0;
  ExpectRoundTrip(s);
  s[5].v = 1e300;
  ExpectRoundTrip(s, kFormatXor);
}

TEST(Block, NaNStaleMarkersAndInfinitiesAreBitExact) {
  std::mt19937_64 rng(3);
  auto s = Scrape(300, rng, false);
  for (auto& x : s) x.v = static_cast<double>(rng() % 100);
  s[10].v = kStale;
  s[11].v = std::numeric_limits<double>::quiet_NaN();
  s[12].v = FromBits(0xfff8000000000123ull);
  s[13].v = std::numeric_limits<double>::infinity();
  s[14].v = -std::numeric_limits<double>::infinity();
  s[15].v = std::numeric_limits<double>::denorm_min();
  ExpectRoundTrip(s, kFormatXor);
}

TEST(Block, ExtremeTimestamps) {
  std::vector<Sample> s = {{std::numeric_limits<int64_t>::min() / 2, 1},
                           {-1, 2},
                           {0, 3},
                           {1, 4},
                           {std::numeric_limits<int64_t>::max() / 2, 5}};
  ExpectRoundTrip(s, kFormatDecimal);
}

TEST(Block, PlainXorChunksAreNotBlocks) {
  XorAppender a;
  for (int i = 0; i < kSamplesPerChunk; ++i) a.Append(i, i);
  EXPECT_FALSE(IsBlock(a.Bytes()));
  EXPECT_FALSE(IsBlock(""));
}

TEST(Block, TruncatedAndCorruptInputIsRejected) {
  std::mt19937_64 rng(4);
  auto s = Scrape(500, rng, true);
  for (auto& x : s) x.v = static_cast<double>(rng() % 1000) / 10;
  for (int f : {int{kFormatXor}, int{kFormatDecimal}}) {
    std::string b = EncodeBlockAs(s, static_cast<uint8_t>(f));
    ASSERT_EQ(BlockFormat(b), f);
    std::vector<Sample> out;
    for (size_t len = 0; len < b.size(); ++len) {
      out.clear();
      EXPECT_FALSE(DecodeBlock(std::string_view(b).substr(0, len), out).ok()) << len;
      EXPECT_TRUE(out.empty());
    }
    out.clear();
    EXPECT_FALSE(DecodeBlock(b + "x", out).ok());
    // Random corruption: must not crash; whatever decodes has increasing timestamps.
    for (int i = 0; i < 3000; ++i) {
      std::string c = b;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int j = 0; j < flips; ++j) c[rng() % c.size()] ^= static_cast<char>(1 << (rng() % 8));
      out.clear();
      if (DecodeBlock(c, out).ok()) {
        for (size_t k = 1; k < out.size(); ++k) ASSERT_LT(out[k - 1].t, out[k].t);
      } else {
        EXPECT_TRUE(out.empty());
      }
    }
    // A header claiming far more samples than the payload holds.
    std::string lie = b.substr(0, 2) + std::string("\xff\xff\xff\x0f", 4);
    out.clear();
    EXPECT_FALSE(DecodeBlock(lie + b.substr(4), out).ok());
    EXPECT_FALSE(BlockNumSamples(lie).ok());  // above kMaxBlockSamples
  }
  std::vector<Sample> out;
  EXPECT_FALSE(DecodeBlock(std::string("\xff\x07\x01", 3), out).ok());  // unknown format
  EXPECT_FALSE(DecodeBlock(std::string("\x00\x01", 2), out).ok());      // not a block
  // Random garbage after a valid header.
  for (int i = 0; i < 2000; ++i) {
    std::string g = std::string("\xff") + static_cast<char>(rng() % 2) + static_cast<char>(rng() % 128);
    size_t len = rng() % 64;
    for (size_t j = 0; j < len; ++j) g += static_cast<char>(rng());
    out.clear();
    (void)DecodeBlock(g, out);
  }
}

TEST(Block, GroupRoundTripAndLookup) {
  std::mt19937_64 rng(7);
  std::vector<std::vector<Sample>> series(5);
  for (size_t k = 0; k < series.size(); ++k) {
    int64_t t = 1'700'000'000'000 + static_cast<int64_t>(k);
    for (int i = 0; i < 200 + static_cast<int>(k) * 10; ++i) {
      t += 15000 + static_cast<int64_t>(rng() % 3);
      double v = k == 0 ? static_cast<double>(i)                                  // counter
                 : k == 1 ? FromBits(rng() & 0x7fefffffffffffffull)              // random floats
                 : k == 2 ? static_cast<double>(rng() % 1000) / 100              // decimals
                 : k == 3 ? (i % 17 == 0 ? kStale : 1.5)                          // stale markers
                          : -0.0;
      series[k].push_back(Sample{t, v});
    }
  }
  std::vector<GroupMember> members;
  for (size_t k = 0; k < series.size(); ++k) members.push_back({100 - k * 7, series[k]});
  std::string b = EncodeGroup(members);
  EXPECT_TRUE(IsBlock(b));
  EXPECT_EQ(BlockFormat(b), kFormatGroup);
  size_t total = 0;
  for (const auto& s : series) total += s.size();
  ASSERT_TRUE(BlockNumSamples(b).ok());
  EXPECT_EQ(*BlockNumSamples(b), total);
  std::vector<Sample> out;
  EXPECT_FALSE(DecodeBlock(b, out).ok());  // a group needs GroupView
  GroupView view;
  ASSERT_TRUE(view.Parse(b).ok());
  EXPECT_EQ(view.size(), series.size());
  for (size_t k = 0; k < series.size(); ++k) {
    out.clear();
    auto found = view.Decode(100 - k * 7, out);
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(*found);
    ASSERT_EQ(out.size(), series[k].size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].t, series[k][i].t);
      EXPECT_EQ(Bits(out[i].v), Bits(series[k][i].v));
    }
  }
  out.clear();
  auto missing = view.Decode(99, out);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  // Corruption never crashes and is reported.
  for (int i = 0; i < 2000; ++i) {
    std::string c = b;
    c[rng() % c.size()] ^= static_cast<char>(1 << (rng() % 8));
    GroupView v2;
    if (!v2.Parse(c).ok()) continue;
    for (uint64_t ref : v2.Refs()) {
      out.clear();
      (void)v2.Decode(ref, out);
    }
  }
  GroupView bad;
  EXPECT_FALSE(bad.Parse(b.substr(0, b.size() / 2)).ok());
  EXPECT_FALSE(bad.Parse(EncodeBlock(series[0])).ok());  // not a group
}

TEST(Block, DecompressionBombIsRefused) {
  // A valid deflate stream of 200000 samples' payload under a header of 2 samples.
  std::vector<Sample> big;
  for (int i = 0; i < 200000; ++i) big.push_back({i, 0});
  std::string bb = EncodeBlockAs(big, kFormatDecimal);
  // Swap the header count of the big block for 2.
  std::string bomb = bb.substr(0, 2) + std::string("\x02", 1);
  size_t p = 2;
  while (static_cast<uint8_t>(bb[p]) & 0x80) ++p;
  bomb += bb.substr(p + 1);
  std::vector<Sample> out;
  auto st = DecodeBlock(bomb, out);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace collector::tsdb::chunkenc
