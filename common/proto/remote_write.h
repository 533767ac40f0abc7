#pragma once
// Remote-write 1.0 codec (shared/specs/remote-write.md): snappy block + protobuf WriteRequest,
// decoded into plain structs so that *.pb.h stays inside common/proto.
// Thread affinity: none.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/status.h"

namespace common::proto {

struct RwSample {
  double value;
  int64_t timestamp_ms;
};

struct RwSeries {
  std::vector<std::pair<std::string, std::string>> labels;  // as sent (order kept)
  std::vector<RwSample> samples;
};

struct RwRequest {
  std::vector<RwSeries> series;
  size_t histograms_skipped = 0;  // native histograms are not stored yet
};

// Decodes a request body. InvalidArgument names what is wrong (bad snappy, bad protobuf, body
// over `max_decoded_bytes` once uncompressed).
Status DecodeWriteRequest(std::string_view body, size_t max_decoded_bytes, RwRequest& out);
// Encodes `in` as a snappy-compressed WriteRequest (for senders, tests and benchmarks).
std::string EncodeWriteRequest(const RwRequest& in);

}  // namespace common::proto
