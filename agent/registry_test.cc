#include "agent/registry.h"

#include <gtest/gtest.h>

#include <atomic>
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
  static std::atomic<bool> release{false};
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

}  // namespace
}  // namespace agent
