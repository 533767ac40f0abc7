#pragma once
// file_sd: target groups read from JSON or YAML files (shared/specs/file-sd.md section 1;
// Prometheus discovery/file).
//
// A FileDiscoverer expands its patterns (a `*` only in the last path segment), reads every
// matching file and publishes one TargetGroup per list element, with source "<path>:<index>",
// targets {__address__=<target>} and the group's labels plus __meta_filepath=<path as matched>.
// It re-reads all files when a watched file or directory changes (the files and the directories
// of the patterns are watched with inotify) and every refresh_interval as a fallback.
// Per file and refresh: a good file replaces that file's groups; a file that cannot be read or
// parsed is logged (with file:line where known) and counted, and its last good groups stay in
// effect; a file that went away, or now has fewer groups, gets empty groups published for its
// previous sources.
//
// Threads: listing, reading and parsing run on the Loop's work pool; everything else, including
// the GroupsCallback, runs on the loop thread. All methods are loop-thread only.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collector/config/config.h"
#include "collector/discovery/target_group.h"
#include "common/base/status.h"
#include "common/event/fs_watch.h"
#include "common/event/loop.h"
#include "common/event/timer.h"
#include "common/log/log.h"
#include "common/metrics/metric_set.h"

namespace collector::discovery::file {

// Checks one `files` pattern: it must match ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$.
// Errors: InvalidArgument naming the pattern.
common::Status ValidatePattern(std::string_view pattern);

// Parses the content of one file_sd file; the format follows the extension of `path`
// (.json, or .yml/.yaml, case-insensitive). `path` also names the sources, __meta_filepath and
// the position in errors. Strict: unknown keys, a null list element, invalid label names and
// wrong types are InvalidArgument errors ("path:line:col: ..." for YAML; "path: line L, column C:
// ..." or "path: [i].key: ..." for JSON). An empty YAML file, `[]` and JSON `null` are zero
// groups; an empty JSON file is an error, as in Prometheus.
common::Result<std::vector<TargetGroup>> ParseGroups(std::string_view content,
                                                     const std::string& path);

// Self-metrics of file discovery. A Manager adds up the stats of all its discoverers.
struct FileSDStats {
  uint64_t scans = 0;
  uint64_t read_errors = 0;
  uint64_t watcher_errors = 0;
  double last_scan_duration_seconds = 0;
  int64_t last_scan_end_ms = 0;                 // steady clock; orders scans across discoverers
  std::map<std::string, double> mtime_seconds;  // files read successfully and still present

  // Adds `o` into this (counters summed, the later scan duration kept, mtimes merged).
  void Merge(const FileSDStats& o);
  // Adds lookout_sd_file_scans_total, lookout_sd_file_read_errors_total,
  // lookout_sd_file_watcher_errors_total, lookout_sd_file_scan_duration_seconds (gauge of the last
  // scan) and lookout_sd_file_mtime_seconds{filename} to `set`.
  void AddTo(common::metrics::MetricSet& set) const;
};

class FileDiscoverer {
 public:
  // `cb` receives, after every scan that changed something (and after the first scan), the full
  // current groups of all files followed by empty groups for sources that disappeared.
  FileDiscoverer(common::event::Loop& loop, config::FileSDConfig cfg, common::log::Logger log,
                 GroupsCallback cb);
  // Stops watching and refreshing; `cb` is not called afterwards, even for a scan in flight.
  ~FileDiscoverer();
  FileDiscoverer(const FileDiscoverer&) = delete;
  FileDiscoverer& operator=(const FileDiscoverer&) = delete;

  // Starts the first scan (asynchronously), the watches and the refresh timer. Invalid patterns
  // are logged and skipped.
  void Start();

  const config::FileSDConfig& config() const { return cfg_; }
  const FileSDStats& stats() const { return stats_; }
  // Adds this discoverer's self-metrics to `set` (see FileSDStats::AddTo).
  void CollectMetrics(common::metrics::MetricSet& set) const { stats_.AddTo(set); }

  // Call before Start(): rely on refresh_interval only (no inotify watches).
  void DisableWatchesForTesting() { watches_enabled_ = false; }

 private:
  struct ScanResult;
  struct Watch {
    std::unique_ptr<common::event::FsWatch> w;
    bool stale = false;  // the watched file was moved or deleted: recreate on the next scan
  };

  void Trigger();
  void OnEvent();
  void Apply(ScanResult r);
  void UpdateWatches(const std::vector<std::string>& files);

  common::event::Loop& loop_;
  config::FileSDConfig cfg_;
  std::vector<std::string> patterns_;  // the valid ones
  common::log::Logger log_;
  GroupsCallback cb_;
  common::event::Timer refresh_timer_;
  common::event::Timer debounce_timer_;
  bool watches_enabled_ = true;
  bool started_ = false;
  bool scanning_ = false;       // a scan is on the work pool
  bool rescan_ = false;         // a trigger arrived during the scan
  bool event_pending_ = false;  // debounce timer armed
  bool published_ = false;
  std::map<std::string, Watch> watches_;                    // by path
  std::set<std::string> failed_watches_;                    // logged once until they work
  std::map<std::string, std::vector<TargetGroup>> groups_;  // last good groups per file
  FileSDStats stats_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // scans in flight hold a weak_ptr
};

}  // namespace collector::discovery::file
