// lookout-collector's pull side against real targets on loopback:
// 1. it scrapes lookout-agent, itself and a real node_exporter 1.5 for over a minute, and
//    /federate for each job returns every series of a direct scrape of that target, with equal
//    values (the exporters read node_exporter's fixture trees, so their values hold still);
// 2. bad targets (hanging, HTTP 500, 100 MB body, 100k series over sample_limit, closing
//    mid-body) each give up 0 with a clear lastError while a good target keeps its schedule.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "common/expfmt/parser.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"
#include "tests/support/ttar.h"

namespace tests {
namespace {

namespace fs = std::filesystem;

// series text (name{sorted labels}) -> value
std::map<std::string, double> Parse(const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, double> out;
  common::expfmt::TextParser p(body);
  for (;;) {
    auto e = p.Next();
    if (e == common::expfmt::TextParser::Entry::kEnd || e == common::expfmt::TextParser::Entry::kError) break;
    if (e != common::expfmt::TextParser::Entry::kSeries) continue;
    std::map<std::string, std::string> ls;
    for (const auto& [n, v] : p.Labels()) {
      if (!v.empty()) ls[std::string(n)] = std::string(v);  // an empty value is an absent label
    }
    for (const auto& [n, v] : extra) ls[n] = v;
    std::string key(p.MetricName());
    for (const auto& [n, v] : ls) key += "," + n + "=" + v;
    out[key] = p.Value();
  }
  return out;
}

bool Varies(const std::string& key) {
  static const std::regex kVarying(
      "^(go_|process_|promhttp_|node_scrape_collector_duration_seconds|node_time_|"
      "node_textfile_mtime|node_exporter_build_info|lookout_|node_network_(receive|transmit)_|"
      "node_timex_|node_netstat_|node_sockstat_|node_softnet_|node_cpu_seconds|node_load|"
      "node_procs_|node_context_switches|node_forks|node_intr|node_interrupts|node_entropy|"
      "node_memory_|node_vmstat_|node_filefd_|node_pressure_|node_schedstat_|node_nf_conntrack|"
      "node_arp_|node_udp_queues|node_network_)");
  return std::regex_search(key, kVarying);
}

TEST(CollectorScrape, FederateMatchesDirectScrapesOfAgentSelfAndNodeExporter) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/sys.ttar");
  if (!fs::exists("/usr/bin/prometheus-node-exporter")) {
    if (InCI()) FAIL() << "prometheus-node-exporter missing";
    GTEST_SKIP() << "prometheus-node-exporter not installed";
  }
  std::string fx = SharedDir() + "/peer/node_exporter/fixtures";
  std::string dir = fs::temp_directory_path() / ("lookout-scrape-" + std::to_string(getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(ExtractTtar(fx + "/sys.ttar", dir).ok());
  int cport = FreePort(), aport = FreePort(), nport = FreePort();
  std::vector<std::string> paths = {"--path.procfs=" + fx + "/proc", "--path.sysfs=" + dir + "/sys",
                                    "--path.rootfs=" + fx};
  std::vector<std::string> agent_argv = {BuildDir() + "/agent/lookout-agent",
                                         "--web.listen-address=127.0.0.1:" + std::to_string(aport),
                                         "--no-collector.netdev", "--no-collector.arp",
                                         "--no-collector.filesystem"};
  agent_argv.insert(agent_argv.end(), paths.begin(), paths.end());
  std::vector<std::string> ne_argv = {"/usr/bin/prometheus-node-exporter",
                                      "--web.listen-address=127.0.0.1:" + std::to_string(nport),
                                      "--no-collector.netdev", "--no-collector.arp",
                                      "--no-collector.filesystem"};
  ne_argv.insert(ne_argv.end(), paths.begin(), paths.end());
  Child agent(agent_argv, dir + "/agent.log");
  Child ne(ne_argv, dir + "/node_exporter.log");
  std::ofstream(dir + "/lookout.yml")
      << "global:\n  scrape_interval: 5s\n  scrape_timeout: 4s\n"
      << "scrape_configs:\n"
      << "  - job_name: agent\n    static_configs:\n      - targets: ['127.0.0.1:" << aport << "']\n"
      << "  - job_name: node_exporter\n    static_configs:\n      - targets: ['127.0.0.1:" << nport << "']\n"
      << "  - job_name: collector\n    static_configs:\n      - targets: ['127.0.0.1:" << cport << "']\n";
  Child collector({BuildDir() + "/collector/lookout-collector", "--config.file=" + dir + "/lookout.yml",
                   "--web.listen-address=127.0.0.1:" + std::to_string(cport),
                   "--storage.tsdb.path=" + dir + "/data"},
                  dir + "/collector.log");
  ASSERT_TRUE(WaitHttpOk(cport, "/-/ready", std::chrono::seconds(20)));
  ASSERT_TRUE(WaitHttpOk(aport, "/metrics", std::chrono::seconds(20)));
  ASSERT_TRUE(WaitHttpOk(nport, "/metrics", std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::seconds(62));

  std::string body;
  ASSERT_EQ(HttpGet(cport, "/api/v1/targets", body), 200);
  auto targets = nlohmann::json::parse(body);
  ASSERT_EQ(targets["data"]["activeTargets"].size(), 3u) << body;
  for (const auto& t : targets["data"]["activeTargets"]) {
    EXPECT_EQ(t["health"], "up") << t.dump();
    EXPECT_EQ(t["lastError"], "") << t.dump();
  }
  struct Job {
    const char* name;
    int port;
  } jobs[] = {{"agent", aport}, {"node_exporter", nport}, {"collector", cport}};
  for (const auto& job : jobs) {
    std::string direct, fed;
    ASSERT_EQ(HttpGet(job.port, "/metrics", direct), 200);
    ASSERT_EQ(HttpGet(cport, std::string("/federate?match[]=%7Bjob%3D%22") + job.name + "%22%7D", fed), 200);
    std::string instance = "127.0.0.1:" + std::to_string(job.port);
    auto want = Parse(direct, {{"instance", instance}, {"job", job.name}});
    auto got = Parse(fed, {});
    ASSERT_GT(want.size(), 20u) << job.name;
    size_t missing = 0, differ = 0, compared = 0;
    for (const auto& [key, v] : want) {
      // Series the collector creates for its own scrapes of itself appear only from the 2nd scrape.
      auto it = got.find(key);
      if (it == got.end()) {
        if (++missing <= 5) ADD_FAILURE() << job.name << ": federate lacks " << key;
        continue;
      }
      if (Varies(key) || std::string(job.name) == "collector") continue;
      ++compared;
      bool same = (std::isnan(v) && std::isnan(it->second)) || v == it->second;
      if (!same && ++differ <= 5) {
        ADD_FAILURE() << job.name << ": " << key << " direct " << v << " federate " << it->second;
      }
    }
    std::printf("%s: %zu series in a direct scrape, %zu values compared, %zu missing, %zu differ\n",
                job.name, want.size(), compared, missing, differ);
    EXPECT_EQ(missing, 0u) << job.name;
    EXPECT_EQ(differ, 0u) << job.name;
  }
  // The automatic series exist per target.
  ASSERT_EQ(HttpGet(cport, "/federate?match[]=up", body), 200);
  EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 4) << body;  // TYPE line + 3 targets
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

// A tiny threaded HTTP server with pathological routes.
class BadServer {
 public:
  BadServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 64);
    thread_ = std::thread([this] { Accept(); });
  }
  ~BadServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (auto& t : workers_) t.join();
  }
  int port() const { return port_; }
  std::atomic<int> good_hits{0};

 private:
  void Accept() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) break;
      workers_.emplace_back([this, c] { Serve(c); });
    }
  }
  static void Send(int c, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  void Serve(int c) {
    char buf[4096];
    std::string req;
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) {
        close(c);
        return;
      }
      req.append(buf, static_cast<size_t>(n));
    }
    std::string path = req.substr(4, req.find(' ', 4) - 4);
    auto ok = [&](const std::string& body) {
      Send(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    };
    if (path == "/good") {
      ++good_hits;
      ok("good_metric 1\n");
    } else if (path == "/hang") {
      for (int i = 0; i < 200 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } else if (path == "/500") {
      Send(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom");
    } else if (path == "/huge") {
      std::string line(1023, 'x');
      line += '\n';
      Send(c, "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\nConnection: close\r\n\r\n");
      for (int i = 0; i < 102400 && !stop_; ++i) Send(c, line);
    } else if (path == "/many") {
      std::string body;
      for (int i = 0; i < 100000; ++i) body += "many_series{i=\"" + std::to_string(i) + "\"} 1\n";
      ok(body);
    } else if (path == "/cut") {
      Send(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\nsome_metric 1\nother");
    }
    close(c);
  }
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
};

TEST(CollectorScrape, BadTargetsGiveUpZeroWithReasons) {
  BadServer bad;
  std::string dir = fs::temp_directory_path() / ("lookout-badtargets-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  int cport = FreePort();
  std::string addr = "127.0.0.1:" + std::to_string(bad.port());
  std::ofstream cfg(dir + "/lookout.yml");
  cfg << "global:\n  scrape_interval: 1s\n  scrape_timeout: 800ms\nscrape_configs:\n";
  for (const char* path : {"good", "hang", "500", "huge", "many", "cut"}) {
    cfg << "  - job_name: " << path << "\n    metrics_path: /" << path
        << "\n    body_size_limit: 10MB\n    sample_limit: 50000\n"
        << "    static_configs:\n      - targets: ['" << addr << "']\n";
  }
  cfg.close();
  Child collector({BuildDir() + "/collector/lookout-collector", "--config.file=" + dir + "/lookout.yml",
                   "--web.listen-address=127.0.0.1:" + std::to_string(cport),
                   "--storage.tsdb.path=" + dir + "/data"},
                  dir + "/collector.log");
  ASSERT_TRUE(WaitHttpOk(cport, "/-/ready", std::chrono::seconds(20)));
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(6));
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string body;
  ASSERT_EQ(HttpGet(cport, "/api/v1/targets", body), 200);
  auto j = nlohmann::json::parse(body);
  std::map<std::string, nlohmann::json> by_job;
  for (const auto& t : j["data"]["activeTargets"]) by_job[t["scrapePool"]] = t;
  ASSERT_EQ(by_job.size(), 6u) << body;
  EXPECT_EQ(by_job["good"]["health"], "up");
  struct Want {
    const char* job;
    const char* error_part;
  } wants[] = {{"hang", "timed out"},
               {"500", "HTTP status 500"},
               {"huge", "body size limit"},
               {"many", "sample limit"},
               {"cut", "closed before the response ended"}};
  for (const auto& w : wants) {
    EXPECT_EQ(by_job[w.job]["health"], "down") << w.job << ": " << by_job[w.job].dump();
    EXPECT_NE(by_job[w.job]["lastError"].get<std::string>().find(w.error_part), std::string::npos)
        << w.job << ": " << by_job[w.job].dump();
  }
  // The good target kept its 1 s schedule while the others misbehaved.
  EXPECT_GE(bad.good_hits.load(), static_cast<int>(elapsed) - 2) << "good target scraped "
                                                                  << bad.good_hits.load() << " times";
  ASSERT_EQ(HttpGet(cport, "/federate?match[]=up", body), 200);
  EXPECT_NE(body.find("up{instance=\"" + addr + "\",job=\"good\"} 1 "), std::string::npos) << body;
  EXPECT_NE(body.find("up{instance=\"" + addr + "\",job=\"many\"} 0 "), std::string::npos) << body;
  ASSERT_EQ(HttpGet(cport, "/federate?match[]=many_series", body), 200);
  EXPECT_EQ(body, "") << "nothing of a scrape over sample_limit is stored";
  collector.Stop();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace tests
