#include "collector/scrape/cache.h"

#include <algorithm>
#include <utility>

#include "collector/model/relabel.h"
#include "common/expfmt/parser.h"

namespace collector::scrape {

using common::Status;
using common::expfmt::TextParser;
using model::Labels;
using model::LabelsBuilder;

namespace {

constexpr const char* kAutoNames[5] = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                                       "scrape_samples_post_metric_relabeling",
                                       "scrape_series_added"};
// Entries not seen for this many scrapes are forgotten (checked every kSweepEvery scrapes).
constexpr uint64_t kSweepEvery = 16;

}  // namespace

ScrapeCache::ScrapeCache(Labels target) : target_(std::move(target)) {}

const Labels& ScrapeCache::AutoLabels(int i) {
  if (auto_labels_[i].empty()) {
    LabelsBuilder lb(target_);
    lb.Set("__name__", kAutoNames[i]);
    auto_labels_[i] = lb.Build();
  }
  return auto_labels_[i];
}

ScrapeCache::Node* ScrapeCache::Create(
    std::string_view text, std::string_view name,
    const std::vector<std::pair<std::string_view, std::string_view>>& labels,
    const config::ScrapeConfig& cfg) {
  Entry entry;
  LabelsBuilder lb;
  lb.Set("__name__", name);
  for (const auto& [n, v] : labels) lb.Set(n, v);
  Labels scraped = lb.Build();
  LabelsBuilder merged(scraped);
  for (const auto& tl : target_) {
    std::string_view existing = scraped.Get(tl.name);
    if (!existing.empty() && !cfg.honor_labels) {
      merged.Set("exported_" + tl.name, existing);
      merged.Set(tl.name, tl.value);
    } else if (existing.empty()) {
      merged.Set(tl.name, tl.value);
    }
  }
  entry.dropped = !model::Relabel(merged, cfg.metric_relabel_configs);
  if (!entry.dropped) entry.labels = merged.Build();
  if (!entry.dropped && entry.labels.Get("__name__").empty()) entry.dropped = true;
  return &*series_.emplace(std::string(text), std::move(entry)).first;
}

void ScrapeCache::MarkSeen(Entry& e, uint64_t iter) {
  if (e.last_seen == iter) return;
  if (last_ok_iteration_ != 0 && e.last_seen == last_ok_iteration_) --prev_remaining_;
  e.last_seen = iter;
  ++seen_now_;
}

void ScrapeCache::Process(const config::ScrapeConfig& cfg, storage::Appendable* appendable,
                          std::string_view body, int64_t ts, std::chrono::steady_clock::time_point t0,
                          ScrapeOutcome& out) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopped_) {
    out.ok = false;
    out.error = "target stopped";
    return;
  }
  const uint64_t iter = ++iteration_;
  seen_now_ = 0;
  next_order_.clear();
  auto app = appendable->NewAppender();
  if (out.ok) {
    TextParser p(body);
    size_t pos = 0;
    for (;;) {
      // The series at this place last time: when it comes again, the parser skips its labels.
      auto e = p.Next(pos < order_.size() ? std::string_view(order_[pos]->first)
                                          : std::string_view());
      if (e == TextParser::Entry::kEnd) break;
      if (e == TextParser::Entry::kError) {
        out.ok = false;
        out.error = std::string(p.status().message());
        break;
      }
      if (e != TextParser::Entry::kSeries) continue;
      out.scraped++;
      const std::string_view text = p.SeriesText();
      Node* node;
      if (p.KnownSeries()) {
        node = order_[pos];  // the same series at the same place as last time
      } else if (auto it = series_.find(text); it != series_.end()) {
        node = &*it;
      } else {
        node = Create(text, p.MetricName(), p.Labels(), cfg);
      }
      ++pos;
      next_order_.push_back(node);
      Entry& se = node->second;
      if (se.dropped) {
        MarkSeen(se, iter);
        continue;
      }
      if (cfg.label_limit > 0 && se.labels.size() - 1 > cfg.label_limit) {
        out.ok = false;
        out.error = "label_limit exceeded (metric: " + std::string(se.labels.Get("__name__")) +
                    ", number of labels: " + std::to_string(se.labels.size() - 1) +
                    ", limit: " + std::to_string(cfg.label_limit) + ")";
        break;
      }
      if (++out.post_relabel > cfg.sample_limit && cfg.sample_limit > 0) {
        out.ok = false;
        out.sample_limit_hit = true;
        out.error = "sample limit exceeded (limit " + std::to_string(cfg.sample_limit) + ")";
        break;
      }
      int64_t t = ts;
      se.explicit_ts = p.HasTimestamp() && cfg.honor_timestamps;
      if (se.explicit_ts) t = p.TimestampMs();
      const bool was_new = se.ref == 0;
      auto r = app->Append(se.ref, se.labels, t, p.Value());
      if (r.ok()) {
        se.ref = *r;
        if (was_new) out.added++;
      }
      MarkSeen(se, iter);
    }
  }
  if (!out.ok) {
    app->Rollback();
    app = appendable->NewAppender();
    out.post_relabel = 0;
    out.added = 0;
    if (out.error.empty()) out.error = "scrape failed";
    // A failed scrape makes every series of the last good scrape stale.
    WriteStaleInto(*app, ts, 0);
  } else {
    // Series of the previous good scrape not seen in this one go stale.
    WriteStaleInto(*app, ts, iter);
    last_ok_iteration_ = iter;
    prev_remaining_ = seen_now_;
    order_.swap(next_order_);
  }
  next_order_.clear();
  double dur = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double vals[5] = {out.ok ? 1.0 : 0.0, dur, static_cast<double>(out.ok ? out.scraped : 0),
                    static_cast<double>(out.post_relabel), static_cast<double>(out.added)};
  for (int i = 0; i < 5; ++i) {
    auto r = app->Append(auto_refs_[i], AutoLabels(i), ts, vals[i]);
    if (r.ok()) auto_refs_[i] = *r;
  }
  Status c = app->Commit();
  if (!c.ok() && out.ok) {
    out.ok = false;
    out.error = "storing samples: " + std::string(c.message());
  }
  // Forget series not seen for a while.
  if (iter % kSweepEvery == 0) {
    auto old = [iter](const Entry& e) { return e.last_seen + kSweepEvery < iter; };
    std::erase_if(order_, [&](const Node* n) { return old(n->second); });
    for (auto it = series_.begin(); it != series_.end();) {
      if (!old(it->second)) {
        ++it;
        continue;
      }
      if (last_ok_iteration_ != 0 && it->second.last_seen == last_ok_iteration_) --prev_remaining_;
      it = series_.erase(it);
    }
  }
}

void ScrapeCache::WriteStaleInto(storage::Appender& app, int64_t t, uint64_t now) {
  const uint64_t prev = last_ok_iteration_;
  if (prev == 0 || prev_remaining_ == 0) return;  // nothing was seen last time and not now
  for (auto& [text, se] : series_) {
    if (se.dropped || se.explicit_ts || se.ref == 0) continue;
    if (se.last_seen == prev && se.last_seen != now) {
      (void)app.Append(se.ref, se.labels, t, storage::StaleNaN());
    }
  }
}

void ScrapeCache::WriteStale(storage::Appendable* appendable, int64_t t) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopped_) return;
  stopped_ = true;
  auto app = appendable->NewAppender();
  WriteStaleInto(*app, t, 0);
  for (int i = 0; i < 5; ++i) {
    if (auto_refs_[i] == 0) continue;
    (void)app->Append(auto_refs_[i], AutoLabels(i), t, storage::StaleNaN());
  }
  (void)app->Commit();
}

}  // namespace collector::scrape
