#pragma once
// Compressed sample blocks: how lookout-collector persists the closed chunks of one series in one
// SQLite row (docs/tsdb.md). Layout:
//   1 byte kBlockMagic (0xff; a Prometheus XOR chunk starts with its big-endian sample count, at
//     most 120 here, so its first byte is 0x00 and never 0xff below 65280 samples);
//   1 byte format;
//   uvarint sample count (outside the compressed part: counting needs no inflate);
//   raw DEFLATE (RFC 1951, zlib) of the payload:
//     kFormatXor (0): each XOR chunk (<= 120 samples) as uvarint length + chunk bytes;
//     kFormatDecimal (1): t0 as zigzag varint, then t1 - t0 and every later delta-of-delta as
//       zigzag varints; then 1 byte k and the mantissas m (v == m / 10^k exactly, bit for bit)
//       as zigzag varints, the first absolute, the rest as deltas.
// Encode picks kFormatDecimal when every value is such a decimal with k <= kMaxDecimalDigits,
// and keeps whichever of the two formats is smaller. Any float64 round-trips bit-exactly
// (NaN payloads, stale markers, -0.0). Decode validates everything and never reads out of bounds.
// Thread affinity: none.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "collector/storage/sample.h"
#include "common/base/status.h"

namespace collector::tsdb::chunkenc {

inline constexpr uint8_t kBlockMagic = 0xff;
inline constexpr uint8_t kFormatXor = 0;
inline constexpr uint8_t kFormatDecimal = 1;
// A group block: the samples of several series in one window, compressed together (similar
// series side by side compress better, and one row replaces many). Payload: uvarint member
// count, then per member: uvarint series ref, uvarint section length, and the section: 1 byte
// format (kFormatXor or kFormatDecimal), uvarint sample count, then that format's payload.
inline constexpr uint8_t kFormatGroup = 2;
inline constexpr int kMaxDecimalDigits = 9;
// Decode refuses blocks claiming more samples than this.
inline constexpr uint64_t kMaxBlockSamples = 1u << 24;

using Sample = storage::Sample;

// True when `data` is a block (and not a plain XOR chunk).
inline bool IsBlock(std::string_view data) {
  return !data.empty() && static_cast<uint8_t>(data[0]) == kBlockMagic;
}

// Encodes samples with strictly increasing timestamps (not checked). `level` is zlib's.
std::string EncodeBlock(std::span<const Sample> samples, int level = 6);
// Encodes with the given format (tests); kFormatDecimal falls back to kFormatXor when the values
// are not all decimals.
std::string EncodeBlockAs(std::span<const Sample> samples, uint8_t format, int level = 6);

// Appends the samples of `block` to `out`. Corruption on any malformed input.
common::Status DecodeBlock(std::string_view block, std::vector<Sample>& out);

// The sample count from the header, without decompressing. Corruption when malformed.
common::Result<uint64_t> BlockNumSamples(std::string_view block);
// The format byte (for tests and inspection); -1 when malformed.
int BlockFormat(std::string_view block);

struct GroupMember {
  uint64_t ref;
  std::span<const Sample> samples;  // strictly increasing timestamps, not empty
};
// Encodes a group block (members in the given order; refs must be distinct).
std::string EncodeGroup(std::span<const GroupMember> members, int level = 6);

// An inflated group block, for looking up several members.
class GroupView {
 public:
  // Corruption when `block` is not a well-formed group block.
  common::Status Parse(std::string_view block);
  // Appends the samples of `ref`; false when the block has no such member. Corruption on a
  // malformed section.
  common::Result<bool> Decode(uint64_t ref, std::vector<Sample>& out) const;
  size_t size() const { return dir_.size(); }
  // Memory held (inflated payload and directory), for caches.
  size_t MemoryBytes() const { return payload_.capacity() + dir_.capacity() * sizeof(Entry) + sizeof *this; }
  std::vector<uint64_t> Refs() const;

 private:
  struct Entry {
    uint64_t ref;
    size_t offset;
    size_t len;
  };
  std::string payload_;
  std::vector<Entry> dir_;  // sorted by ref
};

// Re-encodes samples as XOR chunks of at most kSamplesPerChunk samples.
std::vector<std::string> ToXorChunks(std::span<const Sample> samples);

}  // namespace collector::tsdb::chunkenc
