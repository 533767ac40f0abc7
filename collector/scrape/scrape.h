#pragma once
// Scraping (Prometheus scrape/): a Manager holds one pool per job; a pool holds one loop per
// target; a loop scrapes on a timer with a start offset derived from the target's labels
// (spreading targets over the interval), parses the body as the Prometheus server does, applies
// metric_relabel_configs, appends through a storage::Appender and commits once per scrape.
//
// Each scrape also writes up, scrape_duration_seconds, scrape_samples_scraped,
// scrape_samples_post_metric_relabeling and scrape_series_added. Series that vanish from a
// target, every series of a failed scrape, and every series of a removed target get a staleness
// marker. sample_limit, label_limit and body_size_limit fail the scrape (up 0, nothing of the
// body stored) with the reason in lastError.
//
// Known series skip label parsing and relabeling: a per-target cache (cache.h) maps the series
// text as written to its final labels and storage ref, checking the previous scrape's order first.
// Thread affinity: Manager methods on the loop thread; parsing and appending run on the work
// pool, one scrape per target at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/config/config.h"
#include "collector/discovery/target_group.h"
#include "collector/scrape/target.h"
#include "collector/storage/storage.h"
#include "common/event/loop.h"
#include "common/http/client.h"
#include "common/tls/client_config.h"
#include "common/log/log.h"
#include "common/metrics/metric_set.h"

namespace collector::scrape {

struct TargetStatus {
  model::Labels discovered;
  model::Labels labels;  // series labels (no "__" labels)
  std::string scrape_pool, scrape_url, global_url;
  std::string health = "unknown";  // "up", "down", "unknown"
  std::string last_error;
  int64_t last_scrape_ms = 0;      // wall clock of the last scrape start
  double last_duration_s = 0;
  int64_t interval_ms = 0, timeout_ms = 0;
};

struct DroppedTarget {
  model::Labels discovered;
  std::string scrape_pool;
};

class ScrapeLoop;

// A string that changes when any setting of the job that shapes its targets or scrapes changes.
std::string Fingerprint(const config::ScrapeConfig& c);

class Manager {
 public:
  Manager(common::event::Loop& loop, storage::Appendable* app, common::log::Logger log);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Installs new scrape configs. Pools of removed jobs stop (with staleness markers); loops of
  // changed jobs restart with the new settings at their next sync.
  void ApplyConfig(const config::Config& cfg);
  // The current target groups of one job (from discovery).
  void Sync(const std::string& job, const std::vector<discovery::TargetGroup>& groups);
  // Stops every loop, writing staleness markers.
  void Stop();

  std::vector<TargetStatus> ActiveTargets() const;
  std::vector<DroppedTarget> DroppedTargets() const;
  void AddMetrics(common::metrics::MetricSet& out) const;

 private:
  friend class ScrapeLoop;
  struct Pool {
    std::shared_ptr<const config::ScrapeConfig> cfg;
    std::shared_ptr<const common::tls::TlsClientConfig> tls;  // for https targets
    std::string tls_error;                                     // why tls could not be built
    std::map<std::string, std::shared_ptr<ScrapeLoop>> loops;  // by labels string
    std::vector<DroppedTarget> dropped;
    std::vector<discovery::TargetGroup> last_groups;
  };
  common::event::Loop& loop_;
  storage::Appendable* app_;
  common::log::Logger log_;
  common::http::Client client_;
  std::map<std::string, Pool> pools_;
  uint64_t scrapes_ = 0, failed_ = 0, skipped_ = 0, exceeded_sample_limit_ = 0;
};

}  // namespace collector::scrape
