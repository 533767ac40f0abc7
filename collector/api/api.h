#pragma once
// Prometheus-compatible HTTP endpoints of lookout-collector over the storage interfaces
// (shared/specs/prometheus-http-api.md, shared/specs/remote-write.md):
//   POST /api/v1/write                 remote_write receiver (snappy + protobuf), 204 / 400 / 413 / 503
//   GET  /federate?match[]=            latest sample of each matching series, text format
//   GET|POST /api/v1/series            match[], start, end
//   GET|POST /api/v1/labels            match[], start, end
//   GET  /api/v1/label/NAME/values     match[], start, end
//   GET  /api/v1/targets               state=active|dropped|any (active and dropped targets)
//   GET|POST /api/v1/query             PromQL instant query: query, time, timeout, limit,
//                                      lookback_delta (needs SetEngine; else 503 unavailable)
//   GET|POST /api/v1/query_range       query, start, end, step (<= 11,000 points), timeout, limit
//   GET|POST /api/v1/format_query      query -> canonical text
//   GET|POST /api/v1/parse_query       query -> AST as JSON (Prometheus' translateAST shape)
//   GET|POST /api/v1/query_exemplars   always [] (no exemplar storage)
//   GET  /api/v1/metadata              {} (the scrape side keeps no metadata yet)
//   GET  /api/v1/status/buildinfo      Prometheus-compatible version (Options::prometheus_version)
//   GET  /api/v1/status/flags          Options::flags
// Errors use Prometheus' envelope {"status":"error","errorType":..,"error":..}: bad_data 400,
// execution 422, timeout 503, canceled 499, unavailable 503. PromQL queries run on the loop's
// work pool, never on the loop thread.
// CPU work (decoding, appending, selecting) runs on the loop's work pool; handlers and their
// responses stay on the loop thread. Thread affinity: Register() on the loop thread; AddMetrics()
// is thread-safe.

#include <atomic>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collector/promql/engine/engine.h"
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
// Parses an API duration (step, timeout, lookback_delta): float seconds ("15", "0.5") or a
// Prometheus duration ("1m30s"), to milliseconds (truncated, as Go's time.Duration).
common::Result<int64_t> ParseDurationParamMs(std::string_view s);

// JSON encoding of query results, byte-for-byte as Prometheus (util/jsonutil):
// a sample value as a JSON string: "NaN", "+Inf", "-Inf", else Go's strconv.FormatFloat(v, 'f', -1)
// unless |v| < 1e-6 or |v| >= 1e21 (then 'e': "1e-07", "1e+21").
std::string FormatSampleValue(double v);
void AppendSampleValue(std::string& out, double v);
// A timestamp in ms as a JSON number of seconds: "1710497700", "1710497700.005", "-1.500".
std::string FormatTimestamp(int64_t ms);
void AppendTimestamp(std::string& out, int64_t ms);
// {"resultType":"...","result":...} for a query result. `limit` > 0 truncates vectors and
// matrices to that many series (sets *truncated).
std::string RenderQueryData(const promql::Value& v, size_t limit, bool* truncated);

class Api {
 public:
  struct Options {
    size_t max_decoded_write_bytes = 64 << 20;
    int64_t lookback_ms = 5 * 60 * 1000;
    model::Labels external_labels;
    // /api/v1/status/buildinfo "version": a Prometheus version, so that Grafana enables the
    // features it gates on it. `revision` is Lookout's own.
    std::string prometheus_version = "2.53.0";
    std::string revision;
    std::string build_date;
    // /api/v1/status/flags: flag name (without dashes) -> value.
    std::map<std::string, std::string> flags;
  };
  Api(common::event::Loop& loop, storage::Appendable* app, storage::Queryable* q, Options opts,
      common::log::Logger log);
  void Register(common::http::Server& server);
  // Source of /api/v1/targets (loop thread only; may be null).
  void SetScrapeManager(const scrape::Manager* m) { scrape_ = m; }
  // The engine behind /api/v1/query and query_range (thread-safe; may be null: those answer
  // 503 unavailable). Not owned; must outlive the Api. Loop thread only.
  void SetEngine(promql::Engine* e) { engine_ = e; }
  void AddMetrics(common::metrics::MetricSet& out) const;

 private:
  void HandleWrite(common::http::Request& req, common::http::Respond respond);
  void HandleFederate(common::http::Request& req, common::http::Respond respond);
  void HandleSeries(common::http::Request& req, common::http::Respond respond);
  void HandleLabels(common::http::Request& req, common::http::Respond respond,
                    std::string label_name);
  void HandleQuery(common::http::Request& req, common::http::Respond respond, bool range);
  void HandleFormatOrParse(common::http::Request& req, common::http::Respond respond, bool parse);

  common::event::Loop& loop_;
  storage::Appendable* app_;
  storage::Queryable* q_;
  const scrape::Manager* scrape_ = nullptr;
  promql::Engine* engine_ = nullptr;
  Options opts_;
  common::log::Logger log_;
  std::atomic<uint64_t> write_ok_{0}, write_bad_{0}, write_too_large_{0}, write_failed_{0}, samples_in_{0},
      federate_requests_{0}, queries_ok_{0}, queries_failed_{0};
};

}  // namespace collector::api
