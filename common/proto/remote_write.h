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

// Zero-copy view of a decoded request: the string_views point into a thread-local buffer owned by
// the decoder and stay valid until the next DecodeWriteRequestViews call on the same thread.
struct RwSeriesView {
  std::vector<std::pair<std::string_view, std::string_view>> labels;  // as sent (order kept)
  std::vector<RwSample> samples;
};

struct RwRequestView {
  // Only the first `size` entries are valid; entries past it are kept to reuse their vectors.
  std::vector<RwSeriesView> series;
  size_t size = 0;
  size_t histograms_skipped = 0;
  const RwSeriesView* begin() const { return series.data(); }
  const RwSeriesView* end() const { return series.data() + size; }
};

// Decodes a request body into `out` without copying label strings: snappy output goes to a
// thread-local buffer reused across calls and the protobuf wire format is walked by hand.
// Unknown fields are skipped; exemplars are ignored; native histograms are counted in
// histograms_skipped. InvalidArgument for bad snappy or protobuf, ResourceExhausted for a body
// over `max_decoded_bytes` once uncompressed. Reuse `out` across calls to avoid allocations.
Status DecodeWriteRequestViews(std::string_view body, size_t max_decoded_bytes, RwRequestView& out);
// Same, on an already uncompressed protobuf WriteRequest (views point into `raw`).
Status ParseWriteRequestViews(std::string_view raw, RwRequestView& out);

// Decodes a request body. InvalidArgument names what is wrong (bad snappy, bad protobuf, body
// over `max_decoded_bytes` once uncompressed).
Status DecodeWriteRequest(std::string_view body, size_t max_decoded_bytes, RwRequest& out);
// Encodes `in` as a snappy-compressed WriteRequest (for senders, tests and benchmarks).
std::string EncodeWriteRequest(const RwRequest& in);

}  // namespace common::proto
