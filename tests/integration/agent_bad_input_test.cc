// Bad input never crashes the agent and fails only the collectors that read it: node_exporter's
// fixture trees with truncated, empty, garbage and hanging (FIFO) files.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "tests/support/process.h"
#include "tests/support/shared.h"
#include "tests/support/ttar.h"

namespace tests {
namespace {

namespace fs = std::filesystem;

void Truncate(const fs::path& p, size_t keep) {
  std::ifstream in(p);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  in.close();
  fs::remove(p);
  std::ofstream(p) << s.substr(0, keep);
}
void Write(const fs::path& p, const std::string& content) {
  fs::remove(p);
  std::ofstream(p, std::ios::binary) << content;
}

std::map<std::string, std::string> Success(const std::string& body) {
  std::map<std::string, std::string> m;
  std::regex re("node_scrape_collector_success\\{collector=\"([a-z_0-9]+)\"\\} ([01])");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), re); it != std::sregex_iterator();
       ++it) {
    m[(*it)[1]] = (*it)[2];
  }
  return m;
}

TEST(AgentBadInput, BrokenFilesFailOnlyTheirCollectors) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/sys.ttar");
  std::string fx = SharedDir() + "/peer/node_exporter/fixtures";
  fs::path tmp = fs::temp_directory_path() / ("lookout-bad-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::copy(fx + "/proc", tmp / "proc", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  ASSERT_TRUE(ExtractTtar(fx + "/sys.ttar", tmp.string()).ok());
  ASSERT_TRUE(ExtractTtar(fx + "/udev.ttar", tmp.string()).ok());

  // Broken inputs, each read by exactly one collector.
  Truncate(tmp / "proc/loadavg", 5);                                        // truncated
  Write(tmp / "proc/meminfo", "");                                          // empty
  Write(tmp / "proc/stat", "cpu  \x01\x02garbage \xff\xfe 12\nbtime x\n");    // garbage
  Write(tmp / "proc/net/sockstat", "sockets: used\nTCP: inuse x orphan\n");  // garbage
  Truncate(tmp / "proc/pressure/cpu", 12);                                  // truncated
  Write(tmp / "proc/sys/kernel/random/entropy_avail", "");                  // empty
  fs::remove(tmp / "proc/sys/fs/file-nr");
  ASSERT_EQ(mkfifo((tmp / "proc/sys/fs/file-nr").c_str(), 0644), 0);       // read hangs forever
  const std::vector<std::string> broken = {"loadavg", "meminfo", "stat", "sockstat",
                                           "pressure", "entropy", "filefd"};
  const std::vector<std::string> intact = {"vmstat", "netstat", "diskstats", "schedstat",
                                           "softnet", "conntrack", "udp_queues", "hwmon"};

  int port = FreePort();
  std::vector<std::string> argv = {BuildDir() + "/agent/lookout-agent",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                   "--path.procfs=" + (tmp / "proc").string(),
                                   "--path.sysfs=" + (tmp / "sys").string(),
                                   "--path.rootfs=" + fx,
                                   "--path.udev.data=" + (tmp / "udev/data").string(),
                                   "--collector.disable-defaults", "--collector.timeout=1s"};
  for (const auto& c : broken) argv.push_back("--collector." + c);
  for (const auto& c : intact) argv.push_back("--collector." + c);
  Child agent(argv, (tmp / "agent.log").string());
  ASSERT_TRUE(WaitHttpOk(port, "/", std::chrono::seconds(20)));

  for (int scrape = 0; scrape < 3; ++scrape) {
    std::string body;
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(HttpGet(port, "/metrics", body), 200) << "scrape " << scrape;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5))
        << "a hung collector stalled the scrape";
    auto ok = Success(body);
    for (const auto& c : broken) EXPECT_EQ(ok[c], "0") << c << " should fail on its broken file";
    for (const auto& c : intact) EXPECT_EQ(ok[c], "1") << c << " should be unaffected";
  }
  EXPECT_TRUE(agent.Running()) << "agent exited";

  // Each failure is logged on one line naming the collector.
  std::ifstream log(tmp / "agent.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  for (const auto& c : broken) {
    EXPECT_NE(text.find("name=" + c + " "), std::string::npos) << "no log line for " << c;
  }
  agent.Stop();
  // Unblock nothing: the FIFO reader is abandoned with the process.
  if (!HasFailure()) fs::remove_all(tmp);
}

}  // namespace
}  // namespace tests
