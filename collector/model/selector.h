#pragma once
// Series selectors as used by match[] parameters (Prometheus: `up`, `up{job="x"}`,
// `{__name__=~"node_.+", instance!=""}`): a metric name and/or matchers in braces, with
// double-, single- or back-quoted values and Go string escapes. The full PromQL grammar lives in
// collector/promql; this is the subset the read APIs need before the engine exists.
// Errors: InvalidArgument with the position and what was expected. Thread affinity: none.

#include <string_view>
#include <vector>

#include "collector/storage/storage.h"

namespace collector::model {

common::Result<std::vector<storage::Matcher>> ParseSeriesSelector(std::string_view s);

}  // namespace collector::model
