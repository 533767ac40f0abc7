#pragma once
// TargetGroup: what a discovery mechanism publishes (Prometheus discovery/targetgroup).
// `source` identifies the group within its provider (file_sd: "<path>:<index>"); publishing a
// group with no targets under an existing source removes that source's targets.

#include <functional>
#include <string>
#include <vector>

#include "collector/model/labels.h"

namespace collector::discovery {

struct TargetGroup {
  std::string source;
  std::vector<model::Labels> targets;  // each usually just {__address__="host:port"}
  model::Labels labels;                // common labels (file_sd adds __meta_filepath)
};

// Called on the loop thread with the full current set of groups of one provider.
using GroupsCallback = std::function<void(std::vector<TargetGroup>)>;

}  // namespace collector::discovery
