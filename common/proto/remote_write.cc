#include "common/proto/remote_write.h"

#include "common/snappy/snappy.h"
#include "remote.pb.h"

namespace common::proto {

Status DecodeWriteRequest(std::string_view body, size_t max_decoded_bytes, RwRequest& out) {
  std::string raw;
  LOOKOUT_RETURN_IF_ERROR(snappy::Uncompress(body, max_decoded_bytes, raw));
  prometheus::WriteRequest req;
  if (!req.ParseFromString(raw)) {
    return Status::InvalidArgument("body is not a valid protobuf WriteRequest");
  }
  out.series.clear();
  out.series.reserve(static_cast<size_t>(req.timeseries_size()));
  for (const auto& ts : req.timeseries()) {
    RwSeries s;
    s.labels.reserve(static_cast<size_t>(ts.labels_size()));
    for (const auto& l : ts.labels()) s.labels.emplace_back(l.name(), l.value());
    s.samples.reserve(static_cast<size_t>(ts.samples_size()));
    for (const auto& smp : ts.samples()) s.samples.push_back({smp.value(), smp.timestamp()});
    out.series.push_back(std::move(s));
  }
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
