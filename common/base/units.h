#pragma once
// Prometheus-style durations and byte sizes for flags and config.
// Durations: a sequence of <number><unit> with units y, w, d, h, m, s, ms (e.g. "15d", "1h30m",
// "500ms"); a plain "0" is zero. Sizes: <number><unit> with B, KB, MB, GB, TB, PB, EB in powers
// of 1024 (as Prometheus' --storage.tsdb.retention.size); "0" is zero.
// Errors: InvalidArgument naming the bad text. Thread affinity: none.

#include <cstdint>
#include <string_view>

#include "common/base/status.h"

namespace common {

Result<int64_t> ParseDurationMs(std::string_view s);
Result<uint64_t> ParseBytes(std::string_view s);

}  // namespace common
