#include "collector/tsdb/chunkenc/xor.h"

#include "collector/tsdb/chunkenc/varint.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace collector::tsdb::chunkenc {
namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// True when x fits the signed range Prometheus' bitRange() allows for `nbits`.
bool BitRange(int64_t x, int nbits) {
  return -((int64_t{1} << (nbits - 1)) - 1) <= x && x <= (int64_t{1} << (nbits - 1));
}

}  // namespace

XorAppender::XorAppender() { Reset(); }

void XorAppender::Reset() {
  buf_.assign(2, '\0');
  bit_pos_ = 0;
  num_ = 0;
  t0_ = t_ = 0;
  t_delta_ = 0;
  v_bits_ = 0;
  leading_ = 0xff;
  trailing_ = 0;
}

void XorAppender::WriteBit(bool b) {
  if (bit_pos_ == 0) buf_ += '\0';
  if (b) buf_.back() = static_cast<char>(buf_.back() | (0x80 >> bit_pos_));
  bit_pos_ = (bit_pos_ + 1) & 7;
}

void XorAppender::WriteBits(uint64_t v, int nbits) {
  for (int i = nbits - 1; i >= 0; --i) WriteBit((v >> i) & 1);
}

void XorAppender::WriteValue(double v) {
  uint64_t b = Bits(v);
  uint64_t delta = b ^ v_bits_;
  if (delta == 0) {
    WriteBit(false);
  } else {
    WriteBit(true);
    uint8_t lead = static_cast<uint8_t>(__builtin_clzll(delta));
    uint8_t trail = static_cast<uint8_t>(__builtin_ctzll(delta));
    if (lead >= 32) lead = 31;  // 5 bits hold the leading count
    if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
      WriteBit(false);
      WriteBits(delta >> trailing_, 64 - leading_ - trailing_);
    } else {
      leading_ = lead;
      trailing_ = trail;
      WriteBit(true);
      WriteBits(lead, 5);
      int sig = 64 - lead - trail;
      WriteBits(static_cast<uint64_t>(sig & 63), 6);  // 64 is written as 0
      WriteBits(delta >> trail, sig);
    }
  }
  v_bits_ = b;
}

void XorAppender::Append(int64_t t, double v) {
  if (num_ == 0) {
    // Whole bytes: the bit writer starts after them.
    PutVarint(buf_, t);
    for (int i = 7; i >= 0; --i) buf_ += static_cast<char>((Bits(v) >> (i * 8)) & 0xff);
    v_bits_ = Bits(v);
    t0_ = t;
    bit_pos_ = 0;
  } else if (num_ == 1) {
    t_delta_ = static_cast<uint64_t>(t - t_);
    PutUvarint(buf_, t_delta_);
    bit_pos_ = 0;
    WriteValue(v);
  } else {
    uint64_t delta = static_cast<uint64_t>(t - t_);
    int64_t dod = static_cast<int64_t>(delta - t_delta_);
    if (dod == 0) {
      WriteBit(false);
    } else if (BitRange(dod, 14)) {
      WriteBits(0b10, 2);
      WriteBits(static_cast<uint64_t>(dod), 14);
    } else if (BitRange(dod, 17)) {
      WriteBits(0b110, 3);
      WriteBits(static_cast<uint64_t>(dod), 17);
    } else if (BitRange(dod, 20)) {
      WriteBits(0b1110, 4);
      WriteBits(static_cast<uint64_t>(dod), 20);
    } else {
      WriteBits(0b1111, 4);
      WriteBits(static_cast<uint64_t>(dod), 64);
    }
    t_delta_ = delta;
    WriteValue(v);
  }
  t_ = t;
  ++num_;
  buf_[0] = static_cast<char>((num_ >> 8) & 0xff);
  buf_[1] = static_cast<char>(num_ & 0xff);
}

XorIterator::XorIterator(std::string_view chunk) : data_(chunk) {
  if (chunk.size() < 2) {
    err_ = common::Status::Corruption("chunk shorter than its header");
    return;
  }
  total_ = (static_cast<uint8_t>(chunk[0]) << 8) | static_cast<uint8_t>(chunk[1]);
}

double XorIterator::v() const {
  double d;
  std::memcpy(&d, &v_bits_, sizeof d);
  return d;
}

// Bits are read through a 64-bit buffer (as Prometheus' bstreamReader): `buf_` holds the next
// `valid_` unread bits in its low bits, refilled with up to 8 bytes at a time.
namespace {
inline uint64_t Mask(int n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }
}  // namespace

inline bool XorIterator::Refill() {
  size_t n = std::min<size_t>(8, data_.size() - std::min(pos_, data_.size()));
  if (n == 0) return false;
  uint64_t w = 0;
  if (n == 8) {
    std::memcpy(&w, data_.data() + pos_, 8);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
  } else {
    for (size_t i = 0; i < n; ++i) w = (w << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  }
  pos_ += n;
  buf_ = w;
  valid_ = static_cast<int>(n * 8);
  return true;
}

inline bool XorIterator::ReadBits(int nbits, uint64_t& out) {
  if (nbits <= valid_) {
    valid_ -= nbits;
    out = (buf_ >> valid_) & Mask(nbits);
    return true;
  }
  int need = nbits - valid_;
  uint64_t hi = buf_ & Mask(valid_);
  if (!Refill() || need > valid_) return false;
  valid_ -= need;
  uint64_t lo = (buf_ >> valid_) & Mask(need);
  out = need >= 64 ? lo : (hi << need) | lo;
  return true;
}

inline bool XorIterator::ReadBit(bool& b) {
  uint64_t x;
  if (!ReadBits(1, x)) return false;
  b = x != 0;
  return true;
}

// Varints come right after the header and the first value, byte-aligned, before any bit has
// been buffered.
bool XorIterator::ReadUvarint(uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return false;
    uint8_t c = static_cast<uint8_t>(data_[pos_++]);
    out |= static_cast<uint64_t>(c & 0x7f) << shift;
    if (!(c & 0x80)) return true;
  }
  return false;
}

bool XorIterator::ReadVarint(int64_t& out) {
  uint64_t ux;
  if (!ReadUvarint(ux)) return false;
  out = static_cast<int64_t>(ux >> 1);
  if (ux & 1) out = ~out;
  return true;
}

inline bool XorIterator::ReadValue() {
  uint64_t ctl;
  if (!ReadBits(1, ctl)) return false;
  if (ctl == 0) return true;  // same value
  if (!ReadBits(1, ctl)) return false;
  if (ctl != 0) {
    uint64_t lead_sig;  // 5 bits of leading zeros, 6 of significant bits
    if (!ReadBits(11, lead_sig)) return false;
    uint64_t lead = lead_sig >> 6, sig = lead_sig & 0x3f;
    if (sig == 0) sig = 64;
    leading_ = static_cast<uint8_t>(lead);
    if (lead + sig > 64) return false;
    trailing_ = static_cast<uint8_t>(64 - lead - sig);
  } else if (leading_ + trailing_ >= 64) {
    return false;  // no window yet
  }
  int sig = 64 - leading_ - trailing_;
  uint64_t bits;
  if (!ReadBits(sig, bits)) return false;
  v_bits_ ^= bits << trailing_;
  return true;
}

bool XorIterator::Next() {
  if (!err_.ok() || read_ >= total_) return false;
  bool ok = true;
  if (read_ == 0) {
    ok = ReadVarint(t_);
    uint64_t v = 0;
    for (int i = 0; ok && i < 8; ++i) {
      if (pos_ >= data_.size()) {
        ok = false;
        break;
      }
      v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    }
    v_bits_ = v;
  } else if (read_ == 1) {
    ok = ReadUvarint(t_delta_);
    t_ += static_cast<int64_t>(t_delta_);
    ok = ok && ReadValue();
  } else {
    // The delta-of-delta prefix: up to four 1 bits, ended by a 0 unless there are four.
    int prefix = 0;
    while (prefix < 4) {
      uint64_t b;
      if (!ReadBits(1, b)) {
        ok = false;
        break;
      }
      if (b == 0) break;
      ++prefix;
    }
    int64_t dod = 0;
    if (ok && prefix > 0) {
      static constexpr int kBits[5] = {0, 14, 17, 20, 64};
      int nb = kBits[prefix];
      uint64_t raw;
      ok = ReadBits(nb, raw);
      if (ok) {
        if (nb < 64 && (raw >> (nb - 1)) & 1 && raw > (uint64_t{1} << (nb - 1))) {
          raw -= uint64_t{1} << nb;  // sign-extend (the positive edge 1<<(nb-1) stays positive)
        }
        dod = static_cast<int64_t>(raw);
      }
    }
    t_delta_ = static_cast<uint64_t>(static_cast<int64_t>(t_delta_) + dod);
    t_ += static_cast<int64_t>(t_delta_);
    ok = ok && ReadValue();
  }
  if (!ok) {
    err_ = common::Status::Corruption("truncated or malformed XOR chunk");
    return false;
  }
  ++read_;
  return true;
}

}  // namespace collector::tsdb::chunkenc
