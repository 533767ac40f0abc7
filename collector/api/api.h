#pragma once
// Prometheus-compatible HTTP endpoints of lookout-collector over the storage interfaces
// (shared/specs/prometheus-http-api.md, shared/specs/remote-write.md):
//   POST /api/v1/write                 remote_write receiver (snappy + protobuf), 204 / 400 / 413 / 503
//   GET  /federate?match[]=            latest sample of each matching series, text format
//   GET|POST /api/v1/series            match[], start, end
//   GET|POST /api/v1/labels            match[], start, end
//   GET  /api/v1/label/NAME/values     match[], start, end
//   GET  /api/v1/targets               state=active|dropped|any (active and dropped targets)
// CPU work (decoding, appending, selecting) runs on the loop's work pool; handlers and their
// responses stay on the loop thread. Thread affinity: Register() on the loop thread; AddMetrics()
// is thread-safe.

#include <atomic>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collector/scrape/scrape.h"
#include "collector/storage/storage.h"
#include "common/event/loop.h"
#include "common/http/server.h"
#include "common/log/log.h"
#include "common/metrics/metric_set.h"

namespace collector::api {

// Decoded form or query-string parameters (application/x-www-form-urlencoded).
class Params {
 public:
  static Params Parse(std::string_view encoded);
  void Merge(const Params& o);
  // First value or "" when absent.
  std::string Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::vector<std::string> GetAll(std::string_view name) const;

 private:
  std::multimap<std::string, std::string, std::less<>> kv_;
};

// Parses a Prometheus API timestamp: Unix seconds with optional fraction, or RFC 3339.
common::Result<int64_t> ParseTimeMs(std::string_view s);

class Api {
 public:
  struct Options {
    size_t max_decoded_write_bytes = 64 << 20;
    int64_t lookback_ms = 5 * 60 * 1000;
    model::Labels external_labels;
  };
  Api(common::event::Loop& loop, storage::Appendable* app, storage::Queryable* q, Options opts,
      common::log::Logger log);
  void Register(common::http::Server& server);
  // Source of /api/v1/targets (loop thread only; may be null).
  void SetScrapeManager(const scrape::Manager* m) { scrape_ = m; }
  void AddMetrics(common::metrics::MetricSet& out) const;

 private:
  void HandleWrite(common::http::Request& req, common::http::Respond respond);
  void HandleFederate(common::http::Request& req, common::http::Respond respond);
  void HandleSeries(common::http::Request& req, common::http::Respond respond);
  void HandleLabels(common::http::Request& req, common::http::Respond respond,
                    std::string label_name);

  common::event::Loop& loop_;
  storage::Appendable* app_;
  storage::Queryable* q_;
  const scrape::Manager* scrape_ = nullptr;
  Options opts_;
  common::log::Logger log_;
  std::atomic<uint64_t> write_ok_{0}, write_bad_{0}, write_too_large_{0}, write_failed_{0}, samples_in_{0},
      federate_requests_{0};
};

}  // namespace collector::api
