// lookout-collector's HTTP surface on loopback: remote_write rejections (400 with the reason and
// nothing appended), the body limit, and the read endpoints (/federate, series, labels, values).

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/proto/remote_write.h"
#include "common/snappy/snappy.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;
using common::proto::RwRequest;
using common::proto::RwSeries;


class CollectorApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lookout-api-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    port_ = FreePort();
    c_ = Child({BuildDir() + "/collector/lookout-collector",
                "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                "--storage.tsdb.path=" + dir_ + "/data", "--web.remote-write.max-bytes=1MB"},
               dir_ + "/collector.log");
    ASSERT_TRUE(WaitHttpOk(port_, "/-/ready", std::chrono::seconds(20)));
  }
  void TearDown() override {
    c_.Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }
  int Write(const RwRequest& r, std::string& resp) {
    return PostRemoteWrite(port_, common::proto::EncodeWriteRequest(r), resp);
  }
  nlohmann::json Get(const std::string& path) {
    std::string body;
    EXPECT_EQ(HttpGet(port_, path, body), 200) << path << ": " << body;
    return nlohmann::json::parse(body, nullptr, false);
  }
  std::string dir_;
  int port_ = 0;
  Child c_;
};

RwSeries S(std::vector<std::pair<std::string, std::string>> labels, int64_t t, double v) {
  RwSeries s;
  s.labels = std::move(labels);
  s.samples.push_back({v, t});
  return s;
}

TEST_F(CollectorApi, RejectsBadWritesWithReasonsAndAppendsNothing) {
  const int64_t now = 1'900'000'000'000;
  RwSeries good = S({{"__name__", "good"}, {"job", "x"}}, now, 1);
  struct Case {
    const char* what;
    RwSeries bad;
    const char* reason;
  } cases[] = {
      {"unsorted", S({{"job", "x"}, {"__name__", "m"}}, now, 1), "not sorted"},
      {"duplicate", S({{"__name__", "m"}, {"a", "1"}, {"a", "2"}}, now, 1), "duplicate label name"},
      {"no name", S({{"job", "x"}}, now, 1), "__name__"},
      {"bad label name", S({{"__name__", "m"}, {"0a", "x"}}, now, 1), "invalid label name"},
  };
  std::string resp;
  for (const auto& c : cases) {
    RwRequest r;
    r.series = {good, c.bad};  // the good series must not be stored either
    EXPECT_EQ(Write(r, resp), 400) << c.what;
    EXPECT_NE(resp.find(c.reason), std::string::npos) << c.what << ": " << resp;
  }
  EXPECT_EQ(PostRemoteWrite(port_, "not snappy at all", resp), 400);
  EXPECT_NE(resp.find("snappy"), std::string::npos) << resp;
  EXPECT_EQ(PostRemoteWrite(port_, common::snappy::Compress("\xff\xff\xff garbage"), resp), 400);
  EXPECT_NE(resp.find("protobuf"), std::string::npos) << resp;
  // Over the 1 MB limit, raw and decompressed.
  EXPECT_EQ(PostRemoteWrite(port_, std::string(2 << 20, 'x'), resp), 413);
  EXPECT_EQ(PostRemoteWrite(port_, common::snappy::Compress(std::string(3 << 20, '\0')), resp), 413);
  // An out-of-order sample rejects its whole request.
  RwRequest first;
  first.series = {S({{"__name__", "ooo"}}, now, 1)};
  ASSERT_EQ(Write(first, resp), 204) << resp;
  RwRequest second;
  second.series = {good, S({{"__name__", "ooo"}}, now - 1000, 2)};
  EXPECT_EQ(Write(second, resp), 400);
  EXPECT_NE(resp.find("out of order"), std::string::npos) << resp;

  auto series = Get("/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D");
  ASSERT_EQ(series["status"], "success");
  ASSERT_EQ(series["data"].size(), 1u) << series.dump();
  EXPECT_EQ(series["data"][0]["__name__"], "ooo");
  // Still serving, and counting.
  std::string metrics;
  ASSERT_EQ(HttpGet(port_, "/metrics", metrics), 200);
  EXPECT_NE(metrics.find("lookout_remote_write_requests_total{code=\"400\"} 7"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("lookout_tsdb_out_of_order_samples_total 1"), std::string::npos);
}

TEST_F(CollectorApi, ReadEndpoints) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  RwRequest r;
  r.series = {S({{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}}, now - 2000, 1),
              S({{"__name__", "up"}, {"instance", "b:9100"}, {"job", "node"}}, now - 2000, 0),
              S({{"__name__", "node_load1"}, {"instance", "a:9100"}, {"job", "node"}}, now - 1000, 0.25)};
  std::string resp;
  ASSERT_EQ(Write(r, resp), 204) << resp;

  auto labels = Get("/api/v1/labels");
  EXPECT_EQ(labels["data"], nlohmann::json({"__name__", "instance", "job"}));
  auto values = Get("/api/v1/label/instance/values?match[]=up");
  EXPECT_EQ(values["data"], nlohmann::json({"a:9100", "b:9100"}));
  auto names = Get("/api/v1/label/__name__/values");
  EXPECT_EQ(names["data"], nlohmann::json({"node_load1", "up"}));
  auto series = Get("/api/v1/series?match[]=up%7Binstance%3D%22a%3A9100%22%7D");
  ASSERT_EQ(series["data"].size(), 1u);
  EXPECT_EQ(series["data"][0]["job"], "node");
  std::string body;
  EXPECT_EQ(HttpGet(port_, "/api/v1/series?match[]=up%7B", body), 400);
  EXPECT_NE(body.find("bad_data"), std::string::npos) << body;
  EXPECT_EQ(HttpGet(port_, "/api/v1/series", body), 400);

  ASSERT_EQ(HttpGet(port_, "/federate?match[]=%7Bjob%3D%22node%22%7D", body), 200);
  std::string want = "# TYPE node_load1 untyped\nnode_load1{instance=\"a:9100\",job=\"node\"} 0.25 " +
                     std::to_string(now - 1000) + "\n# TYPE up untyped\nup{instance=\"a:9100\",job=\"node\"} 1 " +
                     std::to_string(now - 2000) + "\nup{instance=\"b:9100\",job=\"node\"} 0 " +
                     std::to_string(now - 2000) + "\n";
  EXPECT_EQ(body, want);
}

}  // namespace
}  // namespace tests
