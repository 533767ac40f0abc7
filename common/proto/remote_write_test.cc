#include "common/proto/remote_write.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "common/snappy/snappy.h"
#include "remote.pb.h"

namespace common::proto {
namespace {

std::string Unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Copies a view request into owning structs for comparisons.
RwRequest Own(const RwRequestView& v) {
  RwRequest r;
  for (const auto& s : v) {
    RwSeries o;
    for (const auto& [n, val] : s.labels) o.labels.emplace_back(std::string(n), std::string(val));
    o.samples = s.samples;
    r.series.push_back(std::move(o));
  }
  return r;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

::testing::AssertionResult Equal(const RwRequest& a, const RwRequest& b) {
  if (a.series.size() != b.series.size()) {
    return ::testing::AssertionFailure() << "series " << a.series.size() << " vs " << b.series.size();
  }
  for (size_t i = 0; i < a.series.size(); ++i) {
    const auto& x = a.series[i];
    const auto& y = b.series[i];
    if (x.labels != y.labels) return ::testing::AssertionFailure() << "labels differ in series " << i;
    if (x.samples.size() != y.samples.size()) {
      return ::testing::AssertionFailure() << "sample count differs in series " << i;
    }
    for (size_t k = 0; k < x.samples.size(); ++k) {
      if (!SameBits(x.samples[k].value, y.samples[k].value) ||
          x.samples[k].timestamp_ms != y.samples[k].timestamp_ms) {
        return ::testing::AssertionFailure() << "sample " << k << " differs in series " << i;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// What libprotobuf makes of `raw` (the reference decoder), or false when it rejects it.
bool LibDecode(const std::string& raw, RwRequest& out) {
  prometheus::WriteRequest req;
  if (!req.ParseFromString(raw)) return false;
  out.series.clear();
  for (const auto& ts : req.timeseries()) {
    RwSeries s;
    for (const auto& l : ts.labels()) s.labels.emplace_back(l.name(), l.value());
    for (const auto& smp : ts.samples()) s.samples.push_back({smp.value(), smp.timestamp()});
    out.series.push_back(std::move(s));
  }
  return true;
}

std::string Raw(const RwRequest& r) {
  std::string raw;
  EXPECT_TRUE(snappy::Uncompress(EncodeWriteRequest(r), 1 << 30, raw).ok());
  return raw;
}

TEST(DecodeWriteRequestViews, SpecWorkedExample) {
  std::string raw = Unhex(
      "0a4a0a0e0a085f5f6e616d655f5f120275700a190a08696e7374616e6365120d31302e302e312e353a39313030"
      "0a0b0a036a6f6212046e6f6465121009000000000000f03f1080d095ffbc31");
  ASSERT_EQ(raw.size(), 76u);
  std::string body = Unhex(
      "4cf04b0a4a0a0e0a085f5f6e616d655f5f120275700a190a08696e7374616e6365120d31302e302e312e353a393130"
      "300a0b0a036a6f6212046e6f6465121009000000000000f03f1080d095ffbc31");
  ASSERT_EQ(body.size(), 79u);
  RwRequestView v;
  ASSERT_TRUE(DecodeWriteRequestViews(body, 1 << 20, v).ok());
  ASSERT_EQ(v.size, 1u);
  const auto& s = *v.begin();
  ASSERT_EQ(s.labels.size(), 3u);
  EXPECT_EQ(s.labels[0].first, "__name__");
  EXPECT_EQ(s.labels[0].second, "up");
  EXPECT_EQ(s.labels[1].first, "instance");
  EXPECT_EQ(s.labels[1].second, "10.0.1.5:9100");
  EXPECT_EQ(s.labels[2].first, "job");
  EXPECT_EQ(s.labels[2].second, "node");
  ASSERT_EQ(s.samples.size(), 1u);
  EXPECT_EQ(s.samples[0].value, 1.0);
  EXPECT_EQ(s.samples[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(v.histograms_skipped, 0u);

  // The owning decoder agrees, and the encoder reproduces the example byte for byte.
  RwRequest r;
  ASSERT_TRUE(DecodeWriteRequest(body, 1 << 20, r).ok());
  EXPECT_TRUE(Equal(r, Own(v)));
  EXPECT_EQ(Raw(r), raw);
}

TEST(DecodeWriteRequestViews, SkipsUnknownFieldsOfEveryWireType) {
  // TimeSeries{ label{name:"__name__" value:"a"}, unknown fields 9 of each wire type,
  // histogram (field 4), exemplar (field 3), sample{value: 2, ts: -1, unknown fixed32} }
  // plus an unknown top-level group and metadata (field 3).
  std::string label = Unhex("0a085f5f6e616d655f5f120161");
  std::string sample = Unhex("0900000000000000401001") ;  // value 2.0, ts 1
  sample += Unhex("2d01020304");                        // field 5 fixed32
  std::string ts;
  ts += '\x0a' + std::string(1, static_cast<char>(label.size())) + label;
  ts += Unhex("48ac02");                  // field 9 varint 300
  ts += Unhex("490102030405060708");      // field 9 fixed64
  ts += Unhex("4a03616263");              // field 9 len "abc"
  ts += Unhex("4d01020304");              // field 9 fixed32
  ts += Unhex("4b0801520178" "4c");       // field 9 group { field 1 varint, field 10 len "x" }
  ts += Unhex("2203010203");              // field 4 histogram (opaque)
  ts += Unhex("1a020801");                // field 3 exemplar
  ts += '\x12' + std::string(1, static_cast<char>(sample.size())) + sample;
  std::string raw;
  raw += '\x0a' + std::string(1, static_cast<char>(ts.size())) + ts;
  raw += Unhex("1a0408011200");  // metadata{type:1, metric_family_name:""}
  raw += Unhex("13" "0801" "14");  // top-level group 2
  RwRequestView v;
  ASSERT_TRUE(ParseWriteRequestViews(raw, v).ok());
  ASSERT_EQ(v.size, 1u);
  EXPECT_EQ(v.histograms_skipped, 1u);
  ASSERT_EQ(v.begin()->labels.size(), 1u);
  EXPECT_EQ(v.begin()->labels[0].second, "a");
  ASSERT_EQ(v.begin()->samples.size(), 1u);
  EXPECT_EQ(v.begin()->samples[0].value, 2.0);
  EXPECT_EQ(v.begin()->samples[0].timestamp_ms, 1);
}

TEST(DecodeWriteRequestViews, RejectsMalformedInput) {
  const char* bad[] = {
      "0a",                              // truncated length
      "0a05",                            // length past the end
      "0a8080",                          // truncated varint length
      "10",                              // truncated varint field
      "11010203",                        // truncated fixed64
      "150102",                          // truncated fixed32
      "00",                              // field number 0
      "0e",                              // wire type 6
      "0f",                              // wire type 7
      "2c",                              // stray end group
      "2b",                              // unterminated group
      "2b0801",                          // unterminated group
      "2b34",                            // group ended by another field number
      "0801",                            // timeseries as a varint
      "0a020801",                        // label as a varint
      "0a040a020801",                    // label name as a varint
      "0a0412020801",                    // sample value as a varint
      "0a0b12090a0000000000000000",      // sample value as bytes
      "0a0b1209110000000000000000",      // sample timestamp as fixed64
      "0a03180101",                      // exemplars as a varint
      "0a0d12090900000000000000001001",  // samples as a varint
      "10ffffffffffffffffffff01",        // varint over 10 bytes
      "10ffffffffffffffffff7f",          // varint over 64 bits
      "0a050a030a01ff",                  // invalid UTF-8 in a label name
      "0a060a041202c0af",                // overlong UTF-8 in a label value
  };
  for (const char* h : bad) {
    RwRequestView v;
    Status s = ParseWriteRequestViews(Unhex(h), v);
    EXPECT_FALSE(s.ok()) << h;
    EXPECT_EQ(v.size, 0u) << h;
    if (!s.ok()) {
      EXPECT_TRUE(s.IsInvalidArgument()) << h;
      EXPECT_NE(std::string(s.message()).find("protobuf"), std::string::npos) << h;
    }
  }
  RwRequestView v;
  EXPECT_FALSE(DecodeWriteRequestViews("not snappy", 1 << 20, v).ok());
  Status big = DecodeWriteRequestViews(snappy::Compress(std::string(4096, '\0')), 1024, v);
  EXPECT_TRUE(big.IsResourceExhausted());
}

RwRequest RandomRequest(std::mt19937_64& rng) {
  auto str = [&](size_t max, bool allow_utf8) {
    std::string s;
    size_t n = rng() % (max + 1);
    for (size_t i = 0; i < n; ++i) {
      if (allow_utf8 && rng() % 10 == 0) {
        s += "\xc3\xa9";  // é
      } else {
        s.push_back(static_cast<char>('a' + rng() % 26));
      }
    }
    return s;
  };
  RwRequest r;
  size_t ns = rng() % 20;
  for (size_t i = 0; i < ns; ++i) {
    RwSeries s;
    s.labels.emplace_back("__name__", str(30, false));
    size_t nl = rng() % 8;
    for (size_t k = 0; k < nl; ++k) s.labels.emplace_back(str(12, false), str(40, true));
    size_t nsmp = rng() % 10;
    int64_t t = static_cast<int64_t>(rng() % 2000000000000) - 1000;
    for (size_t k = 0; k < nsmp; ++k) {
      double v;
      switch (rng() % 4) {
        case 0: v = 0; break;
        case 1: v = static_cast<double>(rng() % 1000); break;
        case 2: v = std::nan(""); break;
        default: {
          uint64_t bits = rng();
          std::memcpy(&v, &bits, 8);
        }
      }
      s.samples.push_back({v, t});
      t += static_cast<int64_t>(rng() % 100000) - 10;
    }
    r.series.push_back(std::move(s));
  }
  return r;
}

TEST(DecodeWriteRequestViews, RoundTripsRandomRequests) {
  std::mt19937_64 rng(42);
  RwRequestView v;  // reused across calls, as the server does
  for (int iter = 0; iter < 2000; ++iter) {
    RwRequest in = RandomRequest(rng);
    std::string body = EncodeWriteRequest(in);
    ASSERT_TRUE(DecodeWriteRequestViews(body, 64 << 20, v).ok());
    ASSERT_TRUE(Equal(Own(v), in)) << iter;
    RwRequest owned;
    ASSERT_TRUE(DecodeWriteRequest(body, 64 << 20, owned).ok());
    ASSERT_TRUE(Equal(owned, in)) << iter;
  }
}

TEST(DecodeWriteRequestViews, TruncationsAndMutationsNeverCrashAndAgreeWithLibprotobuf) {
  std::mt19937_64 rng(7);
  RwRequestView v;
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    RwRequest in = RandomRequest(rng);
    std::string raw = Raw(in);
    if (raw.empty()) continue;
    std::string m = raw;
    switch (rng() % 3) {
      case 0:
        m.resize(rng() % raw.size());
        break;
      case 1: {
        size_t flips = 1 + rng() % 4;
        for (size_t k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<char>(rng());
        break;
      }
      default: {
        size_t at = rng() % m.size();
        m.insert(at, 1 + rng() % 3, static_cast<char>(rng()));
      }
    }
    Status s = ParseWriteRequestViews(m, v);
    RwRequest lib;
    bool lib_ok = LibDecode(m, lib);
    if (s.ok()) {
      ++accepted;
      RwRequest mine = Own(v);
      // Decoding is deterministic, and what we accept libprotobuf reads the same way (when it
      // accepts it too: it also parses exemplars and metadata, which we skip).
      RwRequestView again;
      ASSERT_TRUE(ParseWriteRequestViews(m, again).ok());
      ASSERT_TRUE(Equal(Own(again), mine));
      if (lib_ok) {
        ASSERT_TRUE(Equal(mine, lib)) << iter;
      }
      // Re-encoding what we decoded decodes to the same thing.
      std::string reencoded = Raw(mine);  // outlives the views into it
      ASSERT_TRUE(ParseWriteRequestViews(reencoded, again).ok());
      ASSERT_TRUE(Equal(Own(again), mine));
    } else {
      ++rejected;
      EXPECT_TRUE(s.IsInvalidArgument());
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace common::proto
