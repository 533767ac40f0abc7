#include "agent/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace agent {
namespace {

class FixedCollector : public Collector {
 public:
  FixedCollector(double v, Status st) : v_(v), st_(std::move(st)) {}
  Status Update(MetricSet& out) override {
    out.Gauge("node_test_value", "Test.", v_);
    return st_;
  }

 private:
  double v_;
  Status st_;
};

class HangingCollector : public Collector {
 public:
  explicit HangingCollector(std::atomic<bool>* release) : release_(release) {}
  Status Update(MetricSet& out) override {
    while (!release_->load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    out.Gauge("node_hung_value", "Hung.", 1);
    return Status::Ok();
  }

 private:
  std::atomic<bool>* release_;
};

TEST(Registry, ReportsSuccessFailureAndTimeouts) {
  static std::atomic<bool> release;
  release = false;
  {
    Registry r({std::chrono::milliseconds(200)}, common::log::Logger("test"));
    r.Add("good", std::make_unique<FixedCollector>(5, Status::Ok()));
    r.Add("bad", std::make_unique<FixedCollector>(6, Status::InvalidArgument("garbage")));
    r.Add("hung", std::make_unique<HangingCollector>(&release));
    r.Start();
    for (int scrape = 0; scrape < 2; ++scrape) {
      std::string out;
      auto t0 = std::chrono::steady_clock::now();
      r.Gather(out);
      auto took = std::chrono::steady_clock::now() - t0;
      EXPECT_LT(took, std::chrono::seconds(2));  // bounded by the deadline, not by the hang
      EXPECT_NE(out.find("node_scrape_collector_success{collector=\"good\"} 1"), std::string::npos);
      EXPECT_NE(out.find("node_scrape_collector_success{collector=\"bad\"} 0"), std::string::npos);
      EXPECT_NE(out.find("node_scrape_collector_success{collector=\"hung\"} 0"), std::string::npos);
      EXPECT_EQ(out.find("node_hung_value"), std::string::npos);
    }
    release = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string out;
    r.Gather(out);
    EXPECT_NE(out.find("node_scrape_collector_success{collector=\"hung\"} 1"), std::string::npos);
    EXPECT_NE(out.find("node_hung_value 1"), std::string::npos);
  }
}

int Threads() {
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// The thread count once it is at most `n`, or after 2s. A runner leaves the pool's count before
// its OS thread is gone from /proc/self/task.
int ThreadsSettledAtMost(int n) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int t;
  while ((t = Threads()) > n && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return t;
}

// More hung collectors than runners: the others still run in the first scrape (a runner is added
// when all are stuck), and the extra runners exit once the hung calls return.
TEST(Registry, HungCollectorsDoNotExhaustThePool) {
  static std::atomic<bool> release;
  release = false;
  int threads0 = ThreadsSettledAtMost(1);  // the main thread, once earlier tests' runners exit
  {
    Registry r({std::chrono::milliseconds(400), 2}, common::log::Logger("test"));
    for (int i = 0; i < 3; ++i)
      r.Add("hung" + std::to_string(i), std::make_unique<HangingCollector>(&release));
    r.Add("good", std::make_unique<FixedCollector>(5, Status::Ok()));
    r.Start();
    for (int scrape = 0; scrape < 3; ++scrape) {
      std::string out;
      r.Gather(out);
      EXPECT_NE(out.find("node_scrape_collector_success{collector=\"good\"} 1"), std::string::npos)
          << "scrape " << scrape;
      EXPECT_NE(out.find("node_scrape_collector_success{collector=\"hung0\"} 0"), std::string::npos);
    }
    EXPECT_GT(Threads(), threads0 + 2);
    release = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (int scrape = 0; scrape < 3; ++scrape) {
      std::string out;
      r.Gather(out);
      EXPECT_NE(out.find("node_scrape_collector_success{collector=\"hung2\"} 1"), std::string::npos);
    }
    EXPECT_EQ(ThreadsSettledAtMost(threads0 + 2), threads0 + 2);  // back to `parallelism` runners
  }
  // The destructor waits for idle runners to exit.
  EXPECT_EQ(ThreadsSettledAtMost(threads0), threads0);
}

}  // namespace
}  // namespace agent
