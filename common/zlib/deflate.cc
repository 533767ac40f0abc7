#include "common/zlib/deflate.h"

#include <zlib.h>

#include <algorithm>

namespace common::zlib {

Status DeflateRaw(std::string_view in, int level, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("deflateInit2 failed");
  }
  size_t start = out.size();
  out.resize(start + deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  zs.avail_out = static_cast<uInt>(out.size() - start);
  int r = deflate(&zs, Z_FINISH);
  out.resize(start + zs.total_out);
  deflateEnd(&zs);
  if (r != Z_STREAM_END) {
    out.resize(start);
    return Status::Internal("deflate failed");
  }
  return Status::Ok();
}

Status InflateRaw(std::string_view in, size_t limit, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) return Status::Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out.resize(std::min(limit + 1, in.size() * 4 + 256));
  size_t produced = 0;
  int r = Z_OK;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    r = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (r == Z_STREAM_END || (r != Z_OK && r != Z_BUF_ERROR)) break;
    if (zs.avail_out > 0) break;  // input exhausted before the end of the stream
    if (out.size() > limit) break;
    out.resize(std::min(limit + 1, out.size() * 2));
  }
  size_t left_in = zs.avail_in;
  inflateEnd(&zs);
  if (produced > limit) return Status::Corruption("deflate stream inflates beyond its limit");
  if (r != Z_STREAM_END) return Status::Corruption("bad or truncated deflate stream");
  if (left_in != 0) return Status::Corruption("trailing bytes after the deflate stream");
  out.resize(produced);
  return Status::Ok();
}

}  // namespace common::zlib
