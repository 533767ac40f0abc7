// lookout-agent on the real host, checked by the real peers: promtool's metric lint on a live
// scrape, and a Prometheus 2.42 (Debian package, loopback only) scraping the agent.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;

bool HaveBinary(const std::string& path) { return fs::exists(path); }

class AgentOnHost : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lookout-agent-host-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    port_ = FreePort();
    agent_ = Child({BuildDir() + "/agent/lookout-agent",
                    "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                   dir_ + "/agent.log");
    ASSERT_TRUE(WaitHttpOk(port_, "/metrics", std::chrono::seconds(20)))
        << "agent did not answer; log in " << dir_;
  }
  void TearDown() override {
    agent_.Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string dir_;
  int port_ = 0;
  Child agent_;
};

TEST_F(AgentOnHost, PromtoolFindsNoProblemInALiveScrape) {
  if (!HaveBinary("/usr/bin/promtool")) {
    if (InCI()) FAIL() << "promtool missing (install-deps installs prometheus)";
    GTEST_SKIP() << "promtool not installed";
  }
  std::string body;
  ASSERT_EQ(HttpGet(port_, "/metrics", body), 200);
  ASSERT_NE(body.find("node_cpu_seconds_total"), std::string::npos);
  std::string file = dir_ + "/scrape.txt";
  std::ofstream(file) << body;
  RunResult r = RunCommand({"sh", "-c", "promtool check metrics < " + file}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << "promtool reported problems";
}

TEST_F(AgentOnHost, ServesIndexAndAnswersErrors) {
  std::string body;
  EXPECT_EQ(HttpGet(port_, "/", body), 200);
  EXPECT_NE(body.find("/metrics"), std::string::npos);
  EXPECT_EQ(HttpGet(port_, "/nope", body), 404);
}

TEST_F(AgentOnHost, PrometheusScrapesIt) {
  if (!HaveBinary("/usr/bin/prometheus")) {
    if (InCI()) FAIL() << "prometheus missing (install-deps installs it)";
    GTEST_SKIP() << "prometheus not installed";
  }
  int pport = FreePort();
  std::string cfg = dir_ + "/prometheus.yml";
  std::ofstream(cfg) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: lookout-agent\n    static_configs:\n"
                        "      - targets: ['127.0.0.1:" << port_ << "']\n";
  Child prom({"/usr/bin/prometheus", "--config.file=" + cfg,
              "--web.listen-address=127.0.0.1:" + std::to_string(pport),
              "--storage.tsdb.path=" + dir_ + "/prom-data"},
             dir_ + "/prometheus.log");
  ASSERT_TRUE(WaitHttpOk(pport, "/-/ready", std::chrono::seconds(60)))
      << "prometheus did not start; log in " << dir_;

  auto query = [&](const std::string& q) {
    std::string body;
    std::string enc;
    for (char c : q) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') enc += c;
      else {
        char b[4];
        std::snprintf(b, sizeof b, "%%%02X", static_cast<unsigned char>(c));
        enc += b;
      }
    }
    HttpGet(pport, "/api/v1/query?query=" + enc, body);
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || j.value("status", "") != "success") return nlohmann::json::array();
    return j["data"]["result"];
  };
  bool up = false, rate = false;
  nlohmann::json last;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && !(up && rate)) {
    auto u = query("up{job=\"lookout-agent\"}");
    up = u.size() == 1 && u[0]["value"][1] == "1";
    last = query("rate(node_cpu_seconds_total{mode=\"idle\"}[1m])");
    rate = !last.empty();
    if (!(up && rate)) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(up) << "up{job=\"lookout-agent\"} is not 1";
  ASSERT_TRUE(rate) << "rate(node_cpu_seconds_total[1m]) returned nothing";
  // Idle CPU seconds per second lie between 0 and 1 for each CPU.
  for (const auto& s : last) {
    double v = std::stod(s["value"][1].get<std::string>());
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.05);
    EXPECT_TRUE(s["metric"].contains("cpu"));
  }
}

}  // namespace
}  // namespace tests
