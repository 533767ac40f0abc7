#pragma once
// Scrape targets: turning discovered target groups into targets (shared/specs/file-sd.md
// section 2: label fill-in order job, __scrape_interval__, __scrape_timeout__, __metrics_path__,
// __scheme__, __param_*; relabel_configs; validation; __meta_* removed; instance defaulted).
// Thread affinity: none (pure functions).

#include <optional>
#include <string>
#include <vector>

#include "collector/config/config.h"
#include "collector/discovery/target_group.h"
#include "collector/model/labels.h"

namespace collector::scrape {

struct TargetLabels {
  model::Labels discovered;  // before relabeling (with __meta_*), for /api/v1/targets
  model::Labels labels;      // after relabeling, including the __ labels that drive the scrape
  bool dropped = false;      // a relabel rule dropped it
  std::string error;         // invalid after relabeling (no address, bad interval...)
};

// Builds the target of one discovered address.
TargetLabels PopulateLabels(const model::Labels& target, const model::Labels& group_labels,
                            const config::ScrapeConfig& cfg);

// Everything a scrape of one target needs, derived from its final labels.
struct ScrapeSpec {
  std::string scheme, host, target;  // target = path + query
  int port = 0;
  std::string url;                   // scheme://address/path?query
  int64_t interval_ms = 0, timeout_ms = 0;
  model::Labels series_labels;       // labels attached to scraped series (no "__" labels)
};
common::Result<ScrapeSpec> MakeSpec(const model::Labels& labels, const config::ScrapeConfig& cfg);

// Formats a duration in milliseconds as Prometheus does (e.g. "15s", "1m", "1m30s", "500ms").
std::string FormatDuration(int64_t ms);

}  // namespace collector::scrape
