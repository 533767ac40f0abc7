#pragma once
// One float sample: the unit every layer passes around (tsdb decodes into it, the PromQL engine
// evaluates on it), so a series' samples move between layers without a copy.
//
// Units: t is int64 milliseconds since the Unix epoch; v is float64 (staleness markers included).

#include <cstdint>

namespace collector::storage {

struct Sample {
  int64_t t = 0;
  double v = 0;
};

}  // namespace collector::storage
