// lookout-collector: the central server. Flags, wiring, start and stop order, signals.
// Serves the Prometheus-compatible endpoints over its own time-series store.

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "collector/api/api.h"
#include "collector/config/config.h"
#include "collector/discovery/manager.h"
#include "collector/scrape/scrape.h"
#include "collector/tsdb/db.h"
#include "collector/version.h"
#include "common/base/units.h"
#include "common/event/loop.h"
#include "common/http/server.h"
#include "common/log/log.h"
#include "common/metrics/metric_set.h"
#include "common/metrics/process.h"

namespace {

constexpr char kIndexHtml[] = R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Lookout Collector</title></head>
<body><h1>Lookout Collector</h1>
<ul><li><a href="/metrics">Self-metrics</a></li>
<li><a href="/federate?match[]=%7B__name__%3D~%22.%2B%22%7D">Federation (all series)</a></li>
<li><a href="/api/v1/labels">Label names</a></li></ul>
<p>Version )" LOOKOUT_VERSION R"(</p></body></html>
)";

void TsdbMetrics(const collector::tsdb::DB& db, uint64_t wal_bytes, common::metrics::MetricSet& out) {
  const auto& s = db.stats();
  auto d = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load()); };
  out.Gauge("lookout_tsdb_head_series", "Series in the head.", d(s.head_series));
  out.Counter("lookout_tsdb_head_samples_appended_total", "Samples appended to the head.",
              d(s.samples_appended));
  out.Counter("lookout_tsdb_out_of_order_samples_total",
              "Samples rejected because they were older than the newest sample of their series.",
              d(s.out_of_order));
  out.Counter("lookout_tsdb_duplicate_samples_total",
              "Samples rejected for repeating a timestamp with a different value.", d(s.duplicates));
  out.Counter("lookout_tsdb_head_chunks_created_total", "Head chunks closed after 120 samples.",
              d(s.head_chunks));
  out.Counter("lookout_tsdb_chunks_persisted_total", "Chunks written to SQLite.", d(s.chunks_persisted));
  out.Counter("lookout_tsdb_persist_failures_total", "Failed persist transactions (retried).",
              d(s.persist_failures));
  out.Counter("lookout_tsdb_checkpoint_creations_total", "WAL checkpoints written.", d(s.checkpoints));
  out.Gauge("lookout_tsdb_wal_records_replayed", "WAL records replayed at start-up.",
            d(s.wal_records_replayed));
  out.Counter("lookout_tsdb_wal_write_failures_total", "WAL writes that failed (disk full...).",
              d(s.wal_write_failures));
  out.Counter("lookout_tsdb_wal_fsyncs_total", "fsync calls on WAL segments.",
              static_cast<double>(db.WalFsyncs()));
  out.Gauge("lookout_tsdb_wal_storage_size_bytes", "Bytes of WAL segments and checkpoints.",
            static_cast<double>(wal_bytes));
  out.Gauge("lookout_tsdb_storage_blocks_bytes", "Bytes of the SQLite store.",
            static_cast<double>(db.DbBytes()));
  out.Counter("lookout_tsdb_retention_deleted_chunks_total", "Chunks deleted by retention.",
              d(s.retention_deleted_chunks));
  out.Counter("lookout_tsdb_block_cache_hits_total", "Query reads of a block found in the block cache.",
              static_cast<double>(db.BlockCacheHits()));
  out.Counter("lookout_tsdb_block_cache_misses_total", "Query reads of a block that inflated it from SQLite.",
              static_cast<double>(db.BlockCacheMisses()));
  out.Gauge("lookout_tsdb_block_cache_bytes", "Memory held by the block cache.",
            static_cast<double>(db.BlockCacheBytes()));
}

}  // namespace

int main(int argc, char** argv) try {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"lookout-collector: the central Lookout server (Prometheus-compatible)."};
  app.get_formatter()->column_width(50);
  std::string listen = ":9090", path = "data/", retention_time = "15d", retention_size = "0";
  std::string wal_sync = "segment", log_level = "info", max_write = "64MB", persist_every = "1m";
  std::string segment_size = "128MB", checkpoint_bytes = "256MB", block_cache = "512MB";
  std::string config_file = "lookout.yml";
  auto* config_opt = app.add_option("--config.file", config_file,
                                    "lookout-collector configuration file (prometheus.yml shape).")
                         ->capture_default_str();
  app.add_option("--web.listen-address", listen, "Address to listen on for the UI, API and telemetry.")
      ->capture_default_str();
  app.add_option("--storage.tsdb.path", path, "Base path for metrics storage.")->capture_default_str();
  app.add_option("--storage.tsdb.retention.time", retention_time, "How long to retain samples.")
      ->capture_default_str();
  app.add_option("--storage.tsdb.retention.size", retention_size,
                 "Maximum bytes of storage (units B, KB, MB, GB, ...; 0 disables).")
      ->capture_default_str();
  app.add_option("--storage.tsdb.wal-sync", wal_sync,
                 "When to fsync the WAL: 'segment' (on segment close and checkpoint, as Prometheus) "
                 "or 'commit' (every committed batch).")
      ->capture_default_str();
  app.add_option("--storage.tsdb.persist-interval", persist_every,
                 "How often closed chunks are written to SQLite.")
      ->capture_default_str();
  app.add_option("--storage.tsdb.wal-segment-size", segment_size, "Size of a WAL segment file.")
      ->capture_default_str();
  app.add_option("--storage.tsdb.checkpoint-size", checkpoint_bytes,
                 "WAL size past which the head is checkpointed and older segments deleted.")
      ->capture_default_str();
  app.add_option("--storage.tsdb.block-cache-size", block_cache,
                 "Memory for inflated blocks kept for queries (0 disables).")
      ->capture_default_str();
  app.add_option("--web.remote-write.max-bytes", max_write,
                 "Largest remote-write body accepted, after decompression.")
      ->capture_default_str();
  app.add_option("--log.level", log_level, "One of: [debug, info, warn, error]")->capture_default_str();
  std::string query_timeout = "2m", query_lookback = "5m";
  int64_t query_max_samples = 50'000'000;
  app.add_option("--query.timeout", query_timeout, "Maximum time a query may take before being aborted.")
      ->capture_default_str();
  app.add_option("--query.max-samples", query_max_samples,
                 "Maximum number of samples a single query can load into memory.")
      ->capture_default_str();
  app.add_option("--query.lookback-delta", query_lookback,
                 "The maximum lookback duration for retrieving metrics during expression evaluations.")
      ->capture_default_str();
  app.set_version_flag("--version", std::string("lookout-collector ") + LOOKOUT_VERSION);
  CLI11_PARSE(app, argc, argv);

  common::log::Logger log("collector");
  if (!common::log::SetLevel(log_level)) {
    std::cerr << "unknown --log.level " << log_level << "\n";
    return 2;
  }
  auto rt = common::ParseDurationMs(retention_time);
  auto rs = common::ParseBytes(retention_size);
  auto pe = common::ParseDurationMs(persist_every);
  auto mw = common::ParseBytes(max_write);
  auto ss = common::ParseBytes(segment_size);
  auto cb = common::ParseBytes(checkpoint_bytes);
  auto bc = common::ParseBytes(block_cache);
  auto qt = common::ParseDurationMs(query_timeout);
  auto ql = common::ParseDurationMs(query_lookback);
  for (const common::Status* s : {&rt.status(), &rs.status(), &pe.status(), &mw.status(),
                                  &ss.status(), &cb.status(), &bc.status(), &qt.status(), &ql.status()}) {
    if (!s->ok()) {
      std::cerr << "lookout-collector: " << s->message() << "\n";
      return 2;
    }
  }
  if (wal_sync != "segment" && wal_sync != "commit") {
    std::cerr << "--storage.tsdb.wal-sync must be 'segment' or 'commit'\n";
    return 2;
  }

  // The configuration: an explicit --config.file must load; the default may be absent.
  std::shared_ptr<collector::config::Config> cfg;
  {
    auto loaded = collector::config::LoadFile(config_file);
    if (!loaded.ok()) {
      if (config_opt->count() > 0 || !loaded.status().IsNotFound()) {
        log.Error("cannot load configuration", {{"file", config_file}, {"err", loaded.status().ToString()}});
        return 1;
      }
      log.Warn("no configuration file; running without scrape targets", {{"file", config_file}});
      cfg = std::make_shared<collector::config::Config>();
    } else {
      cfg = std::make_shared<collector::config::Config>(std::move(loaded).value());
    }
  }

  collector::tsdb::Options topts;
  topts.dir = path;
  topts.retention_ms = *rt;
  topts.retention_bytes = *rs;
  topts.persist_interval_ms = std::max<int64_t>(*pe, 100);
  topts.wal_segment_bytes = std::max<uint64_t>(*ss, 4096);
  topts.checkpoint_wal_bytes = *cb;
  topts.block_cache_bytes = *bc;
  topts.sync = wal_sync == "commit" ? collector::tsdb::wal::SyncPolicy::kEveryCommit
                                    : collector::tsdb::wal::SyncPolicy::kSegment;
  auto db = collector::tsdb::DB::Open(topts, log.Child("tsdb"));
  if (!db.ok()) {
    log.Error("cannot open storage", {{"path", path}, {"err", db.status().ToString()}});
    return 1;
  }

  {  // everything on the loop is destroyed before the store
  common::event::Loop loop;
  collector::scrape::Manager scraper(loop, db->get(), log.Child("scrape"));
  // Discovery (static_configs, file_sd_configs) feeds the scrape manager job by job.
  collector::discovery::Manager discovery(
      loop, {}, log.Child("discovery"),
      [&scraper](const std::string& job, std::vector<collector::discovery::TargetGroup> groups) {
        scraper.Sync(job, groups);
      });
  auto apply = [&](const collector::config::Config& c) {
    scraper.ApplyConfig(c);
    discovery.ApplyConfig(c);
  };
  apply(*cfg);
  common::http::Server::Options hopts;
  hopts.max_body_bytes = *mw;
  common::http::Server server(loop, hopts, log.Child("http"));
  collector::api::Api::Options aopts;
  aopts.max_decoded_write_bytes = *mw;
  aopts.lookback_ms = *ql;
  aopts.revision = LOOKOUT_REVISION;
  for (const CLI::Option* o : app.get_options()) {  // /api/v1/status/flags
    if (o->get_lnames().empty() || o->get_lnames()[0] == "help" || o->get_lnames()[0] == "version") continue;
    std::string v;
    if (o->count() > 0) {
      for (const auto& r : o->results()) v += (v.empty() ? "" : ",") + r;
    } else {
      v = o->get_default_str();
    }
    aopts.flags[o->get_lnames()[0]] = v;
  }
  collector::api::Api api(loop, db->get(), db->get(), aopts, log.Child("api"));
  api.SetScrapeManager(&scraper);
#ifdef LOOKOUT_HAVE_PROMQL
  collector::promql::EngineOptions eopts;
  eopts.timeout_ms = *qt;
  eopts.lookback_delta_ms = *ql;
  eopts.max_samples = query_max_samples;
  collector::promql::Engine engine(eopts);
  api.SetEngine(&engine);
#endif
  api.Register(server);
  // Reload: all or nothing. A bad file leaves the running configuration in place.
  auto reload = [&]() -> common::Status {
    auto next = collector::config::LoadFile(config_file);
    if (!next.ok()) {
      log.Error("reload failed; keeping the running configuration",
                {{"file", config_file}, {"err", next.status().ToString()}});
      return next.status();
    }
    cfg = std::make_shared<collector::config::Config>(std::move(next).value());
    apply(*cfg);
    log.Info("configuration reloaded", {{"file", config_file},
                                        {"jobs", std::to_string(cfg->scrape_configs.size())}});
    return common::Status::Ok();
  };
  server.Handle("/-/reload", {"POST", "PUT"}, [&](common::http::Request&, common::http::Respond r) {
    common::Status s = reload();
    r(s.ok() ? common::http::Response::Text(200, "configuration reloaded")
             : common::http::Response::Text(500, "failed to reload config: " + std::string(s.message())));
  });
  loop.OnSignal(SIGHUP, [&] { (void)reload(); });
  server.Handle("/api/v1/status/config", {"GET"}, [&](common::http::Request&, common::http::Respond r) {
    common::http::Response resp;
    resp.content_type = "application/json";
    nlohmann::ordered_json j = {{"status", "success"}, {"data", {{"yaml", cfg->original}}}};
    resp.body = j.dump();
    r(std::move(resp));
  });
  server.Handle("/-/healthy", {"GET"}, [](common::http::Request&, common::http::Respond r) {
    r(common::http::Response::Text(200, "Lookout Collector is Healthy."));
  });
  server.Handle("/-/ready", {"GET"}, [](common::http::Request&, common::http::Respond r) {
    r(common::http::Response::Text(200, "Lookout Collector is Ready."));
  });
  server.Handle("/", {"GET"}, [](common::http::Request& req, common::http::Respond r) {
    if (req.path != "/") {
      r(common::http::Response::Text(404, "404 page not found"));
      return;
    }
    common::http::Response resp;
    resp.content_type = "text/html; charset=utf-8";
    resp.body = kIndexHtml;
    r(std::move(resp));
  });
  collector::tsdb::DB* dbp = db->get();
  server.Handle("/metrics", {"GET"}, [&, dbp](common::http::Request&, common::http::Respond respond) {
    auto body = std::make_shared<std::string>();
    auto scrape_set = std::make_shared<common::metrics::MetricSet>();
    scraper.AddMetrics(*scrape_set);  // loop-thread state, read here
    discovery.CollectMetrics(*scrape_set);
    loop.QueueWork(
        [&api, dbp, body, scrape_set] {
          common::metrics::MetricSet set;
          common::metrics::AddProcessMetrics(set);
          TsdbMetrics(*dbp, dbp->WalBytes(), set);
          api.AddMetrics(set);
          set.Gauge("lookout_collector_build_info",
                    "A metric with a constant '1' value labeled by version and build details.", 1,
                    {{"version", LOOKOUT_VERSION}, {"revision", LOOKOUT_REVISION}});
          common::metrics::Encoder enc;
          const common::metrics::MetricSet* sets[] = {&set, scrape_set.get()};
          enc.Encode(sets, *body);
        },
        [respond, body] {
          common::http::Response r;
          r.content_type = std::string(common::expfmt::kTextContentType);
          r.body = std::move(*body);
          respond(std::move(r));
        });
  });
  common::Status st = server.Listen(listen);
  if (!st.ok()) {
    log.Error("cannot listen", {{"address", listen}, {"err", st.ToString()}});
    return 1;
  }
  log.Info("listening", {{"address", listen}, {"port", std::to_string(server.port())}});
  auto stop = [&] {
    log.Info("shutting down");
    scraper.Stop();  // staleness markers for every target, written by the work pool
    server.Close();
    loop.Stop();
  };
  loop.OnSignal(SIGINT, stop);
  loop.OnSignal(SIGTERM, stop);
  loop.Run();
  }  // the loop drains its queued work here, while the store is still open
  db->reset();  // persists closed chunks; the WAL keeps the rest
  log.Info("stopped");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "lookout-collector: fatal: %s\n", e.what());
  return 1;
}
