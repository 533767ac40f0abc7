#include "collector/scrape/target.h"

#include "common/base/units.h"

namespace collector::scrape {

using model::Labels;
using model::LabelsBuilder;

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  struct Unit {
    int64_t ms;
    const char* name;
  } units[] = {{365ll * 86400000, "y"}, {7ll * 86400000, "w"}, {86400000, "d"}, {3600000, "h"},
               {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : units) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

namespace {
std::string UrlEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}
}  // namespace

TargetLabels PopulateLabels(const Labels& target, const Labels& group_labels,
                            const config::ScrapeConfig& cfg) {
  TargetLabels out;
  LabelsBuilder lb(target);
  for (const auto& l : group_labels) {
    if (target.Get(l.name).empty()) lb.Set(l.name, l.value);
  }
  Labels base = lb.Build();
  auto set_default = [&](std::string_view name, const std::string& v) {
    if (base.Get(name).empty()) lb.Set(name, v);
  };
  set_default("job", cfg.job_name);
  set_default("__scrape_interval__", FormatDuration(cfg.scrape_interval_ms));
  set_default("__scrape_timeout__", FormatDuration(cfg.scrape_timeout_ms));
  set_default("__metrics_path__", cfg.metrics_path);
  set_default("__scheme__", cfg.scheme);
  for (const auto& [name, values] : cfg.params) {
    if (!values.empty()) set_default("__param_" + name, values.front());
  }
  out.discovered = lb.Build();
  if (!model::Relabel(lb, cfg.relabel_configs)) {
    out.dropped = true;
    return out;
  }
  Labels relabeled = lb.Build();
  std::string_view addr = relabeled.Get("__address__");
  if (addr.empty()) {
    out.error = "no address";
  } else if (addr.find('/') != std::string_view::npos) {
    out.error = "invalid address \"" + std::string(addr) + "\"";
  }
  auto iv = common::ParseDurationMs(relabeled.Get("__scrape_interval__"));
  auto to = common::ParseDurationMs(relabeled.Get("__scrape_timeout__"));
  if (out.error.empty() && (!iv.ok() || *iv == 0)) out.error = "invalid scrape interval";
  if (out.error.empty() && (!to.ok() || *to == 0)) out.error = "invalid scrape timeout";
  if (out.error.empty() && *to > *iv) out.error = "scrape timeout greater than scrape interval";
  LabelsBuilder fin(relabeled);
  for (const auto& l : relabeled) {
    if (l.name.rfind("__meta_", 0) == 0) fin.Del(l.name);
  }
  if (relabeled.Get("instance").empty()) fin.Set("instance", addr);
  out.labels = fin.Build();
  return out;
}

common::Result<ScrapeSpec> MakeSpec(const Labels& labels, const config::ScrapeConfig& cfg) {
  ScrapeSpec s;
  s.scheme = std::string(labels.Get("__scheme__"));
  std::string addr(labels.Get("__address__"));
  size_t colon = addr.rfind(':');
  bool bracketed = !addr.empty() && addr.front() == '[';
  if (colon != std::string::npos && (!bracketed || addr[colon - 1] == ']')) {
    s.host = addr.substr(0, colon);
    s.port = std::atoi(addr.c_str() + colon + 1);
  } else {
    s.host = addr;
    s.port = s.scheme == "https" ? 443 : 80;
  }
  if (!s.host.empty() && s.host.front() == '[') s.host = s.host.substr(1, s.host.size() - 2);
  if (s.port <= 0 || s.port > 65535) return common::Status::InvalidArgument("invalid port in " + addr);
  s.target = std::string(labels.Get("__metrics_path__"));
  if (s.target.empty() || s.target.front() != '/') s.target = "/" + s.target;
  std::string query;
  std::map<std::string, std::vector<std::string>> params = cfg.params;
  for (const auto& l : labels) {
    if (l.name.rfind("__param_", 0) == 0) params[l.name.substr(8)] = {l.value};
  }
  for (const auto& [k, vs] : params) {
    for (const auto& v : vs) {
      query += query.empty() ? "" : "&";
      query += UrlEscape(k) + "=" + UrlEscape(v);
    }
  }
  if (!query.empty()) s.target += "?" + query;
  s.url = s.scheme + "://" + addr + s.target;
  auto iv = common::ParseDurationMs(labels.Get("__scrape_interval__"));
  auto to = common::ParseDurationMs(labels.Get("__scrape_timeout__"));
  s.interval_ms = iv.ok() ? *iv : cfg.scrape_interval_ms;
  s.timeout_ms = to.ok() ? *to : cfg.scrape_timeout_ms;
  std::vector<model::Label> keep;
  for (const auto& l : labels) {
    if (l.name.rfind("__", 0) != 0) keep.push_back(l);
  }
  s.series_labels = Labels(std::move(keep));
  return s;
}

}  // namespace collector::scrape
