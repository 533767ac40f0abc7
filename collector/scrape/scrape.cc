#include "collector/scrape/scrape.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "collector/scrape/cache.h"
#include "common/event/timer.h"
#include "common/tls/base64.h"

namespace collector::scrape {

using model::Labels;

namespace {

// Prometheus 3's text-only scrape protocol: we parse the 0.0.4 text format (OpenMetrics is not
// negotiated; see docs/collector.md).
constexpr char kAccept[] = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t Fnv(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string ReadSecret(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string Fingerprint(const config::ScrapeConfig& c) {
  std::ostringstream o;
  o << c.job_name << '\x1f' << c.scheme << '\x1f' << c.metrics_path << '\x1f' << c.honor_labels
    << c.honor_timestamps << '\x1f' << c.scrape_interval_ms << '\x1f' << c.scrape_timeout_ms << '\x1f'
    << c.sample_limit << '\x1f' << c.label_limit << '\x1f' << c.body_size_limit << '\x1f';
  for (const auto& [k, vs] : c.params) {
    o << k << '=';
    for (const auto& v : vs) o << v << ',';
  }
  for (const auto* rcs : {&c.relabel_configs, &c.metric_relabel_configs}) {
    o << '\x1e';
    for (const auto& r : *rcs) {
      for (const auto& s : r.source_labels) o << s << ',';
      o << '\x1f' << r.separator << '\x1f' << r.target_label << '\x1f' << r.regex << '\x1f'
        << r.modulus << '\x1f' << r.replacement << '\x1f' << static_cast<int>(r.action) << '\x1d';
    }
  }
  o << '\x1e' << c.has_basic_auth << c.basic_auth.username << c.basic_auth.password
    << c.basic_auth.password_file << c.has_authorization << c.authorization.type
    << c.authorization.credentials << c.authorization.credentials_file << c.tls_config.ca_file
    << c.tls_config.cert_file << c.tls_config.key_file << c.tls_config.server_name
    << c.tls_config.insecure_skip_verify;
  return o.str();
}

class ScrapeLoop : public std::enable_shared_from_this<ScrapeLoop> {
 public:
  ScrapeLoop(Manager* m, std::string pool, std::shared_ptr<const config::ScrapeConfig> cfg,
             TargetLabels tl, ScrapeSpec spec, std::shared_ptr<const common::tls::TlsClientConfig> tls,
             std::string tls_error)
      : m_(m), cfg_(std::move(cfg)), spec_(std::move(spec)), tls_(std::move(tls)),
        tls_error_(std::move(tls_error)), timer_(m->loop_),
        cache_(std::make_shared<ScrapeCache>(spec_.series_labels)) {
    status_.discovered = tl.discovered;
    status_.labels = spec_.series_labels;
    status_.scrape_pool = std::move(pool);
    status_.scrape_url = spec_.url;
    status_.interval_ms = spec_.interval_ms;
    status_.timeout_ms = spec_.timeout_ms;
    if (cfg_->has_basic_auth) {
      std::string pw = cfg_->basic_auth.password_file.empty() ? cfg_->basic_auth.password
                                                             : ReadSecret(cfg_->basic_auth.password_file);
      auth_ = "Basic " + common::tls::Base64Encode(cfg_->basic_auth.username + ":" + pw);
    } else if (cfg_->has_authorization) {
      std::string cred = cfg_->authorization.credentials_file.empty()
                             ? cfg_->authorization.credentials
                             : ReadSecret(cfg_->authorization.credentials_file);
      auth_ = cfg_->authorization.type + " " + cred;
    }
  }

  void Start() {
    // Offset in the interval from the target's identity, as Prometheus spreads its targets.
    uint64_t offset = Fnv(spec_.url + status_.labels.ToString()) % static_cast<uint64_t>(spec_.interval_ms);
    uint64_t now = static_cast<uint64_t>(NowMs());
    uint64_t next = (offset + static_cast<uint64_t>(spec_.interval_ms) -
                     now % static_cast<uint64_t>(spec_.interval_ms)) % static_cast<uint64_t>(spec_.interval_ms);
    std::weak_ptr<ScrapeLoop> weak = weak_from_this();
    timer_.Start(next, static_cast<uint64_t>(spec_.interval_ms), [weak] {
      if (auto self = weak.lock()) self->Tick();
    });
  }

  // Stops the timer and writes staleness markers for the target's series.
  void Stop() {
    timer_.Stop();
    stopped_ = true;
    auto cache = cache_;
    storage::Appendable* app = m_->app_;
    int64_t t = NowMs();
    m_->loop_.QueueWork([cache, app, t] { cache->WriteStale(app, t); }, nullptr);
  }

  const TargetStatus& status() const { return status_; }
  // The target's labels before relabeling may change while its final labels stay (e.g. it moved
  // to another file_sd file); /api/v1/targets shows the latest, as Prometheus does.
  void SetDiscovered(Labels discovered) { status_.discovered = std::move(discovered); }

 private:
  void Tick() {
    if (stopped_) return;
    if (in_flight_) {
      m_->skipped_++;
      return;
    }
    in_flight_ = true;
    int64_t start = NowMs();
    auto t0 = std::chrono::steady_clock::now();
    common::http::ClientRequest req;
    req.host = spec_.host;
    req.port = spec_.port;
    req.target = spec_.target;
    req.timeout_ms = static_cast<uint64_t>(spec_.timeout_ms);
    req.max_body_bytes = cfg_->body_size_limit;
    if (spec_.scheme == "https") {
      if (!tls_) {
        OnResponse(common::Status::InvalidArgument("tls_config: " + tls_error_), start, t0);
        return;
      }
      req.tls = tls_;
    }
    req.headers = {{"Accept", kAccept},
                   {"User-Agent", "Lookout/0.1"},
                   {"X-Prometheus-Scrape-Timeout-Seconds",
                    std::to_string(static_cast<double>(spec_.timeout_ms) / 1000.0)}};
    if (!auth_.empty()) req.headers.emplace_back("Authorization", auth_);
    std::weak_ptr<ScrapeLoop> weak = weak_from_this();
    m_->client_.Do(std::move(req), [weak, start, t0](common::Result<common::http::ClientResponse> r) {
      auto self = weak.lock();
      if (!self) return;
      self->OnResponse(std::move(r), start, t0);
    });
  }

  void OnResponse(common::Result<common::http::ClientResponse> r, int64_t start,
                  std::chrono::steady_clock::time_point t0) {
    auto body = std::make_shared<std::string>();
    auto outcome = std::make_shared<ScrapeOutcome>();
    if (!r.ok()) {
      outcome->error = r.status().IsResourceExhausted()
                           ? "body size limit exceeded: " + std::string(r.status().message())
                           : std::string(r.status().message());
    } else if (r->status != 200) {
      outcome->error = "server returned HTTP status " + std::to_string(r->status);
    } else {
      *body = std::move(r->body);
      outcome->ok = true;
    }
    auto cache = cache_;
    auto cfg = cfg_;
    storage::Appendable* app = m_->app_;
    std::weak_ptr<ScrapeLoop> weak = weak_from_this();
    m_->loop_.QueueWork(
        [cache, cfg, app, body, outcome, start, t0] {
          cache->Process(*cfg, app, *body, start, t0, *outcome);
        },
        [weak, outcome, start, t0] {
          auto self = weak.lock();
          if (!self) return;
          self->in_flight_ = false;
          self->m_->scrapes_++;
          if (!outcome->ok) self->m_->failed_++;
          if (outcome->sample_limit_hit) self->m_->exceeded_sample_limit_++;
          self->status_.health = outcome->ok ? "up" : "down";
          self->status_.last_error = outcome->error;
          self->status_.last_scrape_ms = start;
          self->status_.last_duration_s =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (!outcome->ok) {
            self->m_->log_.Debug("scrape failed", {{"target", self->spec_.url}, {"err", outcome->error}});
          }
        });
  }

  Manager* m_;
  std::shared_ptr<const config::ScrapeConfig> cfg_;
  ScrapeSpec spec_;
  std::shared_ptr<const common::tls::TlsClientConfig> tls_;
  std::string tls_error_;
  common::event::Timer timer_;
  std::shared_ptr<ScrapeCache> cache_;
  TargetStatus status_;
  std::string auth_;
  bool in_flight_ = false;
  bool stopped_ = false;
};

Manager::Manager(common::event::Loop& loop, storage::Appendable* app, common::log::Logger log)
    : loop_(loop), app_(app), log_(std::move(log)), client_(loop) {}

Manager::~Manager() { Stop(); }

void Manager::Stop() {
  for (auto& [job, pool] : pools_) {
    for (auto& [key, l] : pool.loops) l->Stop();
  }
  pools_.clear();
}

void Manager::ApplyConfig(const config::Config& cfg) {
  std::map<std::string, std::shared_ptr<const config::ScrapeConfig>> next;
  for (const auto& sc : cfg.scrape_configs) next[sc.job_name] = std::make_shared<config::ScrapeConfig>(sc);
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (!next.count(it->first)) {
      for (auto& [key, l] : it->second.loops) l->Stop();
      it = pools_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [job, c] : next) {
    Pool& p = pools_[job];
    // Loops restart only when a setting that shapes targets or scrapes changed.
    bool changed = p.cfg == nullptr || Fingerprint(*p.cfg) != Fingerprint(*c);
    p.cfg = c;
    if (changed) {
      // One TLS config per job, shared by its targets so keep-alive connections are reused.
      common::tls::TlsClientOptions o{c->tls_config.ca_file, c->tls_config.cert_file,
                                      c->tls_config.key_file, c->tls_config.server_name,
                                      c->tls_config.insecure_skip_verify};
      auto t = common::tls::TlsClientConfig::Create(o);
      p.tls = t.ok() ? *t : nullptr;
      p.tls_error = t.ok() ? "" : std::string(t.status().message());
      if (!t.ok() && c->scheme == "https") {
        log_.Error("tls_config unusable", {{"job", job}, {"err", p.tls_error}});
      }
    }
    if (changed && !p.last_groups.empty()) {
      auto groups = p.last_groups;
      for (auto& [key, l] : p.loops) l->Stop();
      p.loops.clear();
      Sync(job, groups);
    }
  }
}

void Manager::Sync(const std::string& job, const std::vector<discovery::TargetGroup>& groups) {
  auto pit = pools_.find(job);
  if (pit == pools_.end() || !pit->second.cfg) return;
  Pool& pool = pit->second;
  pool.last_groups = groups;
  pool.dropped.clear();
  std::map<std::string, std::shared_ptr<ScrapeLoop>> next;
  for (const auto& g : groups) {
    for (const auto& t : g.targets) {
      TargetLabels tl = PopulateLabels(t, g.labels, *pool.cfg);
      if (tl.dropped || !tl.error.empty()) {
        if (!tl.error.empty()) {
          log_.Warn("invalid target", {{"job", job}, {"target", t.ToString()}, {"err", tl.error}});
        }
        pool.dropped.push_back({tl.discovered, job});
        continue;
      }
      std::string key = tl.labels.ToString();
      if (next.count(key)) continue;  // the same target twice
      auto existing = pool.loops.find(key);
      if (existing != pool.loops.end()) {
        existing->second->SetDiscovered(std::move(tl.discovered));
        next[key] = existing->second;
        pool.loops.erase(existing);
        continue;
      }
      auto spec = MakeSpec(tl.labels, *pool.cfg);
      if (!spec.ok()) {
        log_.Warn("invalid target", {{"job", job}, {"err", spec.status().ToString()}});
        pool.dropped.push_back({tl.discovered, job});
        continue;
      }
      auto l = std::make_shared<ScrapeLoop>(this, job, pool.cfg, std::move(tl), std::move(spec).value(),
                                            pool.tls, pool.tls_error);
      l->Start();
      next[key] = std::move(l);
    }
  }
  for (auto& [key, l] : pool.loops) l->Stop();  // targets that disappeared
  pool.loops = std::move(next);
}

std::vector<TargetStatus> Manager::ActiveTargets() const {
  std::vector<TargetStatus> out;
  for (const auto& [job, pool] : pools_) {
    for (const auto& [key, l] : pool.loops) out.push_back(l->status());
  }
  return out;
}

std::vector<DroppedTarget> Manager::DroppedTargets() const {
  std::vector<DroppedTarget> out;
  for (const auto& [job, pool] : pools_) out.insert(out.end(), pool.dropped.begin(), pool.dropped.end());
  return out;
}

void Manager::AddMetrics(common::metrics::MetricSet& out) const {
  out.Counter("lookout_scrapes_total", "Scrapes completed.", static_cast<double>(scrapes_));
  out.Counter("lookout_scrapes_failed_total", "Scrapes that failed (up 0).", static_cast<double>(failed_));
  out.Counter("lookout_scrapes_skipped_total",
              "Scrape ticks skipped because the previous scrape of the target was still running.",
              static_cast<double>(skipped_));
  out.Counter("lookout_target_scrapes_exceeded_sample_limit_total",
              "Scrapes that hit sample_limit.", static_cast<double>(exceeded_sample_limit_));
  size_t active = 0;
  for (const auto& [job, pool] : pools_) active += pool.loops.size();
  out.Gauge("lookout_scrape_targets", "Active scrape targets.", static_cast<double>(active));
}

}  // namespace collector::scrape
