#include "collector/scrape/cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace collector::scrape {
namespace {

using model::Labels;

struct Sample {
  std::string series;  // Labels::ToString()
  int64_t t;
  double v;
};

// Records committed samples; refs are handed out per label set, and a ref passed back in must
// name the same labels (as the head's refs do).
class RecordingStorage : public storage::Appendable {
 public:
  class App : public storage::Appender {
   public:
    explicit App(RecordingStorage* s) : s_(s) {}
    common::Result<storage::SeriesRef> Append(storage::SeriesRef ref, const Labels& labels,
                                              int64_t t, double v) override {
      std::string key = labels.ToString();
      auto it = s_->refs.find(key);
      if (ref != 0) {
        EXPECT_TRUE(it != s_->refs.end() && it->second == ref) << "ref " << ref << " for " << key;
      }
      if (it == s_->refs.end()) it = s_->refs.emplace(key, s_->refs.size() + 1).first;
      pending_.push_back({key, t, v});
      return it->second;
    }
    common::Status Commit() override {
      s_->commits.push_back(std::move(pending_));
      pending_.clear();
      return common::Status::Ok();
    }
    void Rollback() override { pending_.clear(); }

   private:
    RecordingStorage* s_;
    std::vector<Sample> pending_;
  };
  std::unique_ptr<storage::Appender> NewAppender() override { return std::make_unique<App>(this); }

  std::map<std::string, storage::SeriesRef> refs;
  std::vector<std::vector<Sample>> commits;
};

const Labels kTarget{{"instance", "h:9100"}, {"job", "node"}};

// The stored form of series `name` with extra labels `more` from this target.
std::string S(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> more = {}) {
  model::LabelsBuilder lb(kTarget);
  lb.Set("__name__", name);
  for (const auto& [n, v] : more) lb.Set(n, v);
  return lb.Build().ToString();
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class ScrapeCacheTest : public ::testing::Test {
 protected:
  // One scrape at `ts`; `body` nullptr is a failed fetch. Returns the committed samples.
  std::vector<Sample> Scrape(const char* body, int64_t ts, ScrapeOutcome* outcome = nullptr) {
    ScrapeOutcome out;
    out.ok = body != nullptr;
    if (!out.ok) out.error = "connection refused";
    cache.Process(cfg, &st, body ? body : "", ts, std::chrono::steady_clock::now(), out);
    if (outcome) *outcome = out;
    return st.commits.empty() ? std::vector<Sample>{} : st.commits.back();
  }
  // The body's samples only (no automatic series), as "series=value@t".
  static std::vector<std::string> Body(const std::vector<Sample>& ss) {
    std::vector<std::string> out;
    for (const auto& s : ss) {
      if (s.series.find("__name__=\"up\"") != std::string::npos ||
          s.series.find("__name__=\"scrape_") != std::string::npos) {
        continue;
      }
      out.push_back(s.series + "=" + Val(s.v) + "@" + std::to_string(s.t));
    }
    return out;
  }
  static std::string Val(double v) {
    if (storage::IsStaleNaN(v)) return "stale";
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s;
  }
  static double Auto(const std::vector<Sample>& ss, std::string_view name) {
    for (const auto& s : ss) {
      if (s.series == S(name)) return s.v;
    }
    ADD_FAILURE() << "no " << name;
    return -1;
  }

  config::ScrapeConfig cfg;
  RecordingStorage st;
  ScrapeCache cache{kTarget};
};

TEST_F(ScrapeCacheTest, AppendsSeriesWithTargetLabelsAndAutomaticSeries) {
  auto c = Scrape("# TYPE a counter\na 1\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n", 1000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=1@1000", S("b", {{"x", "1"}}) + "=2@1000",
                                               S("b", {{"x", "2"}}) + "=3@1000"}));
  EXPECT_EQ(Auto(c, "up"), 1);
  EXPECT_EQ(Auto(c, "scrape_samples_scraped"), 3);
  EXPECT_EQ(Auto(c, "scrape_samples_post_metric_relabeling"), 3);
  EXPECT_EQ(Auto(c, "scrape_series_added"), 3);
  c = Scrape("# TYPE a counter\na 4\nb{x=\"1\"} 5\nb{x=\"2\"} 6\n", 2000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=4@2000", S("b", {{"x", "1"}}) + "=5@2000",
                                               S("b", {{"x", "2"}}) + "=6@2000"}));
  EXPECT_EQ(Auto(c, "scrape_series_added"), 0);
}

TEST_F(ScrapeCacheTest, ReorderedAndShiftedSeriesKeepTheirIdentity) {
  Scrape("a 1\nb 2\nc 3\n", 1000);
  auto c = Scrape("c 30\na 10\nb 20\n", 2000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("c") + "=30@2000", S("a") + "=10@2000",
                                               S("b") + "=20@2000"}));
  EXPECT_EQ(Auto(c, "scrape_series_added"), 0);
  // A new series first shifts every position; same-length texts that differ must not match.
  c = Scrape("d 4\nc 31\na 11\nb 21\n", 3000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("d") + "=4@3000", S("c") + "=31@3000",
                                               S("a") + "=11@3000", S("b") + "=21@3000"}));
  EXPECT_EQ(Auto(c, "scrape_series_added"), 1);
  // The same series twice in one scrape: the second is a duplicate for the store, not new.
  c = Scrape("d 5\nc 32\na 12\nb 22\nb 22\n", 4000);
  EXPECT_EQ(Auto(c, "scrape_samples_scraped"), 5);
  EXPECT_EQ(Auto(c, "scrape_series_added"), 0);
}

TEST_F(ScrapeCacheTest, VanishedSeriesGetStalenessMarkersOnce) {
  Scrape("a 1\nb 2\nc 3\n", 1000);
  auto c = Scrape("a 1\nc 3\n", 2000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=1@2000", S("c") + "=3@2000",
                                               S("b") + "=stale@2000"}));
  c = Scrape("a 1\nc 3\n", 3000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=1@3000", S("c") + "=3@3000"}));
  // It comes back, then a different one goes.
  Scrape("a 1\nb 2\nc 3\n", 4000);
  c = Scrape("b 2\nc 3\n", 5000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("b") + "=2@5000", S("c") + "=3@5000",
                                               S("a") + "=stale@5000"}));
}

TEST_F(ScrapeCacheTest, FailedScrapeMakesTheLastGoodScrapeStale) {
  Scrape("a 1\nb 2\n", 1000);
  ScrapeOutcome out;
  auto c = Scrape(nullptr, 2000, &out);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "connection refused");
  auto body = Body(c);
  std::sort(body.begin(), body.end());
  EXPECT_EQ(body, (std::vector<std::string>{S("a") + "=stale@2000", S("b") + "=stale@2000"}));
  EXPECT_EQ(Auto(c, "up"), 0);
  EXPECT_EQ(Auto(c, "scrape_samples_scraped"), 0);
  c = Scrape("a 1\nb 2\n", 3000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=1@3000", S("b") + "=2@3000"}));
}

// Nothing of a failed body is stored: only staleness markers and the automatic series.
bool OnlyStale(const std::vector<std::string>& body) {
  for (const auto& s : body) {
    if (s.find("=stale@") == std::string::npos) return false;
  }
  return true;
}

TEST_F(ScrapeCacheTest, ParseErrorStoresNothingOfTheBody) {
  Scrape("a 1\nb 2\n", 1000);
  ScrapeOutcome out;
  auto c = Scrape("a 5\nb 6\nc{ 7\n", 2000, &out);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("line 3"), std::string::npos) << out.error;
  EXPECT_TRUE(OnlyStale(Body(c)));
  EXPECT_EQ(Auto(c, "up"), 0);
  EXPECT_EQ(Auto(c, "scrape_samples_scraped"), 0);
  c = Scrape("a 5\nb 6\n", 3000, &out);
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=5@3000", S("b") + "=6@3000"}));
}

TEST_F(ScrapeCacheTest, SampleAndLabelLimitsFailTheScrape) {
  cfg.sample_limit = 2;
  ScrapeOutcome out;
  auto c = Scrape("a 1\nb 2\n", 1000, &out);
  EXPECT_TRUE(out.ok);
  c = Scrape("a 1\nb 2\nc 3\n", 2000, &out);
  EXPECT_FALSE(out.ok);
  EXPECT_TRUE(out.sample_limit_hit);
  EXPECT_EQ(out.error, "sample limit exceeded (limit 2)");
  EXPECT_TRUE(OnlyStale(Body(c)));
  EXPECT_EQ(Auto(c, "scrape_samples_post_metric_relabeling"), 0);

  cfg.sample_limit = 0;
  cfg.label_limit = 3;  // __name__ is not counted; instance and job are
  c = Scrape("a 1\nb{x=\"1\",y=\"2\"} 2\n", 3000, &out);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "label_limit exceeded (metric: b, number of labels: 4, limit: 3)");
  EXPECT_TRUE(OnlyStale(Body(c)));
  c = Scrape("a 1\nb{x=\"1\"} 2\n", 4000, &out);
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=1@4000",
                                               S("b", {{"x", "1"}}) + "=2@4000"}));
}

TEST_F(ScrapeCacheTest, HonorTimestamps) {
  auto c = Scrape("a 1 500\nb 2\n", 1000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=1@500", S("b") + "=2@1000"}));
  // A series with its own timestamp gets no staleness marker.
  c = Scrape("c 3\n", 2000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("c") + "=3@2000", S("b") + "=stale@2000"}));
  cfg.honor_timestamps = false;
  c = Scrape("a 1 600\n", 3000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("a") + "=1@3000", S("c") + "=stale@3000"}));
}

TEST_F(ScrapeCacheTest, MetricRelabelDropAndHonorLabels) {
  model::RelabelConfig drop;
  drop.source_labels = {"__name__"};
  drop.regex = "drop_.*";
  drop.action = model::RelabelAction::kDrop;
  ASSERT_TRUE(drop.Compile().ok());
  cfg.metric_relabel_configs = {drop};
  auto c = Scrape("a{job=\"other\"} 1\ndrop_me 2\n", 1000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{
                         "{__name__=\"a\", exported_job=\"other\", instance=\"h:9100\", "
                         "job=\"node\"}=1@1000"}));
  EXPECT_EQ(Auto(c, "scrape_samples_scraped"), 2);
  EXPECT_EQ(Auto(c, "scrape_samples_post_metric_relabeling"), 1);
  // Dropped series never get staleness markers, and stay dropped across cache sweeps.
  for (int i = 2; i < 40; ++i) {
    c = Scrape(i % 2 ? "drop_me 2\n" : "drop_me 2\ndrop_too 3\n", i * 1000);
    EXPECT_EQ(Body(c).size(), i == 2 ? 1u : 0u) << i;  // a's marker at 2000
  }
}

TEST_F(ScrapeCacheTest, HonorLabelsKeepsScrapedLabels) {
  cfg.honor_labels = true;
  auto c = Scrape("a{job=\"other\"} 1\n", 1000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{
                         "{__name__=\"a\", instance=\"h:9100\", job=\"other\"}=1@1000"}));
}

TEST_F(ScrapeCacheTest, ForgetsSeriesNotSeenForAWhile) {
  Scrape("a 1\nb 2\n", 1000);
  for (int i = 2; i <= 40; ++i) Scrape("a 1\n", i * 1000);
  EXPECT_EQ(cache.SizeForTesting(), 1u);
  auto c = Scrape("b 5\na 1\n", 41000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("b") + "=5@41000", S("a") + "=1@41000"}));
  EXPECT_EQ(Auto(c, "scrape_series_added"), 1);  // new to the cache
}

TEST_F(ScrapeCacheTest, ManyFailuresThenRecovery) {
  Scrape("a 1\nb 2\n", 1000);
  for (int i = 2; i <= 40; ++i) Scrape(nullptr, i * 1000);
  auto c = Scrape("b 2\na 1\nc 3\n", 41000);
  EXPECT_EQ(Body(c), (std::vector<std::string>{S("b") + "=2@41000", S("a") + "=1@41000",
                                               S("c") + "=3@41000"}));
  c = Scrape("a 1\n", 42000);
  EXPECT_EQ(Sorted(Body(c)), Sorted({S("a") + "=1@42000", S("b") + "=stale@42000",
                                     S("c") + "=stale@42000"}));
}

TEST_F(ScrapeCacheTest, WriteStaleMarksSeriesAndAutomaticSeriesThenStoresNothing) {
  Scrape("a 1\nb 2\n", 1000);
  cache.WriteStale(&st, 1500);
  auto c = st.commits.back();
  std::vector<std::string> all;
  for (const auto& s : c) all.push_back(s.series + "=" + (storage::IsStaleNaN(s.v) ? "stale" : "?"));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{S("a") + "=stale", S("b") + "=stale",
                                           S("scrape_duration_seconds") + "=stale",
                                           S("scrape_samples_post_metric_relabeling") + "=stale",
                                           S("scrape_samples_scraped") + "=stale",
                                           S("scrape_series_added") + "=stale", S("up") + "=stale"}));
  size_t n = st.commits.size();
  ScrapeOutcome out;
  Scrape("a 1\n", 2000, &out);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(st.commits.size(), n);
}

}  // namespace
}  // namespace collector::scrape
