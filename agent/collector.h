#pragma once
// The collector interface of lookout-agent and the table collectors register in.
//
// A collector reads one source of the host (a procfs/sysfs file family) and adds its samples,
// with node_exporter 1.12's metric names, labels, types and units, to a MetricSet.
// Update() runs on a registry worker thread, one call at a time per collector, under the
// registry's deadline; it must not keep pointers into the set between calls.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/metrics/metric_set.h"

namespace agent {

using common::Result;
using common::Status;
using common::metrics::MetricSet;
using common::metrics::MetricType;

// Roots of the host's file systems (node_exporter's --path.* flags).
struct Paths {
  std::string procfs = "/proc";
  std::string sysfs = "/sys";
  std::string rootfs = "/";
  std::string udev_data = "/run/udev/data";

  // procfs + "/" + rel, etc.
  std::string Proc(std::string_view rel) const { return Join(procfs, rel); }
  std::string Sys(std::string_view rel) const { return Join(sysfs, rel); }
  std::string Root(std::string_view rel) const { return Join(rootfs, rel); }
  static std::string Join(std::string_view a, std::string_view b);
};

// A collector's tuning flag, declared in its registration; main exposes it on the command line.
struct FlagSpec {
  enum class Kind { kString, kBool, kList };
  std::string name;  // without dashes, e.g. "collector.netdev.device-include"
  std::string help;
  std::string default_value;  // "true"/"false" for kBool; ignored for kList
  Kind kind = Kind::kString;
};

// The parsed values of the flags; a collector reads its own.
class FlagValues {
 public:
  void Set(const std::string& name, std::string v);
  void Append(const std::string& name, std::string v);
  // The value of a string flag ("" when unset and without default).
  std::string Get(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  std::vector<std::string> GetList(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::vector<std::string>>> values_;
};

struct CollectorContext {
  Paths paths;
  FlagValues flags;
};

class Collector {
 public:
  virtual ~Collector() = default;
  // Adds this pass's samples to `out`. A failed Status marks the collector failed for this
  // scrape (node_scrape_collector_success 0); samples already added are still exposed, as
  // node_exporter does.
  virtual Status Update(MetricSet& out) = 0;
};

struct CollectorInfo {
  std::string name;
  bool default_enabled = true;
  std::vector<FlagSpec> flags;
  // Builds the collector; an error (a bad regex flag, say) stops the agent at start-up.
  std::function<Result<std::unique_ptr<Collector>>(const CollectorContext&)> make;
};

// Registers a collector; call from a static initializer (LOOKOUT_REGISTER_COLLECTOR).
bool RegisterCollector(CollectorInfo info);
// Every registered collector, sorted by name.
const std::vector<CollectorInfo>& AllCollectors();

}  // namespace agent

#define LOOKOUT_CONCAT2(a, b) a##b
#define LOOKOUT_CONCAT(a, b) LOOKOUT_CONCAT2(a, b)
// Use once per collector file at namespace scope: LOOKOUT_REGISTER_COLLECTOR({...});
#define LOOKOUT_REGISTER_COLLECTOR(...)                                                   \
  [[maybe_unused]] static const bool LOOKOUT_CONCAT(lookout_collector_registered_, __LINE__) = \
      ::agent::RegisterCollector(__VA_ARGS__)
