#include "collector/tsdb/chunkenc/block.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "collector/tsdb/chunkenc/varint.h"
#include "collector/tsdb/chunkenc/xor.h"
#include "common/zlib/deflate.h"

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
  if (!common::zlib::DeflateRaw(payload, level, out).ok()) {
    // Only on allocation failure inside zlib; store level 0 cannot fail the same way twice.
    out.resize(2);
    PutUvarint(out, n);
    (void)common::zlib::DeflateRaw(payload, 0, out);
  }
  return out;
}

// Parses the header; `in` is left at the compressed payload.
bool Header(std::string_view& in, uint8_t& format, uint64_t& n) {
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != kBlockMagic) return false;
  format = static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  if (format != kFormatXor && format != kFormatDecimal && format != kFormatGroup) return false;
  if (!GetUvarint(in, n) || n > kMaxBlockSamples) return false;
  return true;
}


// Decodes a kFormatXor or kFormatDecimal payload of `n` samples, appending to `out`; on error
// `out` is left as it was.
common::Status DecodePayload(std::string_view payload, uint8_t format, uint64_t n,
                             std::vector<Sample>& out) {
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
  if (format == kFormatGroup) return common::Status::Corruption("block: a group block (use GroupView)");
  // Upper bounds of the payload: decimal: two varints (<= 10 bytes each) per sample + k; XOR:
  // <= 20 bytes per sample plus 2 count bytes and a 3-byte length per chunk.
  size_t limit = format == kFormatDecimal ? n * 20 + 1 : n * 20 + (n / kSamplesPerChunk + 1) * 5;
  std::string payload;
  common::Status s = common::zlib::InflateRaw(block, limit, payload);
  if (!s.ok()) return s;
  return DecodePayload(payload, format, n, out);
}

std::string EncodeGroup(std::span<const GroupMember> members, int level) {
  std::string p;
  uint64_t total = 0;
  PutUvarint(p, members.size());
  std::string section;
  for (const GroupMember& m : members) {
    total += m.samples.size();
    section.clear();
    int k = DecimalDigits(m.samples);
    section += static_cast<char>(k >= 0 ? kFormatDecimal : kFormatXor);
    PutUvarint(section, m.samples.size());
    section += k >= 0 ? DecimalPayload(m.samples, k) : XorPayload(m.samples);
    PutUvarint(p, m.ref);
    PutUvarint(p, section.size());
    p += section;
  }
  return Wrap(kFormatGroup, total, p, level);
}

common::Status GroupView::Parse(std::string_view block) {
  uint8_t format;
  uint64_t n;
  dir_.clear();
  payload_.clear();
  if (!Header(block, format, n) || format != kFormatGroup) {
    return common::Status::Corruption("group block: bad header");
  }
  // Per sample at most 20 bytes; per member at most 10 + 10 + 1 + 10 bytes of framing.
  size_t limit = n * 20 + block.size() * 64 + 1024;
  LOOKOUT_RETURN_IF_ERROR(common::zlib::InflateRaw(block, limit, payload_));
  std::string_view p = payload_;
  uint64_t members;
  if (!GetUvarint(p, members) || members > p.size()) {
    return common::Status::Corruption("group block: bad member count");
  }
  for (uint64_t i = 0; i < members; ++i) {
    uint64_t ref, len;
    if (!GetUvarint(p, ref) || !GetUvarint(p, len) || len > p.size() || len < 2) {
      return common::Status::Corruption("group block: bad member entry");
    }
    dir_.push_back(Entry{ref, static_cast<size_t>(p.data() - payload_.data()), static_cast<size_t>(len)});
    p.remove_prefix(len);
  }
  if (!p.empty()) return common::Status::Corruption("group block: trailing bytes");
  std::sort(dir_.begin(), dir_.end(), [](const Entry& a, const Entry& b) { return a.ref < b.ref; });
  return common::Status::Ok();
}

common::Result<bool> GroupView::Decode(uint64_t ref, std::vector<Sample>& out) const {
  auto it = std::lower_bound(dir_.begin(), dir_.end(), ref,
                             [](const Entry& e, uint64_t r) { return e.ref < r; });
  if (it == dir_.end() || it->ref != ref) return false;
  std::string_view sec(payload_.data() + it->offset, it->len);
  uint8_t format = static_cast<uint8_t>(sec[0]);
  sec.remove_prefix(1);
  uint64_t n;
  if ((format != kFormatXor && format != kFormatDecimal) || !GetUvarint(sec, n) ||
      n > kMaxBlockSamples) {
    return common::Status::Corruption("group block: bad section header");
  }
  LOOKOUT_RETURN_IF_ERROR(DecodePayload(sec, format, n, out));
  return true;
}

std::vector<uint64_t> GroupView::Refs() const {
  std::vector<uint64_t> v;
  v.reserve(dir_.size());
  for (const Entry& e : dir_) v.push_back(e.ref);
  return v;
}

}  // namespace collector::tsdb::chunkenc
