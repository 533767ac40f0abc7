#include "common/snappy/snappy.h"

#include <snappy.h>

namespace common::snappy {

Status Uncompress(std::string_view in, size_t max_len, std::string& out) {
  size_t len = 0;
  if (!::snappy::GetUncompressedLength(in.data(), in.size(), &len)) {
    return Status::InvalidArgument("body is not snappy block-compressed data");
  }
  if (len > max_len) {
    return Status::ResourceExhausted("decompressed body of " + std::to_string(len) +
                                     " bytes exceeds the limit of " + std::to_string(max_len));
  }
  if (!::snappy::Uncompress(in.data(), in.size(), &out)) {
    return Status::InvalidArgument("corrupt snappy data");
  }
  return Status::Ok();
}

std::string Compress(std::string_view in) {
  std::string out;
  ::snappy::Compress(in.data(), in.size(), &out);
  return out;
}

}  // namespace common::snappy
