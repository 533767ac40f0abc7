// file_sd: parsing (JSON and YAML, strictness, positions in errors), pattern rules, and a running
// FileDiscoverer over a real temporary directory: create, change, break, delete, globs, inotify
// versus the refresh fallback, and self-metrics.

#include "collector/discovery/file/file_sd.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/event/run_until.h"

namespace collector::discovery::file {
namespace {

using model::Labels;

// ---- ParseGroups ----

TEST(ParseGroupsTest, JsonGroups) {
  auto r = ParseGroups(R"([
    {"targets": ["10.0.1.17:9100", "db-7:9100"], "labels": {"env": "prod", "team": "db"}},
    {"targets": ["10.0.9.9:9100"]},
    {"Targets": ["x:1"], "LABELS": {"a": "b", "empty": "", "nul": null}}
  ])",
                       "/sd/nodes.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  const TargetGroup& g = (*r)[0];
  EXPECT_EQ(g.source, "/sd/nodes.json:0");
  ASSERT_EQ(g.targets.size(), 2u);
  EXPECT_EQ(g.targets[0], Labels({{"__address__", "10.0.1.17:9100"}}));
  EXPECT_EQ(g.targets[1], Labels({{"__address__", "db-7:9100"}}));
  EXPECT_EQ(g.labels,
            Labels({{"env", "prod"}, {"team", "db"}, {"__meta_filepath", "/sd/nodes.json"}}));
  EXPECT_EQ((*r)[1].source, "/sd/nodes.json:1");
  EXPECT_EQ((*r)[1].labels, Labels({{"__meta_filepath", "/sd/nodes.json"}}));
  // Go's encoding/json matches field names case-insensitively; empty values mean absent.
  EXPECT_EQ((*r)[2].targets[0], Labels({{"__address__", "x:1"}}));
  EXPECT_EQ((*r)[2].labels, Labels({{"a", "b"}, {"__meta_filepath", "/sd/nodes.json"}}));
}

TEST(ParseGroupsTest, YamlGroups) {
  auto r = ParseGroups(
      "- targets: ['a:1', b:2]\n"
      "  labels: {env: prod, __meta_filepath: overridden}\n"
      "- targets:\n"
      "    - c:3\n",
      "sd/x.YML");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].source, "sd/x.YML:0");
  EXPECT_EQ((*r)[0].targets, (std::vector<Labels>{Labels({{"__address__", "a:1"}}),
                                                  Labels({{"__address__", "b:2"}})}));
  EXPECT_EQ((*r)[0].labels, Labels({{"env", "prod"}, {"__meta_filepath", "sd/x.YML"}}));
  EXPECT_EQ((*r)[1].source, "sd/x.YML:1");
  EXPECT_EQ((*r)[1].targets, (std::vector<Labels>{Labels({{"__address__", "c:3"}})}));
}

TEST(ParseGroupsTest, EmptyAndZeroGroups) {
  struct Case {
    const char* path;
    const char* text;
  } cases[] = {
      {"a.yml", ""},        {"a.yaml", "# only a comment\n"},
      {"a.yml", "[]"},      {"a.json", "[]"},
      {"a.json", " [ ]\n"}, {"a.json", "null"},
  };
  for (const auto& c : cases) {
    auto r = ParseGroups(c.text, c.path);
    ASSERT_TRUE(r.ok()) << c.path << " " << c.text << ": " << r.status().ToString();
    EXPECT_TRUE(r->empty()) << c.path << " " << c.text;
  }
}

TEST(ParseGroupsTest, Errors) {
  struct Case {
    const char* path;
    const char* text;
    const char* want;  // substring of the message
  } cases[] = {
      // JSON: syntax errors carry line and column.
      {"/d/a.json", "", "/d/a.json: parse error at line 1, column 1"},
      {"/d/a.json", "[\n {\"targets\": [\"a:1\"],}\n]", "/d/a.json: parse error at line 2, column"},
      {"/d/a.json", "[null]", "/d/a.json: [0]: nil target group item found"},
      {"/d/a.json", R"([{"targets": ["a:1"], "lables": {}}])", "[0]: unknown field \"lables\""},
      {"/d/a.json", R"({"targets": []})", "expected a list of target groups"},
      {"/d/a.json", R"([{"targets": "a:1"}])", "[0].targets: expected a list of strings"},
      {"/d/a.json", R"([{"targets": [1]}])", "[0].targets[0]: expected a string"},
      {"/d/a.json", R"([{"labels": {"a": 1}}])", "[0].labels.a: expected a string"},
      {"/d/a.json", R"([{"labels": {"": "x"}}])", "\"\" is not a valid label name"},
      {"/d/a.json", R"([{"labels": []}])", "[0].labels: expected an object"},
      {"/d/a.json", R"([{}, 3])", "[1]: expected an object"},
      // YAML: errors carry file:line:col.
      {"/d/a.yml", "- targets: [a:1]\n  lables: {}\n",
       "/d/a.yml:2:3: [0]: unknown field \"lables\""},
      {"/d/a.yml", "- targets: [a:1]\n-\n", "/d/a.yml:2:2: [1]: nil target group item found"},
      {"/d/a.yml", "- targets: [a:1]\n- ~\n", "/d/a.yml:2:3: [1]: nil target group item found"},
      {"/d/a.yml", "- targets: [a:1\n", "/d/a.yml:2:1: YAML syntax error"},
      {"/d/a.yml", "targets: [a:1]\n", "/d/a.yml:1:1: expected a list of target groups"},
      {"/d/a.yml", "- targets: a:1\n", "/d/a.yml:1:12: [0].targets: expected a list"},
      {"/d/a.yml", "- targets: [[a]]\n", "[0].targets[0]: expected a string"},
      {"/d/a.yml", "- labels: {a: [1]}\n", "[0].labels.a: expected a string"},
      {"/d/a.yml", "- labels: {a: 1, a: 2}\n", "already defined"},
      {"/d/a.yml", "- labels: {'': x}\n", "is not a valid label name"},
      {"/d/a.yml", "- 3\n", "[0]: expected a mapping"},
      {"/d/a.txt", "[]", "unsupported file extension"},
  };
  for (const auto& c : cases) {
    auto r = ParseGroups(c.text, c.path);
    ASSERT_FALSE(r.ok()) << c.path << " <" << c.text << "> parsed";
    EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.want), std::string_view::npos)
        << "<" << c.text << ">: got " << r.status().ToString() << ", want " << c.want;
  }
}

TEST(ValidatePatternTest, Table) {
  struct Case {
    const char* pattern;
    bool ok;
  } cases[] = {
      {"/etc/sd/*.json", true}, {"static/extra.yml", true}, {"a.yaml", true},
      {"/x/*.YAML", true},      {"/x/n*o*.JSON", true},     {"/x/*", false},
      {"/x/*.txt", false},      {"/x/*/a.json", false},     {"/*/y/*.json", false},
      {"/x/a.Json", false},     {"/x/a.json.bak", false},   {"*.yml", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ValidatePattern(c.pattern).ok(), c.ok) << c.pattern;
  }
}

// ---- FileDiscoverer ----

class FileDiscovererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "filesd.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    d_.reset();
    common::event::RunFor(loop_, 10);  // close callbacks
    std::filesystem::remove_all(dir_);
  }

  // Atomic replace, as configuration management writes files.
  void Write(const std::string& name, const std::string& text) {
    std::string tmp = dir_ + "/" + name + ".tmp";
    std::ofstream(tmp) << text;
    ASSERT_EQ(std::rename(tmp.c_str(), (dir_ + "/" + name).c_str()), 0);
  }
  // In-place rewrite (truncate, write).
  void Overwrite(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::trunc) << text;
  }
  void Remove(const std::string& name) { std::filesystem::remove(dir_ + "/" + name); }

  void Start(std::vector<std::string> patterns, int64_t refresh_ms, bool watch = true) {
    config::FileSDConfig cfg;
    for (auto& p : patterns) cfg.files.push_back(dir_ + "/" + p);
    cfg.refresh_interval_ms = refresh_ms;
    d_ = std::make_unique<FileDiscoverer>(loop_, cfg, common::log::Logger("file_sd_test"),
                                          [this](std::vector<TargetGroup> groups) {
                                            ++publications_;
                                            last_ = groups;
                                            for (auto& g : groups) {
                                              if (g.targets.empty()) {
                                                state_.erase(g.source);
                                              } else {
                                                state_[g.source] = g;
                                              }
                                            }
                                          });
    if (!watch) d_->DisableWatchesForTesting();
    d_->Start();
  }

  // "source=addr,addr" per current group, sorted by source.
  std::vector<std::string> State() const {
    std::vector<std::string> out;
    for (const auto& [src, g] : state_) {
      std::string s = src.substr(dir_.size() + 1) + "=";
      for (size_t i = 0; i < g.targets.size(); ++i) {
        if (i) s += ",";
        s += std::string(g.targets[i].Get("__address__"));
      }
      out.push_back(s);
    }
    return out;
  }
  bool WaitState(const std::vector<std::string>& want, uint64_t ms) {
    return common::event::RunUntil(
        loop_, [&] { return State() == want; }, ms);
  }
  bool WaitPublications(int n, uint64_t ms) {
    return common::event::RunUntil(
        loop_, [&] { return publications_ >= n; }, ms);
  }

  common::event::Loop loop_;
  std::string dir_;
  std::unique_ptr<FileDiscoverer> d_;
  int publications_ = 0;
  std::vector<TargetGroup> last_;
  std::map<std::string, TargetGroup> state_;
};

// With a 200 ms refresh, every kind of change shows within a few refresh intervals; a broken
// file keeps its last good groups and is counted; a deleted file's sources are emptied.
TEST_F(FileDiscovererTest, CreateChangeBreakDelete) {
  Start({"*.json"}, 200);
  ASSERT_TRUE(WaitPublications(1, 2000));  // the first scan publishes even with no files
  EXPECT_TRUE(last_.empty());

  Write("a.json", R"([{"targets": ["a:1", "a:2"]}, {"targets": ["b:1"], "labels": {"x": "y"}}])");
  ASSERT_TRUE(WaitState({"a.json:0=a:1,a:2", "a.json:1=b:1"}, 2000))
      << ::testing::PrintToString(State());
  EXPECT_EQ(state_.begin()->second.labels.Get("__meta_filepath"), dir_ + "/a.json");
  EXPECT_EQ(std::next(state_.begin())->second.labels.Get("x"), "y");

  Write("a.json", R"([{"targets": ["a:3"]}, {"targets": ["b:1"]}])");
  ASSERT_TRUE(WaitState({"a.json:0=a:3", "a.json:1=b:1"}, 2000))
      << ::testing::PrintToString(State());

  // Broken: last good groups stay, the error is counted.
  uint64_t errors = d_->stats().read_errors;
  int pubs = publications_;
  Write("a.json", R"([{"targets": ["a:4"]}, )");
  ASSERT_TRUE(common::event::RunUntil(
      loop_, [&] { return d_->stats().read_errors > errors; }, 2000));
  EXPECT_EQ(State(), (std::vector<std::string>{"a.json:0=a:3", "a.json:1=b:1"}));
  EXPECT_EQ(publications_, pubs);  // nothing changed, nothing published

  // Fixed with fewer groups: the missing source is published empty.
  Write("a.json", R"([{"targets": ["a:5"]}])");
  ASSERT_TRUE(WaitState({"a.json:0=a:5"}, 2000)) << ::testing::PrintToString(State());
  bool saw_empty = false;
  for (const auto& g : last_) {
    if (g.source == dir_ + "/a.json:1") saw_empty = g.targets.empty();
  }
  EXPECT_TRUE(saw_empty);

  Remove("a.json");
  ASSERT_TRUE(WaitState({}, 2000)) << ::testing::PrintToString(State());
  ASSERT_EQ(last_.size(), 1u);
  EXPECT_EQ(last_[0].source, dir_ + "/a.json:0");
  EXPECT_TRUE(last_[0].targets.empty());
  EXPECT_TRUE(d_->stats().mtime_seconds.empty());
}

// The watch reacts long before a (30 s) refresh would.
TEST_F(FileDiscovererTest, InotifyTriggersBeforeRefresh) {
  Write("a.yml", "- targets: ['a:1']\n");
  Start({"*.yml"}, 30000);
  ASSERT_TRUE(WaitState({"a.yml:0=a:1"}, 2000));
  uint64_t scans = d_->stats().scans;

  Write("a.yml", "- targets: ['a:2']\n");  // rename into place
  EXPECT_TRUE(WaitState({"a.yml:0=a:2"}, 5000)) << ::testing::PrintToString(State());
  Overwrite("a.yml", "- targets: ['a:3']\n");  // in place
  EXPECT_TRUE(WaitState({"a.yml:0=a:3"}, 5000)) << ::testing::PrintToString(State());
  Write("b.yml", "- targets: ['b:1']\n");  // new file in the watched directory
  EXPECT_TRUE(WaitState({"a.yml:0=a:3", "b.yml:0=b:1"}, 5000)) << ::testing::PrintToString(State());
  Remove("a.yml");
  EXPECT_TRUE(WaitState({"b.yml:0=b:1"}, 5000)) << ::testing::PrintToString(State());
  EXPECT_GT(d_->stats().scans, scans);
  EXPECT_EQ(d_->stats().watcher_errors, 0u);
}

// Without watches, the refresh interval alone picks up changes.
TEST_F(FileDiscovererTest, RefreshIntervalWithoutWatches) {
  Write("a.json", R"([{"targets": ["a:1"]}])");
  Start({"a.json"}, 200, /*watch=*/false);
  ASSERT_TRUE(WaitState({"a.json:0=a:1"}, 2000));
  Write("a.json", R"([{"targets": ["a:2"]}])");
  EXPECT_TRUE(WaitState({"a.json:0=a:2"}, 3000)) << ::testing::PrintToString(State());
  EXPECT_GE(d_->stats().scans, 2u);
}

// Globs (`*` matches leading dots too, as Go's filepath.Glob); several patterns; an invalid
// pattern is skipped; a directory that appears later.
TEST_F(FileDiscovererTest, GlobsAndMetaFilepath) {
  std::filesystem::create_directory(dir_ + "/sd");
  Write("sd/n1.json", R"([{"targets": ["n1:1"]}])");
  Write("sd/n2.json", R"([{"targets": ["n2:1"]}])");
  Write("sd/other.yml", "- targets: [o:1]\n");
  Write("sd/.hidden.json", R"([{"targets": ["h:1"]}])");
  Write("extra.yaml", "- targets: [e:1]\n");
  Start({"sd/*.json", "extra.yaml", "later/*.yml", "bad/*/x.json"}, 200);
  ASSERT_TRUE(WaitState(
      {"extra.yaml:0=e:1", "sd/.hidden.json:0=h:1", "sd/n1.json:0=n1:1", "sd/n2.json:0=n2:1"},
      2000))
      << ::testing::PrintToString(State());
  EXPECT_EQ(state_[dir_ + "/sd/n2.json:0"].labels.Get("__meta_filepath"), dir_ + "/sd/n2.json");
  EXPECT_EQ(state_[dir_ + "/extra.yaml:0"].labels.Get("__meta_filepath"), dir_ + "/extra.yaml");

  Write("sd/n3.json", R"([{"targets": ["n3:1"]}])");
  std::filesystem::create_directory(dir_ + "/later");
  Write("later/l.yml", "- targets: [l:1]\n");
  EXPECT_TRUE(WaitState({"extra.yaml:0=e:1", "later/l.yml:0=l:1", "sd/.hidden.json:0=h:1",
                         "sd/n1.json:0=n1:1", "sd/n2.json:0=n2:1", "sd/n3.json:0=n3:1"},
                        3000))
      << ::testing::PrintToString(State());
}

// Strictness while running: unknown keys and null elements are read errors that keep the last
// good groups; an empty YAML file is zero groups.
TEST_F(FileDiscovererTest, StrictErrorsKeepLastGoodAndEmptyFileClears) {
  Write("a.yml", "- targets: [a:1]\n");
  Start({"*.yml"}, 200);
  ASSERT_TRUE(WaitState({"a.yml:0=a:1"}, 2000));

  uint64_t errors = d_->stats().read_errors;
  Write("a.yml", "- targets: [a:2]\n  extra: 1\n");
  ASSERT_TRUE(common::event::RunUntil(
      loop_, [&] { return d_->stats().read_errors > errors; }, 2000));
  EXPECT_EQ(State(), std::vector<std::string>{"a.yml:0=a:1"});
  errors = d_->stats().read_errors;
  Write("a.yml", "- targets: [a:2]\n- null\n");
  ASSERT_TRUE(common::event::RunUntil(
      loop_, [&] { return d_->stats().read_errors > errors; }, 2000));
  EXPECT_EQ(State(), std::vector<std::string>{"a.yml:0=a:1"});

  Write("a.yml", "");
  EXPECT_TRUE(WaitState({}, 2000)) << ::testing::PrintToString(State());
}

TEST_F(FileDiscovererTest, MetricsAndErrorLog) {
  Write("good.json", R"([{"targets": ["g:1"]}])");
  Write("bad.json", "[{\"targets\": [\"b:1\"]},\n  {\"nope\": 1}]");
  ::testing::internal::CaptureStderr();
  Start({"*.json"}, 60000);
  bool ok = common::event::RunUntil(
      loop_, [&] { return d_->stats().scans >= 1; }, 2000);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(ok);
  EXPECT_NE(log.find("Error reading file"), std::string::npos) << log;
  EXPECT_NE(log.find("bad.json: [1]: unknown field"), std::string::npos) << log;
  EXPECT_EQ(State(), std::vector<std::string>{"good.json:0=g:1"});

  common::metrics::MetricSet set;
  d_->CollectMetrics(set);
  std::string text;
  common::metrics::Encoder enc;
  const common::metrics::MetricSet* sets[] = {&set};
  enc.Encode(sets, text);
  EXPECT_NE(text.find("lookout_sd_file_read_errors_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lookout_sd_file_scans_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE lookout_sd_file_scan_duration_seconds gauge"), std::string::npos);
  EXPECT_NE(text.find("lookout_sd_file_mtime_seconds{filename=\"" + dir_ + "/good.json\"} "),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("bad.json\"}"), std::string::npos) << text;  // never read successfully
}

// Destroying the discoverer with a scan in flight: no callback afterwards.
TEST_F(FileDiscovererTest, DestroyWithScanInFlight) {
  Write("a.json", R"([{"targets": ["a:1"]}])");
  Start({"*.json"}, 200);
  d_.reset();
  common::event::RunFor(loop_, 100);
  EXPECT_EQ(publications_, 0);
}

}  // namespace
}  // namespace collector::discovery::file
