#include "collector/tsdb/chunkenc/block.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "collector/tsdb/chunkenc/varint.h"
#include "collector/tsdb/chunkenc/xor.h"

namespace collector::tsdb::chunkenc {

namespace {

uint64_t Zig(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t Unzig(uint64_t u) { return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1); }
// Wrapping arithmetic on int64 (no signed overflow UB on corrupt input).
int64_t Sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
static_assert(sizeof kPow10 / sizeof kPow10[0] == kMaxDecimalDigits + 1);
constexpr double kMaxMantissa = 9007199254740992.0;  // 2^53: every such integer is a double

// True when v == m / 10^k bit for bit for an integer m with |m| < 2^53.
bool Decimal(double v, int k, int64_t& m) {
  double s = v * kPow10[k];
  if (!(std::fabs(s) < kMaxMantissa)) return false;  // also NaN, inf
  m = std::llround(s);
  return Bits(static_cast<double>(m) / kPow10[k]) == Bits(v);
}

// The smallest k for which every value is a decimal; -1 when there is none.
int DecimalDigits(std::span<const Sample> samples) {
  int k = 0;
  int64_t m;
  for (const Sample& s : samples) {
    while (!Decimal(s.v, k, m)) {
      if (++k > kMaxDecimalDigits) return -1;
    }
  }
  return k;
}

bool Deflate(std::string_view in, int level, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  size_t start = out.size();
  out.resize(start + deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  zs.avail_out = static_cast<uInt>(out.size() - start);
  int r = deflate(&zs, Z_FINISH);
  out.resize(start + zs.total_out);
  deflateEnd(&zs);
  return r == Z_STREAM_END;
}

// Inflates a complete raw DEFLATE stream of at most `limit` bytes that must end exactly at the
// end of `in`. The buffer grows as output appears, so a lying header costs no memory.
common::Status Inflate(std::string_view in, size_t limit, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) return common::Status::Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out.resize(std::min(limit + 1, in.size() * 4 + 256));
  size_t produced = 0;
  int r = Z_OK;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    r = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (r == Z_STREAM_END || (r != Z_OK && r != Z_BUF_ERROR)) break;
    if (zs.avail_out > 0) break;  // input exhausted before the end of the stream
    if (out.size() > limit) break;
    out.resize(std::min(limit + 1, out.size() * 2));
  }
  size_t left_in = zs.avail_in;
  inflateEnd(&zs);
  if (produced > limit) return common::Status::Corruption("block: payload larger than its sample count allows");
  if (r != Z_STREAM_END) return common::Status::Corruption("block: bad or truncated deflate stream");
  if (left_in != 0) return common::Status::Corruption("block: trailing bytes");
  out.resize(produced);
  return common::Status::Ok();
}

std::string XorPayload(std::span<const Sample> samples) {
  std::string p;
  for (const std::string& c : ToXorChunks(samples)) {
    PutUvarint(p, c.size());
    p += c;
  }
  return p;
}

std::string DecimalPayload(std::span<const Sample> samples, int k) {
  std::string p;
  p.reserve(samples.size() * 3 + 16);
  int64_t prev_t = 0, prev_d = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    int64_t t = samples[i].t;
    if (i == 0) {
      PutUvarint(p, Zig(t));
    } else {
      int64_t d = Sub(t, prev_t);
      PutUvarint(p, Zig(i == 1 ? d : Sub(d, prev_d)));
      prev_d = d;
    }
    prev_t = t;
  }
  p += static_cast<char>(k);
  int64_t prev_m = 0;
  for (const Sample& s : samples) {
    int64_t m = 0;
    Decimal(s.v, k, m);
    PutUvarint(p, Zig(Sub(m, prev_m)));
    prev_m = m;
  }
  return p;
}

std::string Wrap(uint8_t format, size_t n, std::string_view payload, int level) {
  std::string out;
  out += static_cast<char>(kBlockMagic);
  out += static_cast<char>(format);
  PutUvarint(out, n);
  if (!Deflate(payload, level, out)) {
    // Only on allocation failure inside zlib; store level 0 cannot fail the same way twice.
    out.resize(2);
    PutUvarint(out, n);
    Deflate(payload, 0, out);
  }
  return out;
}

// Parses the header; `in` is left at the compressed payload.
bool Header(std::string_view& in, uint8_t& format, uint64_t& n) {
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != kBlockMagic) return false;
  format = static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  if (format != kFormatXor && format != kFormatDecimal) return false;
  if (!GetUvarint(in, n) || n > kMaxBlockSamples) return false;
  return true;
}

}  // namespace

std::vector<std::string> ToXorChunks(std::span<const Sample> samples) {
  std::vector<std::string> out;
  XorAppender app;
  for (const Sample& s : samples) {
    if (app.NumSamples() >= kSamplesPerChunk) {
      out.push_back(app.Bytes());
      app.Reset();
    }
    app.Append(s.t, s.v);
  }
  if (app.NumSamples() > 0) out.push_back(app.Bytes());
  return out;
}

std::string EncodeBlockAs(std::span<const Sample> samples, uint8_t format, int level) {
  if (format == kFormatDecimal) {
    int k = DecimalDigits(samples);
    if (k >= 0) return Wrap(kFormatDecimal, samples.size(), DecimalPayload(samples, k), level);
  }
  return Wrap(kFormatXor, samples.size(), XorPayload(samples), level);
}

std::string EncodeBlock(std::span<const Sample> samples, int level) {
  std::string x = Wrap(kFormatXor, samples.size(), XorPayload(samples), level);
  int k = DecimalDigits(samples);
  if (k < 0) return x;
  std::string d = Wrap(kFormatDecimal, samples.size(), DecimalPayload(samples, k), level);
  return d.size() <= x.size() ? d : x;
}

common::Result<uint64_t> BlockNumSamples(std::string_view block) {
  uint8_t format;
  uint64_t n;
  if (!Header(block, format, n)) return common::Status::Corruption("block: bad header");
  return n;
}

int BlockFormat(std::string_view block) {
  uint8_t format;
  uint64_t n;
  if (!Header(block, format, n)) return -1;
  return format;
}

common::Status DecodeBlock(std::string_view block, std::vector<Sample>& out) {
  uint8_t format;
  uint64_t n;
  if (!Header(block, format, n)) return common::Status::Corruption("block: bad header");
  // Upper bounds of the payload: decimal: two varints (<= 10 bytes each) per sample + k; XOR:
  // <= 20 bytes per sample plus 2 count bytes and a 3-byte length per chunk.
  size_t limit = format == kFormatDecimal ? n * 20 + 1 : n * 20 + (n / kSamplesPerChunk + 1) * 5;
  std::string payload;
  common::Status s = Inflate(block, limit, payload);
  if (!s.ok()) return s;
  std::string_view p = payload;
  size_t base = out.size();
  out.reserve(base + std::min<size_t>(n, payload.size() * 8));
  auto fail = [&](std::string_view why) {
    out.resize(base);
    return common::Status::Corruption("block: " + std::string(why));
  };
  if (format == kFormatXor) {
    while (!p.empty()) {
      uint64_t len;
      if (!GetUvarint(p, len) || len > p.size()) return fail("bad chunk length");
      XorIterator it(p.substr(0, len));
      p.remove_prefix(len);
      while (it.Next()) {
        if (out.size() - base >= n) return fail("more samples than the header says");
        out.push_back(Sample{it.t(), it.v()});
      }
      if (!it.status().ok()) return fail(it.status().ToString());
    }
  } else {
    int64_t t = 0, d = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t u;
      if (!GetUvarint(p, u)) return fail("truncated timestamps");
      int64_t z = Unzig(u);
      if (i == 0) {
        t = z;
      } else {
        d = i == 1 ? z : Add(d, z);
        t = Add(t, d);
      }
      out.push_back(Sample{t, 0});
    }
    if (p.empty()) return fail("missing decimal digits");
    int k = static_cast<uint8_t>(p[0]);
    p.remove_prefix(1);
    if (k > kMaxDecimalDigits) return fail("bad decimal digits");
    int64_t m = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t u;
      if (!GetUvarint(p, u)) return fail("truncated values");
      m = Add(m, Unzig(u));
      out[base + i].v = static_cast<double>(m) / kPow10[k];
    }
    if (!p.empty()) return fail("trailing payload bytes");
  }
  if (out.size() - base != n) return fail("fewer samples than the header says");
  for (size_t i = base + 1; i < out.size(); ++i) {
    if (out[i].t <= out[i - 1].t) return fail("timestamps not increasing");
  }
  return common::Status::Ok();
}

}  // namespace collector::tsdb::chunkenc
