#pragma once
// Go's encoding/binary varints (unsigned LEB128; signed values zigzag-encoded), shared by the XOR
// chunks and the WAL records. Get* consume from the front of `in` and return false on a truncated
// or over-long value. Thread affinity: none.

#include <cstdint>
#include <string>
#include <string_view>

namespace collector::tsdb::chunkenc {

inline void PutUvarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

inline void PutVarint(std::string& out, int64_t v) {
  PutUvarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

inline bool GetUvarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    uint8_t c = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(c & 0x7f) << shift;
    if (!(c & 0x80)) return true;
  }
  return false;
}

inline bool GetVarint(std::string_view& in, int64_t& v) {
  uint64_t u;
  if (!GetUvarint(in, u)) return false;
  v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return true;
}

}  // namespace collector::tsdb::chunkenc
