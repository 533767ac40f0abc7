// lookout-collector's PromQL HTTP API on loopback (shared/specs/prometheus-http-api.md): Grafana's
// "Save & test" query answered byte-for-byte as Prometheus does, buildinfo, query and query_range
// over pushed data, and Prometheus' error envelopes (bad_data with the parse position, the
// 11,000-points limit, a bad step).

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/proto/remote_write.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;
using common::proto::RwRequest;
using common::proto::RwSeries;

const char* kForm = "Content-Type: application/x-www-form-urlencoded\r\n";

class PromqlApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lookout-promql-api-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    port_ = FreePort();
    c_ = Child({BuildDir() + "/collector/lookout-collector",
                "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                "--storage.tsdb.path=" + dir_ + "/data"},
               dir_ + "/collector.log");
    ASSERT_TRUE(WaitHttpOk(port_, "/-/ready", std::chrono::seconds(20)));
  }
  void TearDown() override {
    c_.Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }
  // Returns the status; `j` gets the parsed body.
  int Post(const std::string& path, const std::string& form, nlohmann::json& j, std::string* raw = nullptr) {
    std::string body;
    int st = HttpPost(port_, path, form, kForm, body);
    if (raw != nullptr) *raw = body;
    j = nlohmann::json::parse(body, nullptr, false);
    return st;
  }
  int Get(const std::string& path, nlohmann::json& j) {
    std::string body;
    int st = HttpGet(port_, path, body);
    j = nlohmann::json::parse(body, nullptr, false);
    return st;
  }
  std::string dir_;
  int port_ = 0;
  Child c_;
};

TEST_F(PromqlApi, GrafanaSaveAndTestAnswersExactlyAsPrometheus) {
  std::string raw;
  nlohmann::json j;
  ASSERT_EQ(Post("/api/v1/query", "query=1%2B1&time=4", j, &raw), 200) << raw;
  EXPECT_EQ(raw, R"({"status":"success","data":{"resultType":"scalar","result":[4,"2"]}})");
  std::string get;
  ASSERT_EQ(HttpGet(port_, "/api/v1/query?query=1%2B1&time=4", get), 200);
  EXPECT_EQ(get, raw);
}

TEST_F(PromqlApi, BuildInfoLooksLikePrometheus) {
  nlohmann::json j;
  ASSERT_EQ(Get("/api/v1/status/buildinfo", j), 200);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["status"], "success");
  ASSERT_TRUE(j["data"]["version"].is_string());
  EXPECT_TRUE(std::regex_match(j["data"]["version"].get<std::string>(), std::regex(R"(\d+\.\d+\.\d+)")))
      << j.dump();
  for (const char* k : {"revision", "branch", "buildUser", "buildDate", "goVersion"}) {
    EXPECT_TRUE(j["data"][k].is_string()) << k;
  }
  // A non-empty `features` would make Grafana take us for Mimir.
  EXPECT_TRUE(!j["data"].contains("features") || j["data"]["features"].empty());
  ASSERT_EQ(Get("/api/v1/status/flags", j), 200);
  EXPECT_EQ(j["data"]["query.lookback-delta"], "5m");
  ASSERT_EQ(Get("/api/v1/metadata", j), 200);
  EXPECT_TRUE(j["data"].is_object());
  ASSERT_EQ(Get("/api/v1/query_exemplars?query=up", j), 200);
  EXPECT_EQ(j["data"], nlohmann::json::array());
}

TEST_F(PromqlApi, QueryAndQueryRangeOverPushedData) {
  // 11 samples, 30 s apart, ending a minute ago: value = minutes since the first sample * 2.
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  int64_t base = (now / 60000 - 6) * 60000;  // whole minute
  RwRequest r;
  for (const char* job : {"a", "b"}) {
    RwSeries s;
    s.labels = {{"__name__", "promql_api_test"}, {"job", job}};
    for (int i = 0; i <= 10; ++i) s.samples.push_back({static_cast<double>(i), base + i * 30000});
    r.series.push_back(s);
  }
  std::string resp;
  ASSERT_EQ(PostRemoteWrite(port_, common::proto::EncodeWriteRequest(r), resp), 204)
      << resp;

  std::string b = std::to_string(base / 1000);
  nlohmann::json j;
  std::string raw;
  ASSERT_EQ(Post("/api/v1/query", "query=promql_api_test%7Bjob%3D%22a%22%7D&time=" +
                                      std::to_string(base / 1000 + 120),
                 j, &raw),
            200)
      << raw;
  EXPECT_EQ(raw, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"promql_api_test","job":"a"},"value":[)" +
                     std::to_string(base / 1000 + 120) + R"(,"4"]}]}})");

  ASSERT_EQ(Post("/api/v1/query_range",
                 "query=sum(promql_api_test)&start=" + b + "&end=" + std::to_string(base / 1000 + 300) +
                     "&step=60",
                 j, &raw),
            200)
      << raw;
  ASSERT_EQ(j["data"]["resultType"], "matrix") << raw;
  ASSERT_EQ(j["data"]["result"].size(), 1u) << raw;
  EXPECT_EQ(j["data"]["result"][0]["metric"], nlohmann::json::object());
  auto values = j["data"]["result"][0]["values"];
  ASSERT_EQ(values.size(), 6u) << raw;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(values[i][0].get<int64_t>(), base / 1000 + 60 * i);
    EXPECT_EQ(values[i][1], std::to_string(4 * i)) << raw;  // two series, each 2/minute
  }
  // GET works too, with RFC 3339 times and a duration step; the series API still answers.
  time_t secs = static_cast<time_t>(base / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char rfc[64];
  std::strftime(rfc, sizeof rfc, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  ASSERT_EQ(Get("/api/v1/query_range?query=promql_api_test&start=" + std::string(rfc) + "&end=" + b +
                    "&step=1m",
                j),
            200);
  EXPECT_EQ(j["data"]["result"].size(), 2u) << j.dump();
  ASSERT_EQ(Get("/api/v1/series?match[]=promql_api_test", j), 200);
  EXPECT_EQ(j["data"].size(), 2u);
}

TEST_F(PromqlApi, ErrorsUsePrometheusEnvelopes) {
  nlohmann::json j;
  std::string raw;
  // A malformed query: 400 bad_data, the message names the parameter and the position.
  ASSERT_EQ(Post("/api/v1/query", "query=sum(rate(foo%5B5m%5D)&time=4", j, &raw), 400) << raw;
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["errorType"], "bad_data");
  std::string err = j["error"].get<std::string>();
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(^invalid parameter "query": \d+:\d+: parse error)"))) << err;

  ASSERT_EQ(Post("/api/v1/query_range", "query=1&start=0&end=100000&step=1", j, &raw), 400) << raw;
  EXPECT_EQ(j["errorType"], "bad_data");
  EXPECT_EQ(j["error"],
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
            "resolution (?step=XX)");
  ASSERT_EQ(Post("/api/v1/query_range", "query=1&start=0&end=100&step=0", j, &raw), 400) << raw;
  EXPECT_EQ(j["error"],
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. "
            "Try a positive integer");
  ASSERT_EQ(Post("/api/v1/query_range", "query=1&start=10&end=5&step=1", j, &raw), 400) << raw;
  EXPECT_EQ(j["errorType"], "bad_data");
  ASSERT_EQ(Post("/api/v1/query", "query=1&time=yesterday", j, &raw), 400) << raw;
  EXPECT_EQ(j["error"], "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp");
}

}  // namespace
}  // namespace tests
