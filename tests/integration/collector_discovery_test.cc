// lookout-collector's target discovery seen through its HTTP API, on loopback:
// 1. file_sd: target files (JSON and YAML, matched by globs) appear in /api/v1/targets within the
//    refresh interval with __meta_filepath and their labels; a changed file changes them; a broken
//    file keeps its last good targets and logs an error naming the file (and the line for YAML);
//    a deleted file removes its targets; a directory created after start is found by the refresh;
//    a target that moves to another file shows its new discovered labels.
// 2. relabel_configs over file_sd targets: drop, keep, hashmod, labelmap, labeldrop, replace give
//    the expected active and dropped targets; hashmod sharding over two collectors partitions 20
//    addresses with no overlap and no loss (and matches MD5 computed here).
// 3. reload: POST /-/reload and SIGHUP apply a changed valid config (jobs added and removed); a
//    broken config answers 500 with file:line:col and the running config stays.
// 4. lookout-tool check config: the packaged lookout.yml passes; a broken file fails with
//    file:line:col.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/tls/hash.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls `f` every 50 ms until it holds or `limit` passes.
bool WaitUntil(const std::function<bool()>& f, milliseconds limit) {
  auto deadline = Clock::now() + limit;
  for (;;) {
    if (f()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Writes `content` to `path` atomically (a temporary name that no file_sd glob matches, then a
// rename), so discovery never reads a half-written file.
void WriteAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  fs::rename(tmp, path);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lines of `log` that match `re`.
std::vector<std::string> LogLines(const std::string& log, const std::regex& re) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(log));
  std::string line;
  while (std::getline(in, line)) {
    if (std::regex_search(line, re)) out.push_back(line);
  }
  return out;
}

std::string Escape(const std::string& s) {
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, kSpecial, R"(\$&)");
}

// hashmod as the spec defines it: big-endian uint64 of md5(val)[8:16] mod `modulus`.
uint64_t HashMod(const std::string& val, uint64_t modulus) {
  auto d = common::tls::Md5(val);
  uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | d[static_cast<size_t>(i)];
  return v % modulus;
}

// A running lookout-collector with its own directory, config file and log.
class Collector {
 public:
  Collector(const std::string& dir, const std::string& config_yaml) : dir_(dir) {
    fs::create_directories(dir_);
    WriteFile(config(), config_yaml);
    port_ = FreePort();
    child_ = Child({BuildDir() + "/collector/lookout-collector", "--config.file=" + config(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                    "--storage.tsdb.path=" + dir_ + "/data"},
                   log());
  }
  bool WaitReady() { return WaitHttpOk(port_, "/-/ready", seconds(20)); }
  int port() const { return port_; }
  pid_t pid() const { return child_.pid(); }
  bool Running() { return child_.Running(); }
  void Stop() { child_.Stop(); }
  std::string config() const { return dir_ + "/lookout.yml"; }
  std::string log() const { return dir_ + "/collector.log"; }

  // /api/v1/targets "data"; null when the request failed.
  json Targets() const {
    std::string body;
    if (HttpGet(port_, "/api/v1/targets", body) != 200) return nullptr;
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success") return nullptr;
    return j["data"];
  }
  // Active targets of one scrape pool, by __address__ of their discovered labels.
  std::map<std::string, json> Active(const std::string& pool) const {
    std::map<std::string, json> out;
    json d = Targets();
    if (d.is_null()) return out;
    for (const auto& t : d["activeTargets"]) {
      if (t["scrapePool"] == pool) out[t["discoveredLabels"].value("__address__", "")] = t;
    }
    return out;
  }
  std::set<std::string> ActiveAddresses(const std::string& pool) const {
    std::set<std::string> out;
    for (const auto& [a, t] : Active(pool)) out.insert(a);
    return out;
  }
  std::set<std::string> Pools() const {
    std::set<std::string> out;
    json d = Targets();
    if (d.is_null()) return out;
    for (const auto& t : d["activeTargets"]) out.insert(t["scrapePool"].get<std::string>());
    return out;
  }
  // Dropped targets (all pools), by __address__ of their discovered labels.
  std::map<std::string, json> Dropped() const {
    std::map<std::string, json> out;
    json d = Targets();
    if (d.is_null()) return out;
    for (const auto& t : d["droppedTargets"]) {
      out[t["discoveredLabels"].value("__address__", "")] = t["discoveredLabels"];
    }
    return out;
  }
  // POST /-/reload; returns the status and fills `body`.
  int Reload(std::string& body) const { return HttpPost(port_, "/-/reload", "", "", body); }
  std::string Metrics() const {
    std::string body;
    HttpGet(port_, "/metrics", body);
    return body;
  }

 private:
  std::string dir_;
  int port_ = 0;
  Child child_;
};

class CollectorDiscovery : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("lookout-discovery-" + std::string(info->name()) + "-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/sd");
  }
  void TearDown() override {
    if (!HasFailure()) {
      fs::remove_all(dir_);
    } else {
      std::printf("kept %s for inspection\n", dir_.c_str());
    }
  }
  std::string dir_;
};

// ---- 1. file_sd ------------------------------------------------------------------------------

TEST_F(CollectorDiscovery, FileSDFilesAppearChangeBreakAndGo) {
  std::string sd = dir_ + "/sd";
  // clang-format off
  Collector c(dir_ + "/c",
              "global:\n  scrape_interval: 1s\n  scrape_timeout: 800ms\n"
              "scrape_configs:\n"
              "  - job_name: fsd\n"
              "    file_sd_configs:\n"
              "      - files: ['" + sd + "/*.json', '" + sd + "/*.yml']\n"
              "        refresh_interval: 2s\n");
  // clang-format on
  ASSERT_TRUE(c.WaitReady());
  const int cport = c.port();
  const std::string self1 = "127.0.0.1:" + std::to_string(cport);
  const std::string self2 = "localhost:" + std::to_string(cport);
  const std::string down = "127.0.0.1:" + std::to_string(FreePort());  // nothing listens there
  const milliseconds kWithinRefresh(2500);  // refresh_interval 2s + the manager's coalescing

  EXPECT_TRUE(c.Active("fsd").empty());

  // A new JSON file: its targets appear with __meta_filepath and the group labels.
  const std::string a = sd + "/a.json";
  auto t0 = Clock::now();
  WriteAtomic(a, R"([{"targets": [")" + self1 + R"(", ")" + self2 +
                     R"("], "labels": {"env": "prod", "team": "db"}}])");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return c.ActiveAddresses("fsd") == std::set<std::string>{self1, self2};
      },
      kWithinRefresh))
      << c.Targets().dump();
  std::printf("a.json's targets visible after %.3f s\n", Since(t0));
  {
    auto act = c.Active("fsd");
    for (const auto& addr : {self1, self2}) {
      const json& t = act[addr];
      EXPECT_EQ(t["discoveredLabels"]["__meta_filepath"], a) << t.dump();
      EXPECT_EQ(t["discoveredLabels"]["env"], "prod") << t.dump();
      EXPECT_EQ(t["discoveredLabels"]["team"], "db") << t.dump();
      EXPECT_EQ(t["discoveredLabels"]["job"], "fsd") << t.dump();
      EXPECT_EQ(t["labels"],
                json({{"env", "prod"}, {"instance", addr}, {"job", "fsd"}, {"team", "db"}}))
          << t.dump();
      EXPECT_EQ(t["scrapeUrl"], "http://" + addr + "/metrics") << t.dump();
    }
  }
  // They point at the collector itself, so they are scraped and up.
  EXPECT_TRUE(WaitUntil([&] { return c.Active("fsd")[self1]["health"] == "up"; }, seconds(5)))
      << c.Targets().dump();

  // A new YAML file next to it: both files' targets.
  const std::string b = sd + "/b.yml";
  t0 = Clock::now();
  WriteAtomic(b, "- targets: ['" + down + "']\n  labels:\n    env: staging\n");
  ASSERT_TRUE(WaitUntil([&] { return c.ActiveAddresses("fsd").count(down) == 1; }, kWithinRefresh))
      << c.Targets().dump();
  std::printf("b.yml's targets visible after %.3f s\n", Since(t0));
  {
    auto act = c.Active("fsd");
    EXPECT_EQ(act.size(), 3u);
    EXPECT_EQ(act[down]["discoveredLabels"]["__meta_filepath"], b);
    EXPECT_EQ(act[down]["labels"]["env"], "staging");
    EXPECT_EQ(act[self1]["discoveredLabels"]["__meta_filepath"], a);
  }
  EXPECT_TRUE(WaitUntil([&] { return c.Active("fsd")[down]["health"] == "down"; }, seconds(5)))
      << c.Targets().dump();

  // A changed file: one target fewer, other labels.
  t0 = Clock::now();
  WriteAtomic(a, R"([{"targets": [")" + self1 + R"("], "labels": {"env": "dev"}}])");
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto act = c.Active("fsd");
        return act.size() == 2 && act.count(self1) && act[self1]["labels"]["env"] == "dev" &&
               !act[self1]["labels"].contains("team");
      },
      kWithinRefresh))
      << c.Targets().dump();
  std::printf("a.json's change visible after %.3f s\n", Since(t0));

  // The same change written in place (truncate, then write), as an editor without rename would.
  WriteFile(a,
            R"([{"targets": [")" + self1 + R"(", ")" + self2 + R"("], "labels": {"env": "dev"}}])");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return c.ActiveAddresses("fsd") == std::set<std::string>{self1, self2, down};
      },
      kWithinRefresh))
      << c.Targets().dump();

  // A broken JSON file: an error naming the file, and its last good targets stay.
  // (The in-place write above may have been read half-written, which logs an error too.)
  const std::regex json_err("level=error.*" + Escape(a) + ".*parse error");
  const size_t json_errs = LogLines(c.log(), json_err).size();
  WriteAtomic(a, R"([{"targets": [")" + self1 + R"(", )");
  ASSERT_TRUE(
      WaitUntil([&] { return LogLines(c.log(), json_err).size() > json_errs; }, kWithinRefresh))
      << ReadFile(c.log());
  std::printf("JSON error logged: %s\n", LogLines(c.log(), json_err).back().c_str());
  // A refresh later (the fallback re-read fails again) the targets are the same.
  std::this_thread::sleep_for(milliseconds(2300));
  {
    auto act = c.Active("fsd");
    EXPECT_EQ(c.ActiveAddresses("fsd"), (std::set<std::string>{self1, self2, down}))
        << c.Targets().dump();
    EXPECT_EQ(act[self1]["labels"]["env"], "dev");
    EXPECT_EQ(act[self1]["discoveredLabels"]["__meta_filepath"], a);
  }
  EXPECT_GE(LogLines(c.log(), json_err).size(), json_errs + 2)
      << "the refresh re-reads the broken file";
  std::smatch m;
  std::string metrics = c.Metrics();
  ASSERT_TRUE(
      std::regex_search(metrics, m, std::regex(R"(lookout_sd_file_read_errors_total (\d+))")))
      << metrics;
  EXPECT_GE(std::stoi(m[1]), 1);

  // A broken YAML file (a syntax error): the error names the file and the line; targets stay.
  const std::regex yaml_err("level=error.*" + Escape(b) + R"(:(\d+):(\d+))");
  WriteAtomic(b, "- targets: ['" + down + "']\n  labels:\n    env: [staging\n");
  ASSERT_TRUE(WaitUntil([&] { return !LogLines(c.log(), yaml_err).empty(); }, kWithinRefresh))
      << ReadFile(c.log());
  std::printf("YAML error logged: %s\n", LogLines(c.log(), yaml_err).front().c_str());
  // A structurally wrong YAML file (unknown key on line 3): file:3:3 exactly.
  const std::regex yaml_key_err("level=error.*" + Escape(b) + R"(:3:3: .*unknown field)");
  WriteAtomic(b, "- targets: ['" + down + "']\n  labels: {env: staging}\n  lables: {env: x}\n");
  ASSERT_TRUE(WaitUntil([&] { return !LogLines(c.log(), yaml_key_err).empty(); }, kWithinRefresh))
      << ReadFile(c.log());
  std::printf("YAML error logged: %s\n", LogLines(c.log(), yaml_key_err).front().c_str());
  std::this_thread::sleep_for(milliseconds(2300));
  {
    auto act = c.Active("fsd");
    EXPECT_EQ(c.ActiveAddresses("fsd"), (std::set<std::string>{self1, self2, down}))
        << c.Targets().dump();
    EXPECT_EQ(act[down]["labels"]["env"], "staging");
  }

  // A file repaired: its new content applies.
  WriteAtomic(b, "- targets: ['" + down + "']\n  labels: {env: qa}\n");
  ASSERT_TRUE(
      WaitUntil([&] { return c.Active("fsd")[down]["labels"]["env"] == "qa"; }, kWithinRefresh))
      << c.Targets().dump();

  // A deleted file: its targets go, the other file's stay.
  t0 = Clock::now();
  fs::remove(b);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return c.ActiveAddresses("fsd") == std::set<std::string>{self1, self2};
      },
      kWithinRefresh))
      << c.Targets().dump();
  std::printf("b.yml's removal visible after %.3f s\n", Since(t0));
  // A deleted broken file: its last good targets go too.
  WriteAtomic(a, "[{\"targets\": ");
  const size_t before_delete = LogLines(c.log(), json_err).size();
  ASSERT_TRUE(WaitUntil([&] { return LogLines(c.log(), json_err).size() > before_delete; },
                        kWithinRefresh));
  EXPECT_EQ(c.ActiveAddresses("fsd"), (std::set<std::string>{self1, self2}));
  fs::remove(a);
  ASSERT_TRUE(WaitUntil([&] { return c.Active("fsd").empty(); }, kWithinRefresh))
      << c.Targets().dump();
  // And nothing comes back on the next refreshes.
  std::this_thread::sleep_for(milliseconds(2300));
  EXPECT_TRUE(c.Active("fsd").empty()) << c.Targets().dump();
  EXPECT_TRUE(c.Running());
}

// A directory that does not exist at start cannot be watched: the refresh finds its files, and
// the watch is added then (a later change shows at once).
TEST_F(CollectorDiscovery, FileSDDirectoryCreatedAfterStart) {
  const std::string later = dir_ + "/later";
  // clang-format off
  Collector c(dir_ + "/c",
              "scrape_configs:\n  - job_name: fsd\n    scrape_interval: 1h\n"
              "    file_sd_configs:\n      - files: ['" + later + "/*.yaml']\n"
              "        refresh_interval: 2s\n");
  // clang-format on
  ASSERT_TRUE(c.WaitReady());
  std::this_thread::sleep_for(milliseconds(300));
  fs::create_directories(later);
  auto t0 = Clock::now();
  WriteAtomic(later + "/t.yaml", "- targets: ['127.0.0.1:1']\n");
  ASSERT_TRUE(
      WaitUntil([&] { return c.ActiveAddresses("fsd") == std::set<std::string>{"127.0.0.1:1"}; },
                milliseconds(2500)))
      << c.Targets().dump();
  std::printf("found by the refresh after %.3f s\n", Since(t0));
  std::this_thread::sleep_for(milliseconds(200));
  t0 = Clock::now();
  WriteAtomic(later + "/t.yaml", "- targets: ['127.0.0.1:2']\n");
  ASSERT_TRUE(
      WaitUntil([&] { return c.ActiveAddresses("fsd") == std::set<std::string>{"127.0.0.1:2"}; },
                milliseconds(2500)))
      << c.Targets().dump();
  std::printf("change seen after %.3f s (watched now)\n", Since(t0));
  EXPECT_LT(Since(t0), 1.5) << "the directory should be watched once it exists";
}

// A target that moves from one file to another keeps its scrape (same final labels) and shows its
// new discovered labels, as Prometheus updates them for the service-discovery page.
TEST_F(CollectorDiscovery, TargetMovedBetweenFilesShowsNewDiscoveredLabels) {
  std::string sd = dir_ + "/sd";
  WriteFile(sd + "/a.json", R"([{"targets": ["127.0.0.1:1"], "labels": {"env": "prod"}}])");
  Collector c(dir_ + "/c",
              "scrape_configs:\n  - job_name: fsd\n    scrape_interval: 1h\n"
              "    file_sd_configs:\n      - files: ['" + sd + "/*.json']\n");
  ASSERT_TRUE(c.WaitReady());
  ASSERT_TRUE(WaitUntil([&] { return c.Active("fsd").size() == 1; }, seconds(5)))
      << c.Targets().dump();
  EXPECT_EQ(c.Active("fsd")["127.0.0.1:1"]["discoveredLabels"]["__meta_filepath"], sd + "/a.json");
  WriteAtomic(sd + "/b.json", R"([{"targets": ["127.0.0.1:1"], "labels": {"env": "prod"}}])");
  fs::remove(sd + "/a.json");
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto act = c.Active("fsd");
        return act.size() == 1 &&
               act["127.0.0.1:1"]["discoveredLabels"]["__meta_filepath"] == sd + "/b.json";
      },
      seconds(3)))
      << c.Targets().dump();
}

// ---- 2. relabel_configs ----------------------------------------------------------------------

TEST_F(CollectorDiscovery, RelabelDropKeepHashmodLabelmap) {
  // The file_sd path in the config is relative: it resolves against the config file's directory.
  fs::create_directories(dir_ + "/c/sd");
  const std::string path = dir_ + "/c/sd/nodes.json";
  // The worked example of shared/specs/file-sd.md section 4, plus a target that `keep` drops.
  WriteFile(path, R"([
  {"targets": ["10.0.1.17:9100", "db-7.prod.example.net:9100", "db-8.prod.example.net:9200"],
   "labels": {"env": "prod", "team": "db"}},
  {"targets": ["10.0.9.9:9100"], "labels": {"env": "staging"}}
])");
  ASSERT_EQ(HashMod("10.0.1.17:9100", 4), 0u);
  ASSERT_EQ(HashMod("db-7.prod.example.net:9100", 4), 3u);
  ASSERT_EQ(HashMod("baz", 1000), 976u);  // the known answer of Prometheus' tests
  Collector c(dir_ + "/c",
              "scrape_configs:\n"
              "  - job_name: node\n"
              "    scrape_interval: 1h\n"  // discovery is under test, not scraping
              "    params: { format: [prometheus] }\n"
              "    file_sd_configs: [ { files: ['sd/*.json'], refresh_interval: 2s } ]\n"
              "    relabel_configs:\n"
              "      - { source_labels: [env], regex: staging, action: drop }\n"
              "      - { source_labels: [__address__], regex: '.+:9100', action: keep }\n"
              "      - { source_labels: [__address__], regex: '([^:]+):\\d+', target_label: host, "
              "replacement: '${1}' }\n"
              "      - { source_labels: [__address__], modulus: 4, target_label: __tmp_shard, "
              "action: hashmod }\n"
              "      - { source_labels: [__tmp_shard], regex: '3', action: keep }\n"
              "      - { regex: '__meta_(.+)', replacement: 'sd_${1}', action: labelmap }\n"
              "      - { regex: '__tmp_.*', action: labeldrop }\n");
  ASSERT_TRUE(c.WaitReady());
  ASSERT_TRUE(WaitUntil([&] { return c.Dropped().size() == 3 && c.Active("node").size() == 1; },
                        seconds(5)))
      << c.Targets().dump();
  auto act = c.Active("node");
  ASSERT_EQ(act.count("db-7.prod.example.net:9100"), 1u);
  const json& t = act["db-7.prod.example.net:9100"];
  EXPECT_EQ(t["labels"], json({{"env", "prod"},
                               {"host", "db-7.prod.example.net"},
                               {"instance", "db-7.prod.example.net:9100"},
                               {"job", "node"},
                               {"sd_filepath", path},
                               {"team", "db"}}))
      << t.dump();
  EXPECT_EQ(t["scrapeUrl"], "http://db-7.prod.example.net:9100/metrics?format=prometheus");
  EXPECT_EQ(t["scrapeInterval"], "1h");
  EXPECT_EQ(t["discoveredLabels"], json({{"__address__", "db-7.prod.example.net:9100"},
                                         {"__meta_filepath", path},
                                         {"__metrics_path__", "/metrics"},
                                         {"__param_format", "prometheus"},
                                         {"__scheme__", "http"},
                                         {"__scrape_interval__", "1h"},
                                         {"__scrape_timeout__", "10s"},
                                         {"env", "prod"},
                                         {"job", "node"},
                                         {"team", "db"}}))
      << t.dump();
  auto dropped = c.Dropped();
  for (const char* addr : {"10.0.9.9:9100", "10.0.1.17:9100", "db-8.prod.example.net:9200"}) {
    ASSERT_EQ(dropped.count(addr), 1u) << addr << ": " << c.Targets().dump();
    EXPECT_EQ(dropped[addr]["__meta_filepath"], path) << addr;
    EXPECT_EQ(dropped[addr]["job"], "node") << addr;
  }
  EXPECT_EQ(dropped["10.0.9.9:9100"]["env"], "staging");

  // A changed file is relabeled again: all prod now, so only hashmod decides; the expected shard
  // 3 follows from MD5 computed here.
  std::vector<std::string> more = {"10.0.9.9:9100", "10.0.1.17:9100", "db-7.prod.example.net:9100"};
  for (int i = 0; i < 12; ++i) more.push_back("10.1.0." + std::to_string(i) + ":9100");
  std::string targets;
  std::set<std::string> want;
  for (const auto& addr : more) {
    targets += (targets.empty() ? "\"" : ", \"") + addr + "\"";
    if (HashMod(addr, 4) == 3) want.insert(addr);
  }
  WriteAtomic(path, "[{\"targets\": [" + targets + "], \"labels\": {\"env\": \"prod\"}}]");
  ASSERT_TRUE(WaitUntil([&] { return c.ActiveAddresses("node") == want; }, milliseconds(2500)))
      << c.Targets().dump();
  EXPECT_EQ(c.Dropped().size(), more.size() - want.size()) << c.Targets().dump();
  std::printf("%zu of %zu targets in shard 3 of 4\n", want.size(), more.size());
}

TEST_F(CollectorDiscovery, HashmodShardsPartitionTargetsAcrossTwoCollectors) {
  std::string sd = dir_ + "/sd";
  std::vector<std::string> addrs;
  std::string list;
  for (int i = 0; i < 20; ++i) {
    addrs.push_back("node-" + std::to_string(i) + ".example.invalid:9100");
    list += (list.empty() ? "'" : ", '") + addrs.back() + "'";
  }
  WriteFile(sd + "/shard.yml", "- targets: [" + list + "]\n  labels: {dc: eu}\n");
  // clang-format off
  auto config = [&](int shard) {
    return "scrape_configs:\n"
           "  - job_name: sharded\n"
           "    scrape_interval: 1h\n"
           "    file_sd_configs:\n"
           "      - files: ['" + sd + "/*.yml']\n"
           "        refresh_interval: 2s\n"
           "    relabel_configs:\n"
           "      - source_labels: [__address__]\n"
           "        modulus: 2\n"
           "        target_label: __tmp_hash\n"
           "        action: hashmod\n"
           "      - source_labels: [__tmp_hash]\n"
           "        regex: " + std::to_string(shard) + "\n"
           "        action: keep\n";
  };
  // clang-format on
  Collector c0(dir_ + "/c0", config(0));
  Collector c1(dir_ + "/c1", config(1));
  // Both configs are valid for lookout-tool too.
  auto check = RunCommand(
      {BuildDir() + "/collector/lookout-tool", "check", "config", c0.config(), c1.config()},
      seconds(30));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find(" SUCCESS: 1 scrape configs found"), std::string::npos) << check.out;

  ASSERT_TRUE(c0.WaitReady());
  ASSERT_TRUE(c1.WaitReady());
  std::set<std::string> want0, want1;
  for (const auto& a : addrs) (HashMod(a, 2) == 0 ? want0 : want1).insert(a);
  ASSERT_FALSE(want0.empty());
  ASSERT_FALSE(want1.empty());
  ASSERT_TRUE(WaitUntil(
      [&] { return c0.ActiveAddresses("sharded").size() + c0.Dropped().size() == 20; }, seconds(5)))
      << c0.Targets().dump();
  ASSERT_TRUE(WaitUntil(
      [&] { return c1.ActiveAddresses("sharded").size() + c1.Dropped().size() == 20; }, seconds(5)))
      << c1.Targets().dump();
  auto a0 = c0.ActiveAddresses("sharded"), a1 = c1.ActiveAddresses("sharded");
  std::set<std::string> both, all;
  for (const auto& a : a0) {
    if (a1.count(a)) both.insert(a);
    all.insert(a);
  }
  all.insert(a1.begin(), a1.end());
  EXPECT_TRUE(both.empty()) << "targets in both shards: " << json(both).dump();
  EXPECT_EQ(all, std::set<std::string>(addrs.begin(), addrs.end())) << "targets lost";
  EXPECT_EQ(a0, want0);
  EXPECT_EQ(a1, want1);
  // Each collector lists the other shard's targets as dropped.
  std::set<std::string> d0, d1;
  for (const auto& [a, l] : c0.Dropped()) d0.insert(a);
  for (const auto& [a, l] : c1.Dropped()) d1.insert(a);
  EXPECT_EQ(d0, a1);
  EXPECT_EQ(d1, a0);
  // __tmp_ labels configure nothing and never reach the series labels.
  for (const auto& [a, t] : c0.Active("sharded")) {
    EXPECT_EQ(t["labels"], json({{"dc", "eu"}, {"instance", a}, {"job", "sharded"}})) << t.dump();
  }
  std::printf("shard 0: %zu targets, shard 1: %zu targets\n", a0.size(), a1.size());

  // A reload that changes only the relabel rules re-evaluates the discovered targets.
  WriteFile(c0.config(), config(1));
  std::string body;
  ASSERT_EQ(c0.Reload(body), 200) << body;
  ASSERT_TRUE(WaitUntil([&] { return c0.ActiveAddresses("sharded") == want1; }, seconds(3)))
      << c0.Targets().dump();
  std::set<std::string> d0b;
  for (const auto& [a, l] : c0.Dropped()) d0b.insert(a);
  EXPECT_EQ(d0b, want0);
}

// ---- 3. reload -------------------------------------------------------------------------------

TEST_F(CollectorDiscovery, ReloadByHttpAndSighupAllOrNothing) {
  const int p1 = FreePort(), p2 = FreePort(), p3 = FreePort();
  auto job = [](const std::string& name, int port) {
    return "  - job_name: " + name +
           "\n    static_configs:\n      - targets: ['127.0.0.1:" + std::to_string(port) + "']\n";
  };
  const std::string head = "global:\n  scrape_interval: 1m\nscrape_configs:\n";
  Collector c(dir_ + "/c", head + job("one", p1));
  ASSERT_TRUE(c.WaitReady());
  ASSERT_TRUE(WaitUntil([&] { return c.Pools() == std::set<std::string>{"one"}; }, seconds(5)))
      << c.Targets().dump();

  // POST /-/reload: a job added.
  std::string body;
  WriteFile(c.config(), head + job("one", p1) + job("two", p2));
  ASSERT_EQ(c.Reload(body), 200) << body;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return c.Pools() == std::set<std::string>{"one", "two"};
      },
      seconds(3)))
      << c.Targets().dump();
  EXPECT_EQ(c.ActiveAddresses("two"), std::set<std::string>{"127.0.0.1:" + std::to_string(p2)});

  // A job removed (and the remaining one's target changed).
  WriteFile(c.config(), head + job("two", p3));
  ASSERT_EQ(c.Reload(body), 200) << body;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return c.Pools() == std::set<std::string>{"two"} &&
               c.ActiveAddresses("two") == std::set<std::string>{"127.0.0.1:" + std::to_string(p3)};
      },
      seconds(3)))
      << c.Targets().dump();
  std::string running;
  ASSERT_EQ(HttpGet(c.port(), "/api/v1/status/config", running), 200);

  // A broken config (an unknown key on line 6, column 5): 500 with file:line:col, nothing changes.
  WriteFile(c.config(), head + job("two", p3) + job("three", p1) + "    scrape_intervall: 5s\n");
  // line 1 global, 2 scrape_interval, 3 scrape_configs, 4-6 two, 7-9 three, 10 the bad key
  ASSERT_EQ(c.Reload(body), 500) << body;
  EXPECT_NE(body.find(c.config() + ":10:5"), std::string::npos) << body;
  EXPECT_NE(body.find("scrape_intervall"), std::string::npos) << body;
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(c.Pools(), std::set<std::string>{"two"}) << c.Targets().dump();
  EXPECT_EQ(c.ActiveAddresses("two"), std::set<std::string>{"127.0.0.1:" + std::to_string(p3)});
  std::string still;
  ASSERT_EQ(HttpGet(c.port(), "/api/v1/status/config", still), 200);
  EXPECT_EQ(still, running) << "the running configuration must stay";
  EXPECT_FALSE(LogLines(c.log(), std::regex("level=error.*reload failed.*:10:5")).empty())
      << ReadFile(c.log());
  // A broken file of another kind (YAML syntax): 500 too.
  WriteFile(c.config(), head + "  - job_name: [unclosed\n");
  ASSERT_EQ(c.Reload(body), 500) << body;
  EXPECT_TRUE(std::regex_search(body, std::regex(Escape(c.config()) + R"(:\d+:\d+)"))) << body;
  EXPECT_EQ(c.Pools(), std::set<std::string>{"two"}) << c.Targets().dump();

  // SIGHUP reloads too: a valid file applies...
  WriteFile(c.config(), head + job("three", p1) + job("four", p2));
  ASSERT_EQ(kill(c.pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return c.Pools() == std::set<std::string>{"three", "four"};
      },
      seconds(3)))
      << c.Targets().dump();
  ASSERT_EQ(HttpGet(c.port(), "/api/v1/status/config", still), 200);
  EXPECT_NE(still.find("four"), std::string::npos) << still;
  // ...and a broken one is logged and changes nothing.
  size_t failures = LogLines(c.log(), std::regex("level=error.*reload failed")).size();
  WriteFile(c.config(), head + job("five", p3) + "bogus_top_level: 1\n");
  ASSERT_EQ(kill(c.pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return LogLines(c.log(), std::regex("level=error.*reload failed.*:7:1")).size() > 0 &&
               LogLines(c.log(), std::regex("level=error.*reload failed")).size() > failures;
      },
      seconds(3)))
      << ReadFile(c.log());
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(c.Pools(), (std::set<std::string>{"three", "four"})) << c.Targets().dump();
  EXPECT_TRUE(c.Running());
}

// A reload that changes a job's file_sd_configs switches to the new files; one that keeps them
// keeps the discovered targets without a gap.
TEST_F(CollectorDiscovery, ReloadSwitchesFileSDFiles) {
  std::string sd = dir_ + "/sd";
  WriteFile(sd + "/a.json", R"([{"targets": ["127.0.0.1:1"]}])");
  WriteFile(sd + "/b.json", R"([{"targets": ["127.0.0.1:2"]}])");
  auto config = [&](const std::string& file, const std::string& interval) {
    return "scrape_configs:\n  - job_name: fsd\n    scrape_interval: " + interval +
           "\n    file_sd_configs:\n      - files: ['" + sd + "/" + file + "']\n";
  };
  Collector c(dir_ + "/c", config("a.json", "1m"));
  ASSERT_TRUE(c.WaitReady());
  ASSERT_TRUE(WaitUntil(
      [&] { return c.ActiveAddresses("fsd") == std::set<std::string>{"127.0.0.1:1"}; }, seconds(5)))
      << c.Targets().dump();
  std::string body;
  WriteFile(c.config(), config("b.json", "1m"));
  ASSERT_EQ(c.Reload(body), 200) << body;
  ASSERT_TRUE(WaitUntil(
      [&] { return c.ActiveAddresses("fsd") == std::set<std::string>{"127.0.0.1:2"}; }, seconds(3)))
      << c.Targets().dump();
  // Same files, another scrape interval: the target stays and takes the new interval.
  WriteFile(c.config(), config("b.json", "30s"));
  ASSERT_EQ(c.Reload(body), 200) << body;
  ASSERT_TRUE(WaitUntil([&] { return c.Active("fsd")["127.0.0.1:2"]["scrapeInterval"] == "30s"; },
                        seconds(3)))
      << c.Targets().dump();
  EXPECT_EQ(c.ActiveAddresses("fsd"), std::set<std::string>{"127.0.0.1:2"});
  // The file discoverer kept running: a change of b.json still shows.
  WriteAtomic(sd + "/b.json", R"([{"targets": ["127.0.0.1:3"]}])");
  ASSERT_TRUE(WaitUntil(
      [&] { return c.ActiveAddresses("fsd") == std::set<std::string>{"127.0.0.1:3"}; }, seconds(3)))
      << c.Targets().dump();
}

// ---- 4. lookout-tool check config ------------------------------------------------------------

TEST_F(CollectorDiscovery, CheckConfig) {
  const std::string tool = BuildDir() + "/collector/lookout-tool";
  const std::string packaged = SourceDir() + "/packaging/config/lookout.yml";
  auto ok = RunCommand({tool, "check", "config", packaged}, seconds(30));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("Checking " + packaged), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find(" SUCCESS: 2 scrape configs found"), std::string::npos) << ok.out;

  struct Case {
    const char* what;
    std::string yaml;
    std::string where;  // ":line:col" expected after the file name
    std::string reason;
  } cases[] = {
      {"unknown key", "scrape_configs:\n  - job_name: x\n    scrape_intervall: 5s\n", ":3:5",
       "unknown key"},
      {"bad file_sd pattern",
       "scrape_configs:\n  - job_name: x\n    file_sd_configs:\n      - files: ['/a/*/b.json']\n",
       ":4:17", "not valid for file discovery"},
      {"bad relabel action",
       "scrape_configs:\n  - job_name: x\n    relabel_configs:\n      - {source_labels: [a], "
       "action: frobnicate}\n",
       ":4:", "frobnicate"},
      {"hashmod without modulus",
       "scrape_configs:\n  - job_name: x\n    relabel_configs:\n      - source_labels: [a]\n"
       "        target_label: b\n        action: hashmod\n",
       ":4:", "modulus"},
      {"YAML syntax", "scrape_configs:\n  - job_name: [x\n", ":", ""},
  };
  int i = 0;
  for (const auto& c : cases) {
    std::string file = dir_ + "/bad" + std::to_string(i++) + ".yml";
    WriteFile(file, c.yaml);
    auto r = RunCommand({tool, "check", "config", file}, seconds(30));
    EXPECT_EQ(r.exit_code, 1) << c.what << ": " << r.out << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex(Escape(file + c.where) + R"(\d*:?\d*)")))
        << c.what << ": " << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex(Escape(file) + R"(:\d+:\d+: )")))
        << c.what << ": " << r.err;
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << c.what << ": " << r.err;
    EXPECT_NE(r.err.find(" FAILED: "), std::string::npos) << c.what << ": " << r.err;
  }
  // Several files: one bad file fails the run; the good one is still reported.
  auto mixed = RunCommand({tool, "check", "config", packaged, dir_ + "/bad0.yml"}, seconds(30));
  EXPECT_EQ(mixed.exit_code, 1);
  EXPECT_NE(mixed.out.find(" SUCCESS: 2 scrape configs found"), std::string::npos) << mixed.out;
  // A missing file fails too.
  auto missing = RunCommand({tool, "check", "config", dir_ + "/nope.yml"}, seconds(30));
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
}

}  // namespace
}  // namespace tests
