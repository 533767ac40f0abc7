#pragma once
// PromQL result values (Prometheus' promql/value.go), floats only for now.
//
// Units: timestamps are int64 milliseconds since the Unix epoch; values float64.
// Thread affinity: none (value types).

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "collector/model/labels.h"
#include "collector/storage/sample.h"

namespace collector::promql {

using model::Labels;

// A float point of a series (the storage's sample type, so loaded series move in uncopied).
using FPoint = storage::Sample;

// One element of an instant vector.
struct Sample {
  Labels metric;
  int64_t t = 0;
  double v = 0;
};
using Vector = std::vector<Sample>;

// One series of a range vector / range query result, points in time order.
struct Series {
  Labels metric;
  std::vector<FPoint> points;
};
using Matrix = std::vector<Series>;

struct Scalar {
  int64_t t = 0;
  double v = 0;
};

struct String {
  int64_t t = 0;
  std::string v;
};

using Value = std::variant<Scalar, Vector, Matrix, String>;

// Annotations attached to a result (Prometheus' util/annotations): warnings and infos, each
// rendered as upstream does, e.g. `PromQL info: metric might not be a counter, name does not
// end in _total/_sum/_count/_bucket: "foo" (1:6)`.
struct Annotations {
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
};

}  // namespace collector::promql
