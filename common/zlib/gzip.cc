#include "common/zlib/gzip.h"

#include <zlib.h>

namespace common::zlib {

struct Gzipper::Impl {
  z_stream zs{};
  bool ok = false;
};

Gzipper::Gzipper(int level) : impl_(std::make_unique<Impl>()) {
  // 15 window bits + 16 selects the gzip wrapper.
  impl_->ok = deflateInit2(&impl_->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

Gzipper::~Gzipper() {
  if (impl_->ok) deflateEnd(&impl_->zs);
}

Status Gzipper::Compress(std::string_view in, std::string& out) {
  if (!impl_->ok) return Status::Internal("deflateInit2 failed");
  z_stream& zs = impl_->zs;
  deflateReset(&zs);
  out.resize(deflateBound(&zs, in.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int r = deflate(&zs, Z_FINISH);
  if (r != Z_STREAM_END) return Status::Internal("deflate failed");
  out.resize(zs.total_out);
  return Status::Ok();
}

Status Gunzip(std::string_view in, std::string& out, size_t limit) {
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  int r;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    r = inflate(&zs, Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status::InvalidArgument("bad gzip stream");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > limit) {
      inflateEnd(&zs);
      return Status::ResourceExhausted("gzip body exceeds limit");
    }
  } while (r != Z_STREAM_END && (zs.avail_in > 0 || zs.avail_out == 0));
  inflateEnd(&zs);
  if (r != Z_STREAM_END) return Status::InvalidArgument("truncated gzip stream");
  return Status::Ok();
}

}  // namespace common::zlib
