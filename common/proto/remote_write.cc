#include "common/proto/remote_write.h"

#include <cstring>

#include "common/snappy/snappy.h"
#include "remote.pb.h"

namespace common::proto {
namespace {

// Hand-written protobuf wire-format walker (see shared/specs/remote-write.md, section 2). All
// string_views point into the input buffer.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

constexpr int kMaxGroupDepth = 64;

class Reader {
 public:
  explicit Reader(std::string_view b) : p_(reinterpret_cast<const uint8_t*>(b.data())), end_(p_ + b.size()) {}

  bool done() const { return p_ == end_; }

  bool Varint(uint64_t& v) {
    if (p_ < end_ && *p_ < 0x80) {  // fast path: one byte
      v = *p_++;
      return true;
    }
    uint64_t r = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return false;
      uint8_t b = *p_++;
      if (shift == 63 && b > 1) return false;  // more than 64 bits
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        v = r;
        return true;
      }
    }
    return false;  // more than 10 bytes
  }

  bool Fixed64(uint64_t& v) {
    if (end_ - p_ < 8) return false;
    std::memcpy(&v, p_, 8);  // little-endian hosts only (x86-64, aarch64)
    p_ += 8;
    return true;
  }

  bool Bytes(std::string_view& out) {
    uint64_t n;
    if (!Varint(n)) return false;
    if (n > static_cast<uint64_t>(end_ - p_)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  // Reads a tag: false on a truncated/invalid tag (field number 0, wire types 6 and 7).
  bool Tag(uint32_t& field, uint32_t& wire) {
    uint64_t t;
    if (!Varint(t)) return false;
    if (t > 0xffffffffu) return false;
    field = static_cast<uint32_t>(t >> 3);
    wire = static_cast<uint32_t>(t & 7);
    return field != 0 && wire <= kFixed32;
  }

  // Skips the value of a field with wire type `wire` (the tag is already read).
  bool Skip(uint32_t field, uint32_t wire, int depth = 0) {
    switch (wire) {
      case kVarint: {
        uint64_t v;
        return Varint(v);
      }
      case kFixed64:
        if (end_ - p_ < 8) return false;
        p_ += 8;
        return true;
      case kLen: {
        std::string_view v;
        return Bytes(v);
      }
      case kFixed32:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) return false;
        for (;;) {
          uint32_t f, w;
          if (!Tag(f, w)) return false;
          if (w == kEndGroup) return f == field;
          if (!Skip(f, w, depth + 1)) return false;
        }
      }
      default:  // a stray end-group
        return false;
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Strict UTF-8 (no overlongs, no surrogates, max U+10FFFF), as protobuf requires of proto3
// strings.
bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

bool ParseLabel(std::string_view msg, std::string_view& name, std::string_view& value) {
  name = {};
  value = {};
  Reader r(msg);
  while (!r.done()) {
    uint32_t f, w;
    if (!r.Tag(f, w)) return false;
    if (f == 1 || f == 2) {
      if (w != kLen) return false;
      if (!r.Bytes(f == 1 ? name : value)) return false;
    } else if (!r.Skip(f, w)) {
      return false;
    }
  }
  return ValidUtf8(name) && ValidUtf8(value);
}

bool ParseSample(std::string_view msg, RwSample& out) {
  out = {0, 0};
  Reader r(msg);
  while (!r.done()) {
    uint32_t f, w;
    if (!r.Tag(f, w)) return false;
    if (f == 1) {
      if (w != kFixed64) return false;
      uint64_t bits;
      if (!r.Fixed64(bits)) return false;
      std::memcpy(&out.value, &bits, 8);
    } else if (f == 2) {
      if (w != kVarint) return false;
      uint64_t v;
      if (!r.Varint(v)) return false;
      out.timestamp_ms = static_cast<int64_t>(v);
    } else if (!r.Skip(f, w)) {
      return false;
    }
  }
  return true;
}

bool ParseTimeSeries(std::string_view msg, RwSeriesView& s, size_t& histograms) {
  s.labels.clear();
  s.samples.clear();
  Reader r(msg);
  while (!r.done()) {
    uint32_t f, w;
    if (!r.Tag(f, w)) return false;
    if (f >= 1 && f <= 4) {
      if (w != kLen) return false;
      std::string_view sub;
      if (!r.Bytes(sub)) return false;
      if (f == 1) {
        auto& l = s.labels.emplace_back();
        if (!ParseLabel(sub, l.first, l.second)) return false;
      } else if (f == 2) {
        if (!ParseSample(sub, s.samples.emplace_back())) return false;
      } else if (f == 4) {
        ++histograms;
      }
      // f == 3: exemplars are not stored.
    } else if (!r.Skip(f, w)) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status ParseWriteRequestViews(std::string_view raw, RwRequestView& out) {
  out.size = 0;
  out.histograms_skipped = 0;
  Reader r(raw);
  while (!r.done()) {
    uint32_t f, w;
    bool ok = r.Tag(f, w);
    if (ok && f == 1) {
      std::string_view sub;
      ok = w == kLen && r.Bytes(sub);
      if (ok) {
        if (out.size == out.series.size()) out.series.emplace_back();
        ok = ParseTimeSeries(sub, out.series[out.size], out.histograms_skipped);
        ++out.size;
      }
    } else if (ok) {
      ok = r.Skip(f, w);
    }
    if (!ok) {
      out.size = 0;
      return Status::InvalidArgument("body is not a valid protobuf WriteRequest");
    }
  }
  return Status::Ok();
}

Status DecodeWriteRequestViews(std::string_view body, size_t max_decoded_bytes, RwRequestView& out) {
  thread_local std::string raw;
  out.size = 0;
  out.histograms_skipped = 0;
  // Keep the buffer across calls, but do not pin a huge one forever.
  if (raw.capacity() > (16u << 20)) std::string().swap(raw);
  LOOKOUT_RETURN_IF_ERROR(snappy::Uncompress(body, max_decoded_bytes, raw));
  return ParseWriteRequestViews(raw, out);
}

Status DecodeWriteRequest(std::string_view body, size_t max_decoded_bytes, RwRequest& out) {
  RwRequestView v;
  out.series.clear();
  out.histograms_skipped = 0;
  LOOKOUT_RETURN_IF_ERROR(DecodeWriteRequestViews(body, max_decoded_bytes, v));
  out.series.reserve(v.size);
  for (const auto& sv : v) {
    RwSeries s;
    s.labels.reserve(sv.labels.size());
    for (const auto& [n, val] : sv.labels) s.labels.emplace_back(std::string(n), std::string(val));
    s.samples = sv.samples;
    out.series.push_back(std::move(s));
  }
  out.histograms_skipped = v.histograms_skipped;
  return Status::Ok();
}

std::string EncodeWriteRequest(const RwRequest& in) {
  prometheus::WriteRequest req;
  for (const auto& s : in.series) {
    auto* ts = req.add_timeseries();
    for (const auto& [n, v] : s.labels) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    for (const auto& smp : s.samples) {
      auto* p = ts->add_samples();
      p->set_value(smp.value);
      p->set_timestamp(smp.timestamp_ms);
    }
  }
  std::string raw;
  req.SerializeToString(&raw);
  return snappy::Compress(raw);
}

}  // namespace common::proto
