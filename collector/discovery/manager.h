#pragma once
// Discovery Manager (Prometheus discovery.Manager): runs the providers of every scrape job —
// the job's static_configs and one FileDiscoverer per file_sd_configs entry — and tells the scrape
// side the job's full current target groups whenever they change.
//
// Each provider's publication replaces that provider's groups (GroupsCallback contract: the full
// current set; groups without targets are dropped). A job's groups are its providers' groups in
// provider order (static first, then file_sd in config order). Updates are coalesced per job: at
// most one SyncFunc call per `update_interval_ms`, and none before every provider of the job has
// published once (so a reload does not flap targets). A job is synced at least once after it is
// added, even with no groups; a job removed by ApplyConfig is synced once with no groups.
//
// Thread affinity: loop thread only; SyncFunc runs on the loop thread, never from inside
// ApplyConfig/ApplyJobs. Destroying the Manager stops every provider; no SyncFunc call follows.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/config/config.h"
#include "collector/discovery/file/file_sd.h"
#include "collector/discovery/target_group.h"
#include "common/event/loop.h"
#include "common/event/timer.h"
#include "common/log/log.h"
#include "common/metrics/metric_set.h"

namespace collector::discovery {

class Manager {
 public:
  using SyncFunc = std::function<void(const std::string& job, std::vector<TargetGroup> groups)>;

  struct Options {
    uint64_t update_interval_ms = 100;  // Prometheus waits 5 s; scrape reacts faster here
  };

  // The discovery part of one scrape config.
  struct JobSpec {
    std::string job;
    std::vector<TargetGroup> static_groups;  // an empty source becomes its index ("0", "1", ...)
    std::vector<config::FileSDConfig> file_sd;
  };

  Manager(common::event::Loop& loop, Options opts, common::log::Logger log, SyncFunc sync);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Replaces the jobs with those of cfg.scrape_configs (see ApplyJobs). Never fails: file_sd
  // problems are logged by the discoverers.
  void ApplyConfig(const config::Config& cfg);
  // Replaces the jobs. A FileDiscoverer whose job and FileSDConfig are unchanged keeps running
  // (with its groups); other providers of changed or removed jobs are stopped and new ones
  // started. Jobs with the same name: the first wins.
  void ApplyJobs(const std::vector<JobSpec>& jobs);

  // The groups last sent for `job` (empty when unknown or not yet sent).
  std::vector<TargetGroup> Groups(const std::string& job) const;
  // File discovery self-metrics summed over all discoverers, past ones included.
  file::FileSDStats FileStats() const;
  // Adds FileStats() to `set` (lookout_sd_file_*).
  void CollectMetrics(common::metrics::MetricSet& set) const { FileStats().AddTo(set); }

 private:
  struct Provider {
    std::unique_ptr<file::FileDiscoverer> file;  // null for static groups
    std::vector<TargetGroup> groups;             // non-empty groups only
    bool reported = false;
  };
  struct Job {
    std::vector<std::unique_ptr<Provider>> providers;
    std::unique_ptr<common::event::Timer> timer;
    bool armed = false;
    bool sent = false;
    int64_t last_sync_ms = 0;
    std::vector<TargetGroup> last;
  };

  void OnGroups(const std::string& job, Provider* p, std::vector<TargetGroup> groups);
  void MarkDirty(const std::string& name, Job& job);
  void Flush(const std::string& name);
  void FlushRemoved();
  void Retire(std::unique_ptr<Provider> p);

  common::event::Loop& loop_;
  Options opts_;
  common::log::Logger log_;
  SyncFunc sync_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  std::vector<std::string> removed_;  // jobs to sync with no groups
  common::event::Timer removed_timer_;
  file::FileSDStats retired_stats_;  // counters of stopped discoverers
};

}  // namespace collector::discovery
