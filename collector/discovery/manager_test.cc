// Discovery Manager: static and file providers per job, the first sync waits for every provider,
// changes are coalesced, reloads keep unchanged discoverers and sync removed jobs empty.

#include "collector/discovery/manager.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/event/run_until.h"

namespace collector::discovery {
namespace {

using model::Labels;

struct Sync {
  std::string job;
  std::vector<std::string> addrs;  // "source=addr" in order
  std::chrono::steady_clock::time_point at;
};

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sdmgr.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    mgr_ = std::make_unique<Manager>(
        loop_, Manager::Options{100}, common::log::Logger("manager_test"),
        [this](const std::string& job, std::vector<TargetGroup> groups) {
          Sync s{job, {}, std::chrono::steady_clock::now()};
          for (const auto& g : groups) {
            std::string src = g.source;
            if (src.rfind(dir_, 0) == 0) src = src.substr(dir_.size() + 1);
            for (const auto& t : g.targets)
              s.addrs.push_back(src + "=" + std::string(t.Get("__address__")));
          }
          syncs_.push_back(std::move(s));
        });
  }
  void TearDown() override {
    mgr_.reset();
    common::event::RunFor(loop_, 10);
    std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path + ".tmp") << text;
    ASSERT_EQ(std::rename((path + ".tmp").c_str(), path.c_str()), 0);
  }
  config::FileSDConfig FileSD(const std::string& pattern, int64_t refresh_ms = 60000) {
    config::FileSDConfig c;
    c.files = {dir_ + "/" + pattern};
    c.refresh_interval_ms = refresh_ms;
    return c;
  }
  static TargetGroup Static(std::vector<std::string> addrs, std::string source = "") {
    TargetGroup g;
    g.source = std::move(source);
    for (auto& a : addrs) g.targets.push_back(Labels({{"__address__", a}}));
    return g;
  }
  // The last sync of `job`, or nullptr.
  const Sync* Last(const std::string& job) const {
    for (auto it = syncs_.rbegin(); it != syncs_.rend(); ++it) {
      if (it->job == job) return &*it;
    }
    return nullptr;
  }
  int Count(const std::string& job) const {
    int n = 0;
    for (const auto& s : syncs_) n += s.job == job;
    return n;
  }
  bool WaitFor(const std::string& job, const std::vector<std::string>& addrs, uint64_t ms) {
    return common::event::RunUntil(
        loop_, [&] { return Last(job) != nullptr && Last(job)->addrs == addrs; }, ms);
  }

  common::event::Loop loop_;
  std::string dir_;
  std::unique_ptr<Manager> mgr_;
  std::vector<Sync> syncs_;
};

TEST_F(ManagerTest, StaticAndFileGroupsOfAJob) {
  Write("a.json", R"([{"targets": ["f:1", "f:2"]}])");
  config::Config cfg;
  config::ScrapeConfig sc;
  sc.job_name = "node";
  sc.static_configs = {Static({"s:1"}), Static({}), Static({"s:3"}, "custom")};
  sc.file_sd_configs = {FileSD("*.json")};
  cfg.scrape_configs.push_back(sc);
  config::ScrapeConfig empty;
  empty.job_name = "empty";
  cfg.scrape_configs.push_back(empty);
  mgr_->ApplyConfig(cfg);
  EXPECT_TRUE(syncs_.empty());  // never from inside ApplyConfig

  // The first sync already has the file's groups: it waits for every provider.
  ASSERT_TRUE(WaitFor("node", {"0=s:1", "custom=s:3", "a.json:0=f:1", "a.json:0=f:2"}, 3000));
  EXPECT_EQ(Count("node"), 1);
  ASSERT_TRUE(common::event::RunUntil(
      loop_, [&] { return Last("empty") != nullptr; }, 2000));
  EXPECT_TRUE(Last("empty")->addrs.empty());
  EXPECT_EQ(mgr_->Groups("node").size(), 3u);

  Write("a.json", R"([{"targets": ["f:3"]}])");
  ASSERT_TRUE(WaitFor("node", {"0=s:1", "custom=s:3", "a.json:0=f:3"}, 3000));
  EXPECT_EQ(Count("node"), 2);
  EXPECT_EQ(Count("empty"), 1);  // unchanged jobs are not synced again
}

TEST_F(ManagerTest, UpdatesAreCoalesced) {
  Write("a.json", R"([{"targets": ["v:0"]}])");
  mgr_->ApplyJobs({{"j", {}, {FileSD("*.json")}}});
  ASSERT_TRUE(WaitFor("j", {"a.json:0=v:0"}, 3000));
  for (int i = 1; i <= 5; ++i) {
    Write("a.json", R"([{"targets": ["v:)" + std::to_string(i) + R"("]}])");
    common::event::RunFor(loop_, 30);
  }
  ASSERT_TRUE(WaitFor("j", {"a.json:0=v:5"}, 3000));
  common::event::RunFor(loop_, 150);
  EXPECT_GE(Count("j"), 2);
  for (size_t i = 1; i < syncs_.size(); ++i) {
    auto gap =
        std::chrono::duration_cast<std::chrono::milliseconds>(syncs_[i].at - syncs_[i - 1].at);
    EXPECT_GE(gap.count(), 90) << "sync " << i;
  }
}

TEST_F(ManagerTest, ReloadKeepsUnchangedAndSyncsRemovedJobs) {
  Write("a.json", R"([{"targets": ["a:1"]}])");
  Write("b.json", R"([{"targets": ["b:1"]}])");
  mgr_->ApplyJobs({{"a", {}, {FileSD("a.json")}}, {"b", {}, {FileSD("b.json")}}});
  ASSERT_TRUE(WaitFor("a", {"a.json:0=a:1"}, 3000));
  ASSERT_TRUE(WaitFor("b", {"b.json:0=b:1"}, 3000));
  uint64_t scans = mgr_->FileStats().scans;
  EXPECT_EQ(scans, 2u);

  // Same config for "a": no new discoverer (no new scan) and no sync; "b" removed; "c" added.
  mgr_->ApplyJobs({{"a", {}, {FileSD("a.json")}}, {"c", {Static({"c:1"})}, {}}});
  ASSERT_TRUE(WaitFor("c", {"0=c:1"}, 2000));
  ASSERT_TRUE(WaitFor("b", {}, 2000));
  common::event::RunFor(loop_, 150);
  EXPECT_EQ(Count("a"), 1);
  EXPECT_EQ(Count("b"), 2);
  EXPECT_EQ(mgr_->FileStats().scans, scans);  // the kept discoverer only scans on changes
  EXPECT_TRUE(mgr_->Groups("b").empty());

  // The kept discoverer still reports to its job.
  Write("a.json", R"([{"targets": ["a:2"]}])");
  EXPECT_TRUE(WaitFor("a", {"a.json:0=a:2"}, 3000));

  // A changed file_sd config replaces the discoverer; counters of the old one are kept.
  mgr_->ApplyJobs({{"a", {}, {FileSD("*.json")}}});
  EXPECT_TRUE(WaitFor("a", {"a.json:0=a:2", "b.json:0=b:1"}, 3000));
  EXPECT_GE(mgr_->FileStats().scans, scans + 2);
  EXPECT_EQ(mgr_->FileStats().mtime_seconds.size(), 2u);

  common::metrics::MetricSet set;
  mgr_->CollectMetrics(set);
  std::string text;
  common::metrics::Encoder enc;
  const common::metrics::MetricSet* sets[] = {&set};
  enc.Encode(sets, text);
  EXPECT_NE(text.find("lookout_sd_file_read_errors_total 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lookout_sd_file_mtime_seconds{filename=\"" + dir_ + "/b.json\"}"),
            std::string::npos)
      << text;
}

TEST_F(ManagerTest, DestroyedManagerSyncsNothing) {
  mgr_->ApplyJobs({{"j", {Static({"x:1"})}, {FileSD("*.json", 50)}}});
  mgr_.reset();
  common::event::RunFor(loop_, 100);
  EXPECT_TRUE(syncs_.empty());
}

}  // namespace
}  // namespace collector::discovery
