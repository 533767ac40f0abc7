// lookout-agent: node_exporter-compatible host metrics on /metrics.
// Flags, wiring and signals only; collectors live in agent/collectors/.

#include <CLI/CLI.hpp>
#include <malloc.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "agent/collector.h"
#include "agent/registry.h"
#include "agent/version.h"
#include "common/base/units.h"
#include "common/event/loop.h"
#include "common/http/server.h"
#include "common/log/log.h"
#include "common/metrics/process.h"

namespace {

constexpr char kIndexHtml[] = R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Lookout Agent</title></head>
<body><h1>Lookout Agent</h1>
<p>Host metrics in the Prometheus text format, with node_exporter's metric names.</p>
<ul><li><a href="/metrics">Metrics</a></li></ul>
<p>Version )" LOOKOUT_VERSION R"(</p></body></html>
)";

struct Flags {
  std::string listen = ":9100";
  std::string telemetry_path = "/metrics";
  bool disable_exporter_metrics = false;
  int max_requests = 40;
  std::string log_level = "info";
  std::string timeout = "10s";
  bool disable_defaults = false;
  bool once = false;
};


}  // namespace

int main(int argc, char** argv) try {
  using agent::FlagSpec;
  // One malloc arena for all threads. By default glibc gives each thread that allocates (the
  // collector runners, libuv's pool running scrapes) an arena of its own, whose touched pages stay
  // resident: about 0.8 MiB more RSS after 4 concurrent scrapers (bench/agent_vs_node_exporter).
  // A steady-state scrape hardly allocates, so the shared arena's lock is not contended.
  // Before any thread starts; MALLOC_ARENA_MAX in the environment still overrides it.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 1);
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"lookout-agent: host metrics for Prometheus, with node_exporter's names."};
  app.get_formatter()->column_width(60);
  Flags f;
  agent::CollectorContext ctx;
  app.add_option("--web.listen-address", f.listen, "Address on which to expose metrics and web interface.")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", f.telemetry_path, "Path under which to expose metrics.")
      ->capture_default_str();
  app.add_flag("--web.disable-exporter-metrics", f.disable_exporter_metrics,
               "Exclude metrics about the exporter itself (process_*, lookout_agent_*).");
  app.add_option("--web.max-requests", f.max_requests,
                 "Maximum number of parallel scrape requests. 0 disables the limit.")
      ->capture_default_str();
  app.add_option("--path.procfs", ctx.paths.procfs, "procfs mountpoint.")->capture_default_str();
  app.add_option("--path.sysfs", ctx.paths.sysfs, "sysfs mountpoint.")->capture_default_str();
  app.add_option("--path.rootfs", ctx.paths.rootfs, "rootfs mountpoint.")->capture_default_str();
  app.add_option("--path.udev.data", ctx.paths.udev_data, "udev data path.")->capture_default_str();
  app.add_flag("--collector.disable-defaults", f.disable_defaults,
               "Set all collectors to disabled by default.");
  app.add_option("--collector.timeout", f.timeout,
                 "Deadline of each collector in a scrape; a collector past it is reported failed.")
      ->capture_default_str();
  app.add_option("--log.level", f.log_level, "Only log messages with the given severity or above. "
                 "One of: [debug, info, warn, error]")->capture_default_str();
  app.add_flag("--once", f.once, "Write one scrape to standard output and exit.");
  app.set_version_flag("--version", std::string("lookout-agent ") + LOOKOUT_VERSION);

  // One --collector.NAME / --no-collector.NAME pair per collector, and its tuning flags.
  const auto& all = agent::AllCollectors();
  std::map<std::string, bool> enabled;
  std::map<std::string, CLI::Option*> enable_opts;
  std::map<std::string, std::string> string_flags;
  std::map<std::string, bool> bool_flags;
  std::map<std::string, std::vector<std::string>> list_flags;
  for (const auto& c : all) {
    enabled[c.name] = c.default_enabled;
    enable_opts[c.name] = app.add_flag(
        "--collector." + c.name + ",!--no-collector." + c.name, enabled[c.name],
        std::string("Enable the ") + c.name + " collector (default: " +
            (c.default_enabled ? "enabled" : "disabled") + ").");
    for (const FlagSpec& fs : c.flags) {
      switch (fs.kind) {
        case FlagSpec::Kind::kString:
          string_flags[fs.name] = fs.default_value;
          app.add_option("--" + fs.name, string_flags[fs.name], fs.help)->capture_default_str();
          break;
        case FlagSpec::Kind::kBool:
          bool_flags[fs.name] = fs.default_value == "true";
          app.add_flag("--" + fs.name + ",!--no-" + fs.name, bool_flags[fs.name],
                       fs.help + " (default: " + fs.default_value + ")");
          break;
        case FlagSpec::Kind::kList:
          list_flags[fs.name];
          app.add_option("--" + fs.name, list_flags[fs.name], fs.help + " (repeatable)");
          break;
      }
    }
  }
  CLI11_PARSE(app, argc, argv);

  common::log::Logger log("agent");
  if (!common::log::SetLevel(f.log_level)) {
    std::cerr << "unknown --log.level " << f.log_level << "\n";
    return 2;
  }
  auto timeout_ms = common::ParseDurationMs(f.timeout);
  if (!timeout_ms.ok() || *timeout_ms <= 0) {
    std::cerr << "bad --collector.timeout " << f.timeout << "\n";
    return 2;
  }
  for (auto& [k, v] : string_flags) ctx.flags.Set(k, v);
  for (auto& [k, v] : bool_flags) ctx.flags.Set(k, v ? "true" : "false");
  for (auto& [k, vs] : list_flags)
    for (auto& v : vs) ctx.flags.Append(k, v);

  agent::Registry registry({std::chrono::milliseconds(*timeout_ms)}, log.Child("registry"));
  // Which collectors run, published as flags "collector.NAME" (cpu and cpufreq consult each other,
  // as in node_exporter).
  std::map<std::string, bool> on_map;
  for (const auto& c : all) {
    on_map[c.name] = enable_opts[c.name]->count() > 0 ? enabled[c.name]
                                                       : (!f.disable_defaults && c.default_enabled);
    ctx.flags.Set("collector." + c.name, on_map[c.name] ? "true" : "false");
  }
  for (const auto& c : all) {
    if (!on_map[c.name]) continue;
    auto made = c.make(ctx);
    if (!made.ok()) {
      log.Error("cannot create collector", {{"collector", c.name}, {"err", made.status().ToString()}});
      return 1;
    }
    log.Info("enabled collector", {{"collector", c.name}});
    registry.Add(c.name, std::move(made).value());
  }
  bool exporter_metrics = !f.disable_exporter_metrics;
  registry.SetExtra([exporter_metrics](common::metrics::MetricSet& out) {
    if (!exporter_metrics) return;
    common::metrics::AddProcessMetrics(out);
    out.Gauge("lookout_agent_build_info",
              "A metric with a constant '1' value labeled by version and build details.", 1,
              {{"version", LOOKOUT_VERSION}, {"revision", LOOKOUT_REVISION},
               {"compiler", LOOKOUT_COMPILER}});
  });
  registry.Start();

  if (f.once) {
    std::string out;
    registry.Gather(out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    std::_Exit(0);  // a collector stuck in a read must not hold the exit
  }

  common::event::Loop loop;
  common::http::Server server(loop, {}, log.Child("http"));
  int in_flight = 0;
  auto buffer = std::make_shared<std::string>();
  server.Handle(f.telemetry_path, {"GET"},
                [&](common::http::Request&, common::http::Respond respond) {
                  if (f.max_requests > 0 && in_flight >= f.max_requests) {
                    respond(common::http::Response::Text(
                        503, "too many concurrent scrapes; raise --web.max-requests"));
                    return;
                  }
                  ++in_flight;
                  auto resp = std::make_shared<common::http::Response>();
                  loop.QueueWork(
                      [&registry, resp, buffer] {
                        // Registry::Gather serializes callers, so the shared buffer is safe.
                        buffer->clear();
                        registry.Gather(*buffer);
                        resp->body.assign(*buffer);
                      },
                      [&in_flight, resp, respond] {
                        --in_flight;
                        resp->content_type = std::string(common::expfmt::kTextContentType);
                        respond(std::move(*resp));
                      });
                });
  server.Handle("/", {"GET"}, [](common::http::Request&, common::http::Respond respond) {
    common::http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = kIndexHtml;
    respond(std::move(r));
  });
  common::Status st = server.Listen(f.listen);
  if (!st.ok()) {
    log.Error("cannot listen", {{"address", f.listen}, {"err", st.ToString()}});
    return 1;
  }
  log.Info("listening", {{"address", f.listen}, {"port", std::to_string(server.port())}});
  auto stop = [&] {
    log.Info("shutting down");
    server.Close();
    loop.Stop();
  };
  loop.OnSignal(SIGINT, stop);
  loop.OnSignal(SIGTERM, stop);
  loop.Run();
  std::_Exit(0);  // collectors stuck in kernel reads must not hold the exit
} catch (const std::exception& e) {
  std::fprintf(stderr, "lookout-agent: fatal: %s\n", e.what());
  return 1;
}
