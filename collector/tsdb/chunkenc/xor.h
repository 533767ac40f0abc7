#pragma once
// Gorilla XOR chunks (Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time Series Database",
// VLDB 2015, section 4.1) in Prometheus' byte layout (tsdb/chunkenc/xor.go), so chunks can be
// exchanged with Prometheus tools (remote read's STREAMED_XOR_CHUNKS):
//   2 bytes big-endian sample count;
//   sample 0: timestamp as signed varint, value as 64 raw bits;
//   sample 1: timestamp delta as unsigned varint, value XOR-encoded;
//   sample n: delta-of-delta in 1/2+14/3+17/4+20/4+64 bits, value XOR-encoded (control bit 0:
//   same as previous; 10: meaningful bits inside the previous window; 11: 5 bits leading zeros,
//   6 bits length, then the bits).
// Timestamps are milliseconds; any float64 (NaN payloads included) round-trips bit-exactly.
// Thread affinity: none; an appender and iterators of the same bytes must not run concurrently
// unless the bytes are no longer appended to.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace collector::tsdb::chunkenc {

// Samples per chunk before the head cuts a new one (Prometheus' default).
inline constexpr int kSamplesPerChunk = 120;

class XorAppender {
 public:
  XorAppender();
  // Appends; timestamps must increase (the caller checks order).
  void Append(int64_t t, double v);
  int NumSamples() const { return num_; }
  // The encoded chunk so far (valid after every Append).
  const std::string& Bytes() const { return buf_; }
  int64_t MinTime() const { return t0_; }
  int64_t MaxTime() const { return t_; }
  // Restarts with an empty chunk, keeping capacity.
  void Reset();

 private:
  void WriteBit(bool b);
  void WriteBits(uint64_t v, int nbits);
  void WriteValue(double v);

  std::string buf_;
  int bit_pos_ = 0;  // bits used in the last byte (0 = start a new byte)
  int num_ = 0;
  int64_t t0_ = 0, t_ = 0;
  uint64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  uint8_t leading_ = 0xff, trailing_ = 0;
};

class XorIterator {
 public:
  explicit XorIterator(std::string_view chunk);
  bool Next();
  int64_t t() const { return t_; }
  double v() const;
  // Corruption when the bytes ended early or a field was malformed.
  common::Status status() const { return err_; }
  int NumSamples() const { return total_; }

 private:
  bool Refill();
  bool ReadBit(bool& b);
  bool ReadBits(int nbits, uint64_t& out);
  bool ReadVarint(int64_t& out);
  bool ReadUvarint(uint64_t& out);
  bool ReadValue();

  std::string_view data_;
  size_t pos_ = 2;     // next byte not yet in buf_
  uint64_t buf_ = 0;   // the next valid_ unread bits, in its low bits
  int valid_ = 0;
  int total_ = 0, read_ = 0;
  int64_t t_ = 0;
  uint64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  uint8_t leading_ = 0, trailing_ = 0;
  common::Status err_;
};

}  // namespace collector::tsdb::chunkenc
