#pragma once
// Snappy block format (not the framed format) through Debian's libsnappy, as remote_write uses.
// Thread affinity: none.

#include <string>
#include <string_view>

#include "common/base/status.h"

namespace common::snappy {

// InvalidArgument for a corrupt block; ResourceExhausted when the declared uncompressed length
// exceeds `max_len` (checked before allocating).
Status Uncompress(std::string_view in, size_t max_len, std::string& out);
std::string Compress(std::string_view in);

}  // namespace common::snappy
