#include "collector/config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace collector::config {
namespace {

constexpr std::string_view kFull = R"(# A prometheus.yml using every key lookout-collector reads.
global:
  scrape_interval: 15s
  scrape_timeout: 5s
  evaluation_interval: 30s
  external_labels:
    region: eu-1
    replica: a
rule_files: ['rules/*.yml', 'more.yml']
alerting:
  alert_relabel_configs:
    - { action: labeldrop, regex: replica }
  alertmanagers:
    - static_configs: [ { targets: ['am:9093'] } ]
remote_write:
  - url: http://tsdb:9201/write
    write_relabel_configs:
      - { source_labels: [__name__], regex: 'go_.*', action: drop }
remote_read:
  - url: http://tsdb:9201/read
storage:
  tsdb:
    out_of_order_time_window: 10m
scrape_configs:
  - job_name: node
    scrape_interval: 30s
    scrape_timeout: 20s
    metrics_path: /metrics
    scheme: https
    params:
      format: [prometheus]
      module: [a, b]
    honor_labels: true
    honor_timestamps: false
    sample_limit: 5000
    label_limit: 30
    body_size_limit: 10MB
    static_configs:
      - targets: ['10.0.0.1:9100', 'db-7.example.net:9100']
        labels: { env: prod, team: db }
      - targets: []
    file_sd_configs:
      - files: ['sd/*.json', '/abs/sd/nodes.yml']
        refresh_interval: 1m
      - files: [static.YAML]
    relabel_configs:
      - { source_labels: [env], regex: staging, action: drop }
      - source_labels: [__address__]
        regex: '([^:]+):\d+'
        target_label: host
        replacement: '${1}'
      - { source_labels: [__address__], modulus: 4, target_label: __tmp_shard, action: HashMod }
      - { regex: '__meta_(.+)', replacement: 'sd_${1}', action: labelmap }
    metric_relabel_configs:
      - { source_labels: [__name__], regex: 'node_scrape_.*', action: drop }
    basic_auth:
      username: prom
      password_file: secrets/node.pw
    tls_config:
      ca_file: /etc/ssl/ca.pem
      cert_file: tls/client.pem
      key_file: tls/client.key
      server_name: node.internal
      insecure_skip_verify: true
  - job_name: api
    authorization:
      credentials_file: /run/token
)";

TEST(Config, FullValidConfig) {
  auto r = LoadString(kFull, "/etc/lookout/collector.yml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r;
  EXPECT_EQ(c.file, "/etc/lookout/collector.yml");
  EXPECT_EQ(c.original, kFull);
  EXPECT_EQ(c.global.scrape_interval_ms, 15000);
  EXPECT_EQ(c.global.scrape_timeout_ms, 5000);
  EXPECT_EQ(c.global.evaluation_interval_ms, 30000);
  EXPECT_EQ(c.global.external_labels, (model::Labels{{"region", "eu-1"}, {"replica", "a"}}));
  ASSERT_EQ(c.scrape_configs.size(), 2u);

  const ScrapeConfig& node = c.scrape_configs[0];
  EXPECT_EQ(node.job_name, "node");
  EXPECT_EQ(node.scrape_interval_ms, 30000);
  EXPECT_EQ(node.scrape_timeout_ms, 20000);
  EXPECT_EQ(node.metrics_path, "/metrics");
  EXPECT_EQ(node.scheme, "https");
  ASSERT_EQ(node.params.size(), 2u);
  EXPECT_EQ(node.params.at("format"), std::vector<std::string>{"prometheus"});
  EXPECT_EQ(node.params.at("module"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(node.honor_labels);
  EXPECT_FALSE(node.honor_timestamps);
  EXPECT_EQ(node.sample_limit, 5000u);
  EXPECT_EQ(node.label_limit, 30u);
  EXPECT_EQ(node.body_size_limit, 10u * 1024 * 1024);

  ASSERT_EQ(node.static_configs.size(), 2u);
  EXPECT_EQ(node.static_configs[0].source, "static:0");
  ASSERT_EQ(node.static_configs[0].targets.size(), 2u);
  EXPECT_EQ(node.static_configs[0].targets[0], (model::Labels{{"__address__", "10.0.0.1:9100"}}));
  EXPECT_EQ(node.static_configs[0].targets[1],
            (model::Labels{{"__address__", "db-7.example.net:9100"}}));
  EXPECT_EQ(node.static_configs[0].labels, (model::Labels{{"env", "prod"}, {"team", "db"}}));
  EXPECT_EQ(node.static_configs[1].source, "static:1");
  EXPECT_TRUE(node.static_configs[1].targets.empty());

  ASSERT_EQ(node.file_sd_configs.size(), 2u);
  EXPECT_EQ(node.file_sd_configs[0].files,
            (std::vector<std::string>{"/etc/lookout/sd/*.json", "/abs/sd/nodes.yml"}));
  EXPECT_EQ(node.file_sd_configs[0].refresh_interval_ms, 60000);
  EXPECT_EQ(node.file_sd_configs[1].files, std::vector<std::string>{"/etc/lookout/static.YAML"});
  EXPECT_EQ(node.file_sd_configs[1].refresh_interval_ms, 300000);  // default 5m

  ASSERT_EQ(node.relabel_configs.size(), 4u);
  for (const auto& rc : node.relabel_configs) EXPECT_NE(rc.re, nullptr) << "compiled";
  EXPECT_EQ(node.relabel_configs[0].action, model::RelabelAction::kDrop);
  EXPECT_EQ(node.relabel_configs[0].source_labels, std::vector<std::string>{"env"});
  EXPECT_EQ(node.relabel_configs[0].regex, "staging");
  EXPECT_EQ(node.relabel_configs[1].action, model::RelabelAction::kReplace);
  EXPECT_EQ(node.relabel_configs[1].regex, R"(([^:]+):\d+)");
  EXPECT_EQ(node.relabel_configs[1].target_label, "host");
  EXPECT_EQ(node.relabel_configs[1].replacement, "${1}");
  EXPECT_EQ(node.relabel_configs[1].separator, ";");
  EXPECT_EQ(node.relabel_configs[2].action, model::RelabelAction::kHashMod);
  EXPECT_EQ(node.relabel_configs[2].modulus, 4u);
  EXPECT_EQ(node.relabel_configs[3].action, model::RelabelAction::kLabelMap);
  ASSERT_EQ(node.metric_relabel_configs.size(), 1u);
  EXPECT_EQ(node.metric_relabel_configs[0].regex, "node_scrape_.*");

  EXPECT_TRUE(node.has_basic_auth);
  EXPECT_EQ(node.basic_auth.username, "prom");
  EXPECT_EQ(node.basic_auth.password_file, "/etc/lookout/secrets/node.pw");
  EXPECT_FALSE(node.has_authorization);
  EXPECT_EQ(node.tls_config.ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(node.tls_config.cert_file, "/etc/lookout/tls/client.pem");
  EXPECT_EQ(node.tls_config.key_file, "/etc/lookout/tls/client.key");
  EXPECT_EQ(node.tls_config.server_name, "node.internal");
  EXPECT_TRUE(node.tls_config.insecure_skip_verify);

  const ScrapeConfig& api = c.scrape_configs[1];
  EXPECT_EQ(api.job_name, "api");
  EXPECT_EQ(api.scrape_interval_ms, 15000);  // from global
  EXPECT_EQ(api.scrape_timeout_ms, 5000);
  EXPECT_EQ(api.scheme, "http");
  EXPECT_EQ(api.metrics_path, "/metrics");
  EXPECT_TRUE(api.honor_timestamps);
  EXPECT_FALSE(api.has_basic_auth);
  EXPECT_TRUE(api.has_authorization);
  EXPECT_EQ(api.authorization.type, "Bearer");
  EXPECT_EQ(api.authorization.credentials_file, "/run/token");
}

TEST(Config, Defaults) {
  struct Case {
    std::string name, yaml;
    int64_t interval_ms, timeout_ms;
  } cases[] = {
      {"Prometheus defaults", "scrape_configs: [{job_name: a}]\n", 60000, 10000},
      {"job interval below the default timeout caps the timeout",
       "scrape_configs: [{job_name: a, scrape_interval: 5s}]\n", 5000, 5000},
      {"global interval below the default timeout",
       "global: {scrape_interval: 2s}\nscrape_configs: [{job_name: a}]\n", 2000, 2000},
      {"global timeout is inherited",
       "global: {scrape_timeout: 3s}\nscrape_configs: [{job_name: a}]\n", 60000, 3000},
      {"null durations keep the defaults",
       "global: {scrape_interval: }\nscrape_configs: [{job_name: a, scrape_timeout: }]\n", 60000,
       10000},
  };
  for (const auto& c : cases) {
    auto r = LoadString(c.yaml, "d.yml");
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
    ASSERT_EQ(r->scrape_configs.size(), 1u) << c.name;
    EXPECT_EQ(r->scrape_configs[0].scrape_interval_ms, c.interval_ms) << c.name;
    EXPECT_EQ(r->scrape_configs[0].scrape_timeout_ms, c.timeout_ms) << c.name;
  }
  for (std::string_view empty : {"", "# only a comment\n", "global:\n", "scrape_configs:\n"}) {
    auto r = LoadString(empty, "e.yml");
    ASSERT_TRUE(r.ok()) << "\"" << empty << "\": " << r.status().ToString();
    EXPECT_TRUE(r->scrape_configs.empty());
    EXPECT_EQ(r->global.scrape_interval_ms, 60000);
    EXPECT_EQ(r->global.evaluation_interval_ms, 60000);
  }
}

// Each error names file:line:col and the key path; `want` is the start of the message.
TEST(Config, ErrorsNamePositionAndPath) {
  struct Case {
    std::string name, yaml, want;
  } cases[] = {
      {"unknown top-level key", "global: {}\nscrape_config: []\n",
       "c.yml:2:1: scrape_config: unknown key \"scrape_config\""},
      {"unknown key in a scrape config",
       "scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n",
       "c.yml:3:5: scrape_configs[0].scrape_intervall: unknown key"},
      {"unknown key in a relabel config",
       "scrape_configs:\n  - job_name: a\n  - job_name: b\n    relabel_configs:\n"
       "      - action: keep\n        sources: [a]\n",
       "c.yml:6:9: scrape_configs[1].relabel_configs[0].sources: unknown key"},
      {"unknown key in global", "global:\n  scrape_intervals: 1m\n",
       "c.yml:2:3: global.scrape_intervals: unknown key"},
      {"wrong type: list for a duration",
       "scrape_configs:\n  - job_name: a\n    scrape_interval: [15s]\n",
       "c.yml:3:22: scrape_configs[0].scrape_interval: expected a duration"},
      {"wrong type: string for a bool", "scrape_configs:\n  - job_name: a\n    honor_labels: yes\n",
       "c.yml:3:19: scrape_configs[0].honor_labels: expected true or false"},
      {"wrong type: mapping for scrape_configs", "scrape_configs:\n  job_name: a\n",
       "c.yml:2:3: scrape_configs: expected a list"},
      {"wrong type: string for an integer",
       "scrape_configs:\n  - job_name: a\n    sample_limit: lots\n",
       "c.yml:3:19: scrape_configs[0].sample_limit: expected an integer"},
      {"wrong type: negative limit", "scrape_configs:\n  - job_name: a\n    label_limit: -1\n",
       "c.yml:3:18: scrape_configs[0].label_limit: must not be negative"},
      {"wrong type: mapping for a relabel list",
       "scrape_configs:\n  - job_name: a\n    relabel_configs: {action: keep}\n",
       "c.yml:3:22: scrape_configs[0].relabel_configs: expected a list"},
      {"wrong type: rule_files not a list", "rule_files: {a: b}\n",
       "c.yml:1:13: rule_files: expected a list"},
      {"wrong type: rule_files entry", "rule_files: [a.yml, [b]]\n",
       "c.yml:1:21: rule_files[1]: expected a string"},
      {"bad duration", "global:\n  scrape_interval: 15 s\n",
       "c.yml:2:20: global.scrape_interval: not a valid duration string"},
      {"bad size", "scrape_configs:\n  - job_name: a\n    body_size_limit: 10Mb\n",
       "c.yml:3:22: scrape_configs[0].body_size_limit: not a valid size unit"},
      {"duplicate job", "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
       "c.yml:4:15: scrape_configs[2].job_name: found multiple scrape configs with job name "
       "\"a\" (first at c.yml:2:15)"},
      {"missing job name", "scrape_configs:\n  - scheme: http\n",
       "c.yml:2:5: scrape_configs[0].job_name: job_name is empty"},
      {"empty job name", "scrape_configs:\n  - job_name: ''\n",
       "c.yml:2:15: scrape_configs[0].job_name: job_name is empty"},
      {"bad scheme", "scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
       "c.yml:3:13: scrape_configs[0].scheme: invalid scheme \"ftp\""},
      {"timeout greater than interval",
       "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n",
       "c.yml:4:21: scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval"},
      {"global timeout greater than interval",
       "global:\n  scrape_interval: 5s\n  scrape_timeout: 1m\n",
       "c.yml:3:19: global.scrape_timeout: global scrape timeout greater than scrape interval"},
      {"bad regex",
       "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [x]\n"
       "        regex: 'a(b'\n        action: keep\n",
       "c.yml:5:16: scrape_configs[0].relabel_configs[0].regex: invalid regular expression"},
      {"bad regex in metric_relabel_configs",
       "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - {regex: '[z-a]'}\n",
       "c.yml:4:17: scrape_configs[0].metric_relabel_configs[0].regex: invalid regular expression"},
      {"bad relabel action",
       "scrape_configs:\n  - job_name: a\n  - job_name: b\n    relabel_configs:\n"
       "      - {source_labels: [x], action: keep}\n      - {source_labels: [x], action: kep}\n",
       "c.yml:6:38: scrape_configs[1].relabel_configs[1].action: unknown relabel action \"kep\""},
      {"relabel rule invalid as a whole",
       "scrape_configs:\n  - job_name: a\n    relabel_configs:\n"
       "      - {source_labels: [x], action: hashmod, target_label: h}\n",
       "c.yml:4:9: scrape_configs[0].relabel_configs[0]: relabel configuration for hashmod "
       "requires non-zero modulus"},
      {"relabel replace without target",
       "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [x]\n",
       "c.yml:4:9: scrape_configs[0].relabel_configs[0]: relabel configuration for replace "
       "action requires 'target_label' value"},
      {"relabel source label not a label name",
       "scrape_configs:\n  - job_name: a\n    relabel_configs:\n"
       "      - {source_labels: [ok, not-ok], action: keep}\n",
       "c.yml:4:30: scrape_configs[0].relabel_configs[0].source_labels[1]: \"not-ok\" is not a "
       "valid label name"},
      {"bad relabel in remote_write",
       "remote_write:\n  - url: http://x/w\n    write_relabel_configs: [{action: nope}]\n",
       "c.yml:3:38: remote_write[0].write_relabel_configs[0].action: unknown relabel action"},
      {"remote_write without url", "remote_write:\n  - name: x\n",
       "c.yml:2:5: remote_write[0].url: url for remote_write is empty"},
      {"file_sd wildcard in a directory",
       "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n"
       "      - files: [ok.json, 'sd/*/nodes.json']\n",
       "c.yml:4:26: scrape_configs[0].file_sd_configs[0].files[1]: path name \"sd/*/nodes.json\" "
       "is not valid for file discovery"},
      {"file_sd wrong extension",
       "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [nodes.txt]\n",
       "c.yml:4:17: scrape_configs[0].file_sd_configs[0].files[0]: path name \"nodes.txt\" is not "
       "valid for file discovery"},
      {"file_sd wildcard in the extension",
       "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['sd/nodes.*']\n",
       "c.yml:4:17: scrape_configs[0].file_sd_configs[0].files[0]: path name"},
      {"file_sd without files",
       "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - refresh_interval: 1m\n",
       "c.yml:4:9: scrape_configs[0].file_sd_configs[0].files: file service discovery config "
       "must contain at least one path name"},
      {"invalid external label name", "global:\n  external_labels:\n    bad-name: x\n",
       "c.yml:3:5: global.external_labels.bad-name: \"bad-name\" is not a valid label name"},
      {"invalid static label name",
       "scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {0x: y}\n",
       "c.yml:4:18: scrape_configs[0].static_configs[0].labels.0x: \"0x\" is not a valid label"},
      {"static target with a path",
       "scrape_configs:\n  - job_name: a\n    static_configs:\n"
       "      - targets: ['h:1', 'h:2/metrics']\n",
       "c.yml:4:26: scrape_configs[0].static_configs[0].targets[1]: \"h:2/metrics\" is not a "
       "valid hostname"},
      {"unknown key in static_configs",
       "scrape_configs:\n  - job_name: a\n    static_configs:\n      - target: ['h:1']\n",
       "c.yml:4:9: scrape_configs[0].static_configs[0].target: unknown key"},
      {"basic_auth and authorization",
       "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p}\n"
       "    authorization: {credentials: t}\n",
       "c.yml:4:20: scrape_configs[0].authorization: at most one of basic_auth and "
       "authorization"},
      {"password and password_file",
       "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p, "
       "password_file: f}\n",
       "c.yml:3:17: scrape_configs[0].basic_auth: at most one of basic_auth password & "
       "password_file"},
      {"authorization type basic",
       "scrape_configs:\n  - job_name: a\n    authorization: {type: Basic, credentials: t}\n",
       "c.yml:3:27: scrape_configs[0].authorization.type: authorization type cannot be set to "
       "\"basic\""},
      {"client cert without key",
       "scrape_configs:\n  - job_name: a\n    tls_config: {cert_file: c.pem}\n",
       "c.yml:3:17: scrape_configs[0].tls_config: key_file must be configured"},
      {"unknown tls key",
       "scrape_configs:\n  - job_name: a\n    tls_config: {min_version: TLS12}\n",
       "c.yml:3:18: scrape_configs[0].tls_config.min_version: unknown key"},
      {"scrape config not a mapping", "scrape_configs:\n  - just-a-name\n",
       "c.yml:2:5: scrape_configs[0]: expected a mapping"},
      {"top level not a mapping", "- a\n- b\n", "c.yml:1:1: expected a mapping"},
  };
  for (const auto& c : cases) {
    auto r = LoadString(c.yaml, "c.yml");
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << c.name << ": " << r.status().ToString();
    std::string_view msg = r.status().message();
    EXPECT_EQ(msg.substr(0, c.want.size()), c.want) << c.name << "\n  got: " << msg;
  }
}

TEST(Config, YamlSyntaxErrorHasPosition) {
  auto r = LoadString("scrape_configs:\n  - job_name: [a\n", "s.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_EQ(r.status().message().substr(0, 6), "s.yml:") << r.status().message();
}

TEST(Config, RelativePathsWithoutDirectoryStayRelative) {
  auto r = LoadString(
      "scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: [sd/x.json]}]\n", "c.yml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->scrape_configs[0].file_sd_configs[0].files, std::vector<std::string>{"sd/x.json"});
}

// A scratch directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ =
        std::filesystem::temp_directory_path() /
        ("lookout_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, std::string_view text) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(Config, LoadFile) {
  TempDir dir;
  std::string p = dir.Write("collector.yml", kFull);
  auto r = LoadFile(p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->file, p);
  EXPECT_EQ(r->original, kFull);
  EXPECT_EQ(r->scrape_configs[0].file_sd_configs[0].files[0], dir.path() + "/sd/*.json");

  auto missing = LoadFile(dir.path() + "/nope.yml");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
}

// `lookout-tool check config`, run as a user would.
TEST(Config, ToolCheckConfig) {
  std::string tool = tests::BuildDir() + "/collector/lookout-tool";
  ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " not built";
  TempDir dir;
  std::string good = dir.Write("good.yml", kFull);
  std::string bad = dir.Write("bad.yml", "scrape_configs:\n  - job_name: a\n    bogus: 1\n");
  using std::chrono::seconds;

  auto ok = tests::RunCommand({tool, "check", "config", good}, seconds(30));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out, "Checking " + good + "\n SUCCESS: 2 scrape configs found\n");
  EXPECT_EQ(ok.err, "");

  auto mixed = tests::RunCommand({tool, "check", "config", bad, good}, seconds(30));
  EXPECT_EQ(mixed.exit_code, 1) << mixed.out << mixed.err;
  EXPECT_EQ(mixed.out,
            "Checking " + bad + "\nChecking " + good + "\n SUCCESS: 2 scrape configs found\n");
  EXPECT_EQ(mixed.err, " FAILED: " + bad + ":3:5: scrape_configs[0].bogus: unknown key \"bogus\"" +
                           " (allowed: job_name, scheme, metrics_path, params, honor_labels, " +
                           "honor_timestamps, scrape_interval, scrape_timeout, sample_limit, " +
                           "label_limit, body_size_limit, static_configs, file_sd_configs, " +
                           "relabel_configs, metric_relabel_configs, basic_auth, authorization, " +
                           "tls_config)\n");

  auto missing =
      tests::RunCommand({tool, "check", "config", dir.path() + "/none.yml"}, seconds(30));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(" FAILED: open " + dir.path() + "/none.yml"), std::string::npos)
      << missing.err;

  auto usage = tests::RunCommand({tool, "check", "config"}, seconds(30));
  EXPECT_NE(usage.exit_code, 0) << "FILE is required";
}

}  // namespace
}  // namespace collector::config
