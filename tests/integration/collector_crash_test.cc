// Crash safety of lookout-collector: sustained remote_write ingest while the test kill -9s the
// collector at random moments (at least 20 times) and restarts it. Every sample acknowledged
// with a 2xx must survive, and the data directory must open every time.

#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "collector/storage/storage.h"
#include "collector/tsdb/db.h"
#include "common/proto/remote_write.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;

TEST(CollectorCrash, AcknowledgedSamplesSurviveKill9) {
  std::string dir = fs::temp_directory_path() / ("lookout-crash-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  int port = FreePort();
  // Small segments, frequent persists and checkpoints: crashes land in every phase.
  std::vector<std::string> argv = {BuildDir() + "/collector/lookout-collector",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                   "--storage.tsdb.path=" + dir + "/data",
                                   "--storage.tsdb.persist-interval=150ms",
                                   "--storage.tsdb.wal-segment-size=64KB",
                                   "--storage.tsdb.checkpoint-size=256KB"};
  Child collector(argv, dir + "/collector.log");
  ASSERT_TRUE(WaitHttpOk(port, "/-/ready", std::chrono::seconds(20)));

  constexpr int kSeries = 150;
  // Recent timestamps: retention (15d by default) must not delete what the test checks.
  const int64_t base = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count() / 1000 * 1000 -
                       3'600'000;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acked_batches{0};  // batches 0..acked-1 were acknowledged
  std::atomic<int> failed_requests{0};
  std::thread writer([&] {
    std::string resp;
    for (int64_t b = 0; !stop.load(); ++b) {
      common::proto::RwRequest req;
      for (int s = 0; s < kSeries; ++s) {
        common::proto::RwSeries series;
        series.labels = {{"__name__", "crash_test_metric"}, {"i", std::to_string(s)}, {"job", "crash"}};
        // Two samples per series per batch.
        for (int k = 0; k < 2; ++k) {
          int64_t t = base + (b * 2 + k) * 1000;
          series.samples.push_back({static_cast<double>(b * 1000 + s) + k * 0.5, t});
        }
        req.series.push_back(std::move(series));
      }
      std::string body = common::proto::EncodeWriteRequest(req);
      // Retry the same batch until it is acknowledged (as a remote_write sender does).
      for (;;) {
        if (stop.load()) return;
        int code = PostRemoteWrite(port, body, resp);
        if (code >= 200 && code < 300) {
          acked_batches = b + 1;
          break;
        }
        // A batch stored just before a kill is re-sent: exact duplicates are accepted.
        if (code >= 400 && code < 500) {
          ADD_FAILURE() << "batch " << b << " rejected with " << code << ": " << resp;
          return;
        }
        ++failed_requests;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  });

  std::mt19937 rng(static_cast<unsigned>(getpid()));
  int kills = 0;
  for (; kills < 22; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
    kill(collector.pid(), SIGKILL);
    collector = Child(argv, dir + "/collector.log");  // reaps the killed one
    ASSERT_TRUE(WaitHttpOk(port, "/-/ready", std::chrono::seconds(30)))
        << "data directory did not open after kill " << kills << "; see " << dir;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  writer.join();
  collector.Stop();
  int64_t acked = acked_batches.load();
  std::printf("kills %d, acknowledged batches %lld (%lld samples), failed attempts %d\n", kills,
              static_cast<long long>(acked), static_cast<long long>(acked * kSeries * 2),
              failed_requests.load());
  ASSERT_GT(acked, 20);

  auto db = collector::tsdb::DB::Open({.dir = dir + "/data", .background = false},
                                      common::log::Logger("test"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto q = (*db)->NewQuerier(base, base + 1'000'000'000);
  auto m = collector::storage::Matcher::Make(collector::storage::Matcher::Type::kEqual, "__name__",
                                             "crash_test_metric");
  std::vector<collector::storage::Matcher> ms = {*m};
  auto set = (*q)->Select(true, base, base + 1'000'000'000, ms);
  int series = 0;
  int64_t lost = 0;
  while (set->Next()) {
    ++series;
    int s = std::stoi(std::string(set->At().labels().Get("i")));
    std::map<int64_t, double> have;
    auto it = set->At().Iterator();
    while (it->Next()) have[it->t()] = it->v();
    for (int64_t b = 0; b < acked; ++b) {
      for (int k = 0; k < 2; ++k) {
        int64_t t = base + (b * 2 + k) * 1000;
        auto f = have.find(t);
        if (f == have.end() || f->second != static_cast<double>(b * 1000 + s) + k * 0.5) {
          if (++lost <= 5) ADD_FAILURE() << "series " << s << " lost acknowledged sample at " << t;
        }
      }
    }
  }
  EXPECT_EQ(series, kSeries);
  EXPECT_EQ(lost, 0);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace tests
