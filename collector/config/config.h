#pragma once
// lookout-collector's configuration: the shape of prometheus.yml (global, scrape_configs with
// static_configs and file_sd_configs, relabel_configs, metric_relabel_configs, basic_auth,
// authorization, tls_config). Loading validates everything; unknown keys and wrong types are
// errors naming file:line:column and the key path (e.g. "scrape_configs[1].scrape_interval").
// A Config is immutable after Load() and shared by the components it configures.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "collector/discovery/target_group.h"
#include "collector/model/labels.h"
#include "collector/model/relabel.h"
#include "common/base/status.h"

namespace collector::config {

struct GlobalConfig {
  int64_t scrape_interval_ms = 60000;
  int64_t scrape_timeout_ms = 10000;
  int64_t evaluation_interval_ms = 60000;
  model::Labels external_labels;
};

struct TLSConfig {
  std::string ca_file, cert_file, key_file, server_name;
  bool insecure_skip_verify = false;
};

struct BasicAuth {
  std::string username, password, password_file;
};

struct Authorization {
  std::string type = "Bearer";
  std::string credentials, credentials_file;
};

struct FileSDConfig {
  std::vector<std::string> files;  // resolved against the config file's directory
  int64_t refresh_interval_ms = 5 * 60 * 1000;
};

struct ScrapeConfig {
  std::string job_name;
  std::string scheme = "http";
  std::string metrics_path = "/metrics";
  std::map<std::string, std::vector<std::string>> params;
  bool honor_labels = false;
  bool honor_timestamps = true;
  int64_t scrape_interval_ms = 0;  // 0 until Load() fills the global default
  int64_t scrape_timeout_ms = 0;
  uint64_t sample_limit = 0;       // 0 = no limit
  uint64_t label_limit = 0;
  uint64_t body_size_limit = 0;    // bytes, 0 = no limit
  std::vector<discovery::TargetGroup> static_configs;
  std::vector<FileSDConfig> file_sd_configs;
  std::vector<model::RelabelConfig> relabel_configs;
  std::vector<model::RelabelConfig> metric_relabel_configs;
  bool has_basic_auth = false;
  BasicAuth basic_auth;
  bool has_authorization = false;
  Authorization authorization;
  TLSConfig tls_config;
};

struct Config {
  std::string file;  // path it was loaded from
  GlobalConfig global;
  std::vector<ScrapeConfig> scrape_configs;
  std::string original;  // the YAML text, for /api/v1/status/config
};

// Loads and validates a config file.
common::Result<Config> LoadFile(const std::string& path);
// Same from text; `filename` appears in errors and anchors relative paths.
common::Result<Config> LoadString(std::string_view text, const std::string& filename);

}  // namespace collector::config
