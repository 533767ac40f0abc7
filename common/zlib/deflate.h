#pragma once
// Raw DEFLATE (RFC 1951, no zlib or gzip framing) through zlib: the compression of the TSDB's
// persisted blocks (collector/tsdb/chunkenc/block.h) and series groups.
// Thread affinity: none (no shared state).

#include <cstddef>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace common::zlib {

// Appends the raw DEFLATE stream of `in` at zlib `level` (0-9) to `out`. Internal only when zlib
// fails to allocate.
Status DeflateRaw(std::string_view in, int level, std::string& out);

// Replaces `out` with the inflation of the complete raw DEFLATE stream `in`, which must end
// exactly at the end of `in`. Corruption for a bad, truncated or trailing-garbage stream, or one
// that inflates beyond `limit` bytes (the buffer grows as output appears: a lying size costs
// no memory).
Status InflateRaw(std::string_view in, size_t limit, std::string& out);

}  // namespace common::zlib
