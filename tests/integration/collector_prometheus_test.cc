// A real Prometheus 2.42 scrapes lookout-agent and itself and forwards everything with
// remote_write to lookout-collector; every series and sample Prometheus holds for a window must
// then be in the collector's store with equal values.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "collector/storage/storage.h"
#include "collector/tsdb/db.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;
using Samples = std::vector<std::pair<int64_t, uint64_t>>;

// Bit pattern of a value; every NaN compares equal (the JSON API prints all of them as "NaN").
uint64_t Bits(double v) {
  if (std::isnan(v)) return 0x7ff8000000000000ull;
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

TEST(CollectorRemoteWrite, HoldsEverySamplePrometheusForwarded) {
  if (!fs::exists("/usr/bin/prometheus")) {
    if (InCI()) FAIL() << "prometheus missing (install-deps installs it)";
    GTEST_SKIP() << "prometheus not installed";
  }
  std::string dir = fs::temp_directory_path() / ("lookout-rw-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  int cport = FreePort(), aport = FreePort(), pport = FreePort();
  Child collector({BuildDir() + "/collector/lookout-collector",
                   "--web.listen-address=127.0.0.1:" + std::to_string(cport),
                   "--storage.tsdb.path=" + dir + "/collector", "--storage.tsdb.persist-interval=2s"},
                  dir + "/collector.log");
  Child agent({BuildDir() + "/agent/lookout-agent",
               "--web.listen-address=127.0.0.1:" + std::to_string(aport)},
              dir + "/agent.log");
  ASSERT_TRUE(WaitHttpOk(cport, "/-/ready", std::chrono::seconds(20)));
  ASSERT_TRUE(WaitHttpOk(aport, "/metrics", std::chrono::seconds(20)));
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
      << "remote_write:\n  - url: http://127.0.0.1:" << cport << "/api/v1/write\n"
      << "    queue_config:\n      batch_send_deadline: 500ms\n      min_backoff: 10ms\n"
      << "scrape_configs:\n"
      << "  - job_name: agent\n    static_configs:\n      - targets: ['127.0.0.1:" << aport << "']\n"
      << "  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:" << pport << "']\n";
  Child prom({"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
              "--web.listen-address=127.0.0.1:" + std::to_string(pport),
              "--storage.tsdb.path=" + dir + "/prom"},
             dir + "/prometheus.log");
  ASSERT_TRUE(WaitHttpOk(pport, "/-/ready", std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(15));

  // The window: 10 s ending 5 s ago, so remote_write (500 ms batches) has delivered it.
  double t_end = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count()) / 1000.0 - 5.0;
  std::string body;
  char tbuf[32];
  std::snprintf(tbuf, sizeof tbuf, "%.3f", t_end);
  ASSERT_EQ(HttpGet(pport, "/api/v1/query?query=" + UrlEncode("{__name__=~\".+\"}[10s]") + "&time=" + tbuf, body), 200)
      << body;
  auto j = nlohmann::json::parse(body);
  ASSERT_EQ(j["data"]["resultType"], "matrix");
  std::map<std::string, Samples> want;
  size_t nsamples = 0;
  for (const auto& series : j["data"]["result"]) {
    std::vector<collector::model::Label> ls;
    for (auto it = series["metric"].begin(); it != series["metric"].end(); ++it) {
      ls.push_back({it.key(), it.value().get<std::string>()});
    }
    std::string key = collector::model::Labels(std::move(ls)).ToString();
    for (const auto& p : series["values"]) {
      int64_t t = std::llround(p[0].get<double>() * 1000);
      double v = std::strtod(p[1].get<std::string>().c_str(), nullptr);
      want[key].push_back({t, Bits(v)});
      ++nsamples;
    }
  }
  ASSERT_GT(want.size(), 100u) << "Prometheus holds too few series to compare";
  std::this_thread::sleep_for(std::chrono::seconds(3));
  prom.Stop();
  agent.Stop();
  collector.Stop();  // SIGTERM: clean shutdown

  auto db = collector::tsdb::DB::Open({.dir = dir + "/collector", .background = false},
                                      common::log::Logger("test"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  int64_t maxt = std::llround(t_end * 1000), mint = maxt - 10000 + 1;
  auto q = (*db)->NewQuerier(mint, maxt);
  auto m = collector::storage::Matcher::Make(collector::storage::Matcher::Type::kRegex, "__name__", ".+");
  std::vector<collector::storage::Matcher> ms = {*m};
  auto set = (*q)->Select(true, mint, maxt, ms);
  std::map<std::string, Samples> got;
  while (set->Next()) {
    auto it = set->At().Iterator();
    Samples s;
    while (it->Next()) {
      if (!collector::storage::IsStaleNaN(it->v())) s.push_back({it->t(), Bits(it->v())});
    }
    if (!s.empty()) got[set->At().labels().ToString()] = std::move(s);
  }
  size_t missing_series = 0, differing = 0;
  for (const auto& [key, samples] : want) {
    auto it = got.find(key);
    if (it == got.end()) {
      if (++missing_series <= 5) ADD_FAILURE() << "series missing in the collector: " << key;
      continue;
    }
    if (it->second != samples) {
      if (++differing <= 5) {
        ADD_FAILURE() << "samples differ for " << key << ": prometheus " << samples.size()
                      << " samples, collector " << it->second.size();
      }
    }
  }
  std::printf("compared %zu series, %zu samples: %zu missing, %zu differing\n", want.size(),
              nsamples, missing_series, differing);
  EXPECT_EQ(missing_series, 0u);
  EXPECT_EQ(differing, 0u);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace tests
