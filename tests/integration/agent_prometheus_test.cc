// lookout-agent on the real host, checked by the real peers: promtool's metric lint on a live
// scrape, and a Prometheus 2.42 (Debian package, loopback only) scraping the agent.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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

// promtool lints names as well as parsing. node_exporter's own names (node_memory_MemTotal_bytes,
// node_entropy_available_bits...) draw naming advice from promtool; since Lookout keeps those
// names on purpose, such advice is accepted exactly when promtool gives it for node_exporter's
// own output too (a live node_exporter 1.5 scrape on this host, or a family of node_exporter
// 1.12's fixture output). Anything else (a parse error, a lint problem of our own) fails.
TEST_F(AgentOnHost, PromtoolFindsNoProblemInALiveScrape) {
  if (!HaveBinary("/usr/bin/promtool") || !HaveBinary("/usr/bin/prometheus-node-exporter")) {
    if (InCI()) FAIL() << "promtool / node_exporter missing (install-deps installs them)";
    GTEST_SKIP() << "promtool or node_exporter not installed";
  }
  std::string body;
  ASSERT_EQ(HttpGet(port_, "/metrics", body), 200);
  ASSERT_NE(body.find("node_cpu_seconds_total"), std::string::npos);
  std::string file = dir_ + "/scrape.txt";
  std::ofstream(file) << body;
  RunResult r = RunCommand({"sh", "-c", "promtool check metrics < " + file}, std::chrono::seconds(30));
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 3) << "promtool could not parse the scrape: " << r.out << r.err;

  int ne_port = FreePort();
  Child ne({"/usr/bin/prometheus-node-exporter", "--web.listen-address=127.0.0.1:" + std::to_string(ne_port)},
           dir_ + "/node_exporter.log");
  ASSERT_TRUE(WaitHttpOk(ne_port, "/metrics", std::chrono::seconds(20)));
  std::string ne_body;
  ASSERT_EQ(HttpGet(ne_port, "/metrics", ne_body), 200);
  std::ofstream(dir_ + "/ne.txt") << ne_body;
  RunResult ne_lint = RunCommand({"sh", "-c", "promtool check metrics < " + dir_ + "/ne.txt"},
                                 std::chrono::seconds(30));
  std::string fixture_families;
  {
    std::ifstream in(SharedDir() + "/peer/node_exporter/e2e-output.families.tsv");
    std::stringstream ss;
    ss << in.rdbuf();
    fixture_families = ss.str();
  }
  std::istringstream lines(r.out + r.err);
  std::string line;
  int accepted = 0, problems = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::string name = line.substr(0, line.find(' '));
    bool node_exporter_too = (ne_lint.out + ne_lint.err).find(line) != std::string::npos ||
                             fixture_families.find("\n" + name + "\t") != std::string::npos;
    bool naming_advice = line.find("camelCase") != std::string::npos ||
                         line.find("base unit") != std::string::npos ||
                         line.find("should have \"_total\" suffix") != std::string::npos ||
                         line.find("non-histogram and non-summary metrics should not have") != std::string::npos;
    if (naming_advice && node_exporter_too) {
      ++accepted;
    } else {
      ++problems;
      ADD_FAILURE() << "promtool: " << line;
    }
  }
  std::printf("promtool: %d naming notes shared with node_exporter's own names, %d problems\n",
              accepted, problems);
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
