#include "collector/api/api.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "collector/model/selector.h"
#include "common/expfmt/encoder.h"
#include "common/proto/remote_write.h"

namespace collector::api {

using common::Result;
using common::Status;
using common::http::Request;
using common::http::Respond;
using common::http::Response;
using json = nlohmann::ordered_json;
using storage::Labels;

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Response Json(int status, const json& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

Response Success(json data) { return Json(200, json{{"status", "success"}, {"data", std::move(data)}}); }

Response Error(int status, std::string_view type, std::string_view msg) {
  return Json(status, json{{"status", "error"}, {"errorType", type}, {"error", msg}});
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Params RequestParams(const Request& req) {
  Params p = Params::Parse(req.query);
  if (req.method == "POST" &&
      req.Header("content-type").find("application/x-www-form-urlencoded") != std::string_view::npos) {
    p.Merge(Params::Parse(req.body));
  }
  return p;
}

// Parses start/end (defaults: the whole range) and match[] selectors.
Status ParseRange(const Params& p, int64_t& start, int64_t& end,
                  std::vector<std::vector<storage::Matcher>>& sets) {
  start = std::numeric_limits<int64_t>::min() / 2;
  end = std::numeric_limits<int64_t>::max() / 2;
  if (p.Has("start")) {
    auto t = ParseTimeMs(p.Get("start"));
    if (!t.ok()) return t.status().Annotate("invalid parameter \"start\"");
    start = *t;
  }
  if (p.Has("end")) {
    auto t = ParseTimeMs(p.Get("end"));
    if (!t.ok()) return t.status().Annotate("invalid parameter \"end\"");
    end = *t;
  }
  if (end < start) return Status::InvalidArgument("end timestamp must not be before start time");
  for (const auto& m : p.GetAll("match[]")) {
    auto ms = model::ParseSeriesSelector(m);
    if (!ms.ok()) return ms.status().Annotate("invalid parameter \"match[]\"");
    sets.push_back(std::move(ms).value());
  }
  return Status::Ok();
}

json LabelsJson(const Labels& l) {
  json o = json::object();
  for (const auto& x : l) o[x.name] = x.value;
  return o;
}

// Validates one remote_write series as the spec requires of senders.
Status ValidateSeries(const common::proto::RwSeriesView& s) {
  if (s.labels.empty()) return Status::InvalidArgument("series without labels");
  bool has_name = false;
  for (size_t i = 0; i < s.labels.size(); ++i) {
    const auto& [n, v] = s.labels[i];
    if (n.empty()) return Status::InvalidArgument("empty label name");
    for (size_t k = 0; k < n.size(); ++k) {
      char c = n[k];
      bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
                (k > 0 && std::isdigit(static_cast<unsigned char>(c)));
      if (!ok) return Status::InvalidArgument("invalid label name \"" + std::string(n) + "\"");
    }
    if (n == "__name__") {
      has_name = true;
      if (v.empty()) return Status::InvalidArgument("empty metric name");
    }
    if (i > 0) {
      std::string_view prev = s.labels[i - 1].first;
      if (prev == n) return Status::InvalidArgument("duplicate label name \"" + std::string(n) + "\"");
      if (prev > n) {
        return Status::InvalidArgument("labels not sorted by name: \"" + std::string(prev) + "\" before \"" +
                                       std::string(n) + "\"");
      }
    }
  }
  if (!has_name) return Status::InvalidArgument("series without a __name__ label");
  return Status::Ok();
}

std::string SeriesString(const common::proto::RwSeriesView& s) {
  std::string out = "{";
  for (const auto& [n, v] : s.labels) {
    if (out.size() > 1) out += ", ";
    out += n;
    out += "=\"";
    out += v;
    out += '"';
  }
  return out + "}";
}

// Remote-write series cache, one per worker thread: the hash of a series' label bytes as sent
// (name \xff value \xff ...) -> its built Labels and last known storage ref, so a series seen
// before costs one hash lookup and a label compare instead of validation, a Labels build and the
// store's label hash. Only valid series get in (their labels are sorted by name, so the cached
// Labels are the sent pairs minus empty values, in order); a hash collision is a miss. A stale ref (series dropped from the head, another store) is harmless:
// the appender checks the ref's labels and falls back to a lookup by labels.
struct WriteCacheEntry {
  storage::SeriesRef ref = 0;
  Labels labels;
};

struct WriteCache {
  static constexpr size_t kMaxEntries = 1 << 20;
  static constexpr size_t kMaxBytes = 256u << 20;  // approximate, per thread

  const void* owner = nullptr;  // the Appendable the refs belong to
  std::unordered_map<uint64_t, WriteCacheEntry> map;
  size_t bytes = 0;
  std::string key;                         // reused
  std::vector<WriteCacheEntry*> entries;   // per series of the current request; null = new
  common::proto::RwRequestView request;    // reused decode output

  void Reset(const void* o) {
    if (owner != o || map.size() >= kMaxEntries || bytes >= kMaxBytes) {
      map = {};
      bytes = 0;
      owner = o;
    }
  }
  uint64_t Hash(const common::proto::RwSeriesView& s) {
    key.clear();
    for (const auto& [n, v] : s.labels) {
      key += n;
      key += '\xff';
      key += v;
      key += '\xff';
    }
    return std::hash<std::string_view>{}(key);
  }
  static bool Matches(const Labels& l, const common::proto::RwSeriesView& s) {
    auto it = l.begin();
    for (const auto& [n, v] : s.labels) {
      if (v.empty()) continue;
      if (it == l.end() || it->name != n || it->value != v) return false;
      ++it;
    }
    return it == l.end();
  }
};

}  // namespace

Params Params::Parse(std::string_view enc) {
  Params p;
  while (!enc.empty()) {
    size_t amp = enc.find('&');
    std::string_view kv = enc.substr(0, amp);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k = Unescape(kv.substr(0, eq));
      std::string v = eq == std::string_view::npos ? "" : Unescape(kv.substr(eq + 1));
      p.kv_.emplace(std::move(k), std::move(v));
    }
    if (amp == std::string_view::npos) break;
    enc.remove_prefix(amp + 1);
  }
  return p;
}

void Params::Merge(const Params& o) { kv_.insert(o.kv_.begin(), o.kv_.end()); }

std::string Params::Get(std::string_view name) const {
  auto it = kv_.find(name);
  return it == kv_.end() ? "" : it->second;
}

bool Params::Has(std::string_view name) const { return kv_.find(name) != kv_.end(); }

std::vector<std::string> Params::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  auto [b, e] = kv_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

Result<int64_t> ParseTimeMs(std::string_view s) {
  if (s.empty()) return Status::InvalidArgument("empty timestamp");
  char* end = nullptr;
  std::string str(s);
  double secs = std::strtod(str.c_str(), &end);
  if (end == str.c_str() + str.size() && std::isfinite(secs)) {
    return static_cast<int64_t>(std::llround(secs * 1000));
  }
  // RFC 3339: 2006-01-02T15:04:05(.999)?(Z|+07:00)
  struct tm tm = {};
  const char* rest = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
  }
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    ++rest;
    int64_t frac = 0, scale = 100;
    while (std::isdigit(static_cast<unsigned char>(*rest))) {
      frac += (*rest - '0') * scale;
      scale /= 10;
      ++rest;
    }
    ms += frac;
  }
  if (*rest == 'Z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int sign = *rest == '+' ? 1 : -1;
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) {
      return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
    }
    ms -= sign * (hh * 3600 + mm * 60) * 1000ll;
    rest += 6;
  } else {
    return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
  }
  if (*rest != '\0') return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
  return ms;
}

Api::Api(common::event::Loop& loop, storage::Appendable* app, storage::Queryable* q, Options opts,
         common::log::Logger log)
    : loop_(loop), app_(app), q_(q), opts_(std::move(opts)), log_(std::move(log)) {}

void Api::Register(common::http::Server& server) {
  server.Handle("/api/v1/write", {"POST"}, [this](Request& r, Respond d) { HandleWrite(r, std::move(d)); });
  server.Handle("/federate", {"GET"}, [this](Request& r, Respond d) { HandleFederate(r, std::move(d)); });
  server.Handle("/api/v1/series", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleSeries(r, std::move(d)); });
  server.Handle("/api/v1/labels", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleLabels(r, std::move(d), ""); });
  server.Handle("/api/v1/targets", {"GET"}, [this](Request& r, Respond d) {
    Params p = RequestParams(r);
    std::string state = p.Has("state") ? p.Get("state") : "any";
    if (state != "any" && state != "active" && state != "dropped") {
      d(Error(400, "bad_data", "invalid parameter \"state\": " + state));
      return;
    }
    json active = json::array(), dropped = json::array();
    if (scrape_ != nullptr && state != "dropped") {
      for (const auto& t : scrape_->ActiveTargets()) {
        char ts[64] = "0001-01-01T00:00:00Z";
        if (t.last_scrape_ms > 0) {
          time_t secs = static_cast<time_t>(t.last_scrape_ms / 1000);
          struct tm tm;
          gmtime_r(&secs, &tm);
          std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(t.last_scrape_ms % 1000));
        }
        active.push_back(json{{"discoveredLabels", LabelsJson(t.discovered)},
                              {"labels", LabelsJson(t.labels)},
                              {"scrapePool", t.scrape_pool},
                              {"scrapeUrl", t.scrape_url},
                              {"globalUrl", t.scrape_url},
                              {"lastError", t.last_error},
                              {"lastScrape", ts},
                              {"lastScrapeDuration", t.last_duration_s},
                              {"health", t.health},
                              {"scrapeInterval", scrape::FormatDuration(t.interval_ms)},
                              {"scrapeTimeout", scrape::FormatDuration(t.timeout_ms)}});
      }
    }
    if (scrape_ != nullptr && state != "active") {
      for (const auto& t : scrape_->DroppedTargets()) {
        dropped.push_back(json{{"discoveredLabels", LabelsJson(t.discovered)}});
      }
    }
    d(Success(json{{"activeTargets", active}, {"droppedTargets", dropped}}));
  });
  server.HandlePrefix("/api/v1/label/", {"GET"}, [this](Request& r, Respond d) {
    std::string rest = r.path.substr(std::string("/api/v1/label/").size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos || rest.substr(slash) != "/values" || slash == 0) {
      d(Error(404, "not_found", "unknown path " + r.path));
      return;
    }
    HandleLabels(r, std::move(d), rest.substr(0, slash));
  });
}

void Api::HandleWrite(Request& req, Respond respond) {
  std::string_view ce = req.Header("content-encoding");
  if (!ce.empty() && ce != "snappy") {
    write_bad_++;
    respond(Response::Text(415, "unsupported Content-Encoding \"" + std::string(ce) +
                                    "\": remote_write bodies are snappy block-compressed"));
    return;
  }
  auto body = std::make_shared<std::string>(std::move(req.body));
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, body, result] {
        thread_local WriteCache cache;
        cache.Reset(app_);
        common::proto::RwRequestView& rw = cache.request;
        Status s = common::proto::DecodeWriteRequestViews(*body, opts_.max_decoded_write_bytes, rw);
        if (!s.ok()) {
          (s.IsResourceExhausted() ? write_too_large_ : write_bad_)++;
          *result = Response::Text(s.IsResourceExhausted() ? 413 : 400, std::string(s.message()));
          return;
        }
        // Validate everything before appending anything: a rejected request leaves no trace.
        // Cached series were valid when they got in.
        cache.entries.assign(rw.size, nullptr);
        for (size_t i = 0; i < rw.size; ++i) {
          const auto& series = rw.series[i];
          if (auto it = cache.map.find(cache.Hash(series));
              it != cache.map.end() && WriteCache::Matches(it->second.labels, series)) {
            cache.entries[i] = &it->second;
            continue;
          }
          Status v = ValidateSeries(series);
          if (!v.ok()) {
            write_bad_++;
            *result = Response::Text(400, std::string(v.message()) + ": " + SeriesString(series));
            return;
          }
        }
        auto app = app_->NewAppender();
        uint64_t n = 0;
        for (size_t i = 0; i < rw.size; ++i) {
          const auto& series = rw.series[i];
          WriteCacheEntry* e = cache.entries[i];
          WriteCacheEntry uncached;  // for a series whose hash collides with a cached one
          if (e == nullptr) {
            auto [it, inserted] = cache.map.try_emplace(cache.Hash(series));
            e = &it->second;
            if (!inserted && !WriteCache::Matches(e->labels, series)) e = &uncached;
            if (inserted || e == &uncached) {
              std::vector<model::Label> ls;
              ls.reserve(series.labels.size());
              for (const auto& [k, v] : series.labels) {
                if (!v.empty()) ls.push_back(model::Label{std::string(k), std::string(v)});
              }
              e->labels = Labels(std::move(ls));
              if (inserted) cache.bytes += cache.key.size() + 96 + 64 * e->labels.size();
            }
          }
          const Labels& labels = e->labels;
          for (const auto& smp : series.samples) {
            auto r = app->Append(e->ref, labels, smp.timestamp_ms, smp.value);
            if (!r.ok()) {
              app->Rollback();
              write_bad_++;
              *result = Response::Text(400, std::string(r.status().message()) + " for series " +
                                                labels.ToString() + " at timestamp " +
                                                std::to_string(smp.timestamp_ms));
              return;
            }
            e->ref = *r;
            ++n;
          }
        }
        Status c = app->Commit();
        if (!c.ok()) {
          write_failed_++;
          log_.Error("remote write commit failed", {{"err", c.ToString()}});
          // 5xx: the sender keeps the batch and retries.
          *result = Response::Text(503, "cannot store samples: " + std::string(c.message()));
          return;
        }
        write_ok_++;
        samples_in_ += n;
        result->status = 204;
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::HandleFederate(Request& req, Respond respond) {
  federate_requests_++;
  Params p = RequestParams(req);
  std::vector<std::vector<storage::Matcher>> sets;
  int64_t start, end;
  Status s = ParseRange(p, start, end, sets);
  if (!s.ok()) {
    respond(Response::Text(400, std::string(s.message())));
    return;
  }
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, sets = std::move(sets), result] {
        int64_t now = NowMs();
        int64_t mint = now - opts_.lookback_ms;
        auto q = q_->NewQuerier(mint, now);
        if (!q.ok()) {
          *result = Response::Text(500, std::string(q.status().message()));
          return;
        }
        // Latest sample per series, series deduplicated over the match[] sets.
        std::map<Labels, std::pair<int64_t, double>> latest;
        for (const auto& ms : sets) {
          auto set = (*q)->Select(true, mint, now, ms);
          while (set->Next()) {
            auto it = set->At().Iterator();
            bool have = false;
            int64_t t = 0;
            double v = 0;
            while (it->Next()) {
              t = it->t();
              v = it->v();
              have = true;
            }
            if (!have || storage::IsStaleNaN(v)) continue;
            model::LabelsBuilder b(set->At().labels());
            for (const auto& el : opts_.external_labels) {
              if (!set->At().labels().Has(el.name)) b.Set(el.name, el.value);
            }
            latest[b.Build()] = {t, v};
          }
        }
        std::string out;
        std::string_view family;
        for (const auto& [l, tv] : latest) {
          std::string_view name = l.Get("__name__");
          if (name != family) {
            common::expfmt::AppendType(out, name, common::expfmt::MetricType::kUntyped);
            family = name;
          }
          out += name;
          bool first = true;
          for (const auto& x : l) {
            if (x.name == "__name__") continue;
            out += first ? '{' : ',';
            first = false;
            out += x.name;
            out += "=\"";
            common::expfmt::AppendLabelValue(out, x.value);
            out += '"';
          }
          if (!first) out += '}';
          out += ' ';
          common::expfmt::AppendFloat(out, tv.second);
          out += ' ';
          common::expfmt::AppendInt(out, tv.first);
          out += '\n';
        }
        result->content_type = std::string(common::expfmt::kTextContentType);
        result->body = std::move(out);
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::HandleSeries(Request& req, Respond respond) {
  Params p = RequestParams(req);
  std::vector<std::vector<storage::Matcher>> sets;
  int64_t start, end;
  Status s = ParseRange(p, start, end, sets);
  if (s.ok() && sets.empty()) s = Status::InvalidArgument("no match[] parameter provided");
  if (!s.ok()) {
    respond(Error(400, "bad_data", s.message()));
    return;
  }
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, sets = std::move(sets), start, end, result] {
        auto q = q_->NewQuerier(start, end);
        if (!q.ok()) {
          *result = Error(500, "internal", q.status().message());
          return;
        }
        std::map<Labels, bool> seen;
        for (const auto& ms : sets) {
          auto set = (*q)->Select(true, start, end, ms);
          while (set->Next()) {
            // Only series with a sample in [start, end].
            auto it = set->At().Iterator();
            if (it->Next()) seen.emplace(set->At().labels(), true);
          }
          if (!set->status().ok()) {
            *result = Error(500, "internal", set->status().message());
            return;
          }
        }
        json data = json::array();
        for (const auto& [l, _] : seen) data.push_back(LabelsJson(l));
        *result = Success(std::move(data));
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::HandleLabels(Request& req, Respond respond, std::string label_name) {
  Params p = RequestParams(req);
  std::vector<std::vector<storage::Matcher>> sets;
  int64_t start, end;
  Status s = ParseRange(p, start, end, sets);
  if (!s.ok()) {
    respond(Error(400, "bad_data", s.message()));
    return;
  }
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, sets = std::move(sets), start, end, result, label_name] {
        auto q = q_->NewQuerier(start, end);
        if (!q.ok()) {
          *result = Error(500, "internal", q.status().message());
          return;
        }
        std::vector<std::string> all;
        auto run = [&](std::span<const storage::Matcher> ms) -> Status {
          auto r = label_name.empty() ? (*q)->LabelNames(ms) : (*q)->LabelValues(label_name, ms);
          if (!r.ok()) return r.status();
          all.insert(all.end(), r->begin(), r->end());
          return Status::Ok();
        };
        Status st;
        if (sets.empty()) {
          st = run({});
        } else {
          for (const auto& ms : sets) {
            if (st.ok()) st = run(ms);
          }
        }
        if (!st.ok()) {
          *result = Error(500, "internal", st.message());
          return;
        }
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        *result = Success(json(all));
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::AddMetrics(common::metrics::MetricSet& out) const {
  const char* h = "Remote-write requests handled, by outcome.";
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_ok_.load()),
              {{"code", "204"}});
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_bad_.load()),
              {{"code", "400"}});
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_too_large_.load()),
              {{"code", "413"}});
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_failed_.load()),
              {{"code", "503"}});
  out.Counter("lookout_remote_write_samples_received_total",
              "Samples stored from remote-write requests.", static_cast<double>(samples_in_.load()));
  out.Counter("lookout_federate_requests_total", "Requests to /federate.",
              static_cast<double>(federate_requests_.load()));
}

}  // namespace collector::api
