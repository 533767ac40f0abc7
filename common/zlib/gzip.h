#pragma once
// gzip (RFC 1952) through zlib. Thread affinity: none; a Gzipper reuses its z_stream and must be
// used by one thread at a time.

#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace common::zlib {

class Gzipper {
 public:
  explicit Gzipper(int level = 1);
  ~Gzipper();
  Gzipper(const Gzipper&) = delete;
  Gzipper& operator=(const Gzipper&) = delete;
  // Replaces `out` with the gzip encoding of `in`.
  Status Compress(std::string_view in, std::string& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decompresses a gzip stream, refusing output beyond `limit` bytes (ResourceExhausted).
Status Gunzip(std::string_view in, std::string& out, size_t limit);

}  // namespace common::zlib
