#pragma once
// The per-target half of a scrape (Prometheus' scrapeCache and scrapeLoop.append): parses a
// body, maps each series to its final labels and storage ref, applies metric_relabel_configs,
// appends, writes staleness markers and the automatic series (up, scrape_*), and commits.
//
// Known series skip label parsing, relabeling and the series lookup: the cache is keyed by the
// series text as written (`name{labels}`). A target exposes its series in the same order every
// scrape, so the k-th series of a scrape is first compared with the k-th series of the last
// successful scrape (one memcmp, in the parser, which then skips parsing the labels again); only
// on a mismatch is the text hashed and looked up.
// Staleness markers need a walk of the cache only when a series of the last successful scrape
// was not seen again (the cache counts them).
//
// Errors: a parse error, label_limit or sample_limit fails the scrape (ScrapeOutcome::ok false,
// nothing of the body stored, up 0); soft append errors (out of order, duplicate) are skipped.
// Thread affinity: thread-safe (calls are serialized by a mutex; the scrape loop runs one scrape
// per target at a time, and WriteStale may race with the last one).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "collector/config/config.h"
#include "collector/model/labels.h"
#include "collector/storage/storage.h"

namespace collector::scrape {

struct ScrapeOutcome {
  bool ok = false;  // in: the body arrived (HTTP 200); out: the scrape succeeded
  std::string error;
  uint64_t scraped = 0, post_relabel = 0, added = 0;
  bool sample_limit_hit = false;
};

class ScrapeCache {
 public:
  // `target` holds the target's series labels (instance, job, ...), added to every series.
  explicit ScrapeCache(model::Labels target);
  ScrapeCache(const ScrapeCache&) = delete;
  ScrapeCache& operator=(const ScrapeCache&) = delete;

  // One scrape at wall time `ts_ms` (t0: when it started, for scrape_duration_seconds). With
  // out.ok, `body` is parsed and appended; otherwise (or when the body fails) the scrape counts
  // as failed: every series of the last successful scrape gets a staleness marker. Then the
  // automatic series are appended and the batch committed. Results are in `out`.
  void Process(const config::ScrapeConfig& cfg, storage::Appendable* appendable,
               std::string_view body, int64_t ts_ms, std::chrono::steady_clock::time_point t0,
               ScrapeOutcome& out);

  // The target went away: staleness markers at `t_ms` for every series of the last successful
  // scrape and for the automatic series. A Process() after this stores nothing (as Prometheus
  // cancels a stopped loop's scrape).
  void WriteStale(storage::Appendable* appendable, int64_t t_ms);

  size_t SizeForTesting() const { return series_.size(); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Entry {
    model::Labels labels;
    storage::SeriesRef ref = 0;
    uint64_t last_seen = 0;  // iteration; also set for dropped series (kept out of the sweep)
    bool dropped = false;    // by metric_relabel_configs
    bool explicit_ts = false;
  };
  // Nodes of an unordered_map keep their address until erased, so the order vectors may point
  // at them.
  using Map = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;
  using Node = Map::value_type;

  Node* Create(std::string_view text, std::string_view name,
               const std::vector<std::pair<std::string_view, std::string_view>>& labels,
               const config::ScrapeConfig& cfg);
  void MarkSeen(Entry& e, uint64_t iter);
  // Staleness markers at `t` for the series seen in the last successful scrape and not in
  // iteration `now` (0: none seen).
  void WriteStaleInto(storage::Appender& app, int64_t t, uint64_t now);
  const model::Labels& AutoLabels(int i);

  std::mutex mu_;
  bool stopped_ = false;  // WriteStale() ran
  model::Labels target_;
  Map series_;
  std::vector<Node*> order_;       // the series of the last successful scrape, as exposed
  std::vector<Node*> next_order_;  // those of the scrape running
  uint64_t iteration_ = 0;
  uint64_t last_ok_iteration_ = 0;  // iteration of the last successful scrape (0: none)
  uint64_t seen_now_ = 0;           // entries marked seen in the running scrape
  // Entries whose last_seen is last_ok_iteration_ (when that is not 0): the candidates for
  // staleness markers. Zero after a scrape means no series vanished.
  uint64_t prev_remaining_ = 0;
  storage::SeriesRef auto_refs_[5] = {0, 0, 0, 0, 0};
  model::Labels auto_labels_[5];
};

}  // namespace collector::scrape
