// lookout-tool: the companion command of Lookout, as promtool is to Prometheus.
//   lookout-tool tsdb inspect DIR        series, samples, chunks, bytes per sample
//   lookout-tool tsdb backup DIR DEST    consistent copy, safe while the collector runs
//   lookout-tool check config FILE...    validate lookout-collector config files (promtool's
//                                        "check config"); exit code 1 when any is invalid

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "collector/config/config.h"
#include "collector/tsdb/db.h"

namespace {

// Prints as promtool does: "Checking FILE" on stdout, then " SUCCESS: ..." on stdout or
// " FAILED: <error>" on stderr. Returns 0 when every file is valid, else 1.
int CheckConfig(const std::vector<std::string>& files) {
  int rc = 0;
  for (const auto& f : files) {
    std::printf("Checking %s\n", f.c_str());
    std::fflush(stdout);
    auto cfg = collector::config::LoadFile(f);
    if (!cfg.ok()) {
      std::fprintf(stderr, " FAILED: %s\n", std::string(cfg.status().message()).c_str());
      std::fflush(stderr);
      rc = 1;
      continue;
    }
    std::printf(" SUCCESS: %zu scrape configs found\n", cfg->scrape_configs.size());
    std::fflush(stdout);
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"lookout-tool: tooling for Lookout (as promtool for Prometheus)."};
  app.require_subcommand(1);
  auto* tsdb = app.add_subcommand("tsdb", "Inspect and back up a lookout-collector store.");
  tsdb->require_subcommand(1);
  std::string dir, dest;
  auto* inspect = tsdb->add_subcommand("inspect", "Print series, samples, chunks and bytes per sample.");
  inspect->add_option("DIR", dir, "The --storage.tsdb.path of the collector.")->required();
  auto* backup = tsdb->add_subcommand("backup", "Copy the store consistently, even while it is written.");
  backup->add_option("DIR", dir, "The --storage.tsdb.path of the collector.")->required();
  backup->add_option("DEST", dest, "Destination directory (must not exist).")->required();
  auto* check = app.add_subcommand("check", "Check the validity of configuration files.");
  check->require_subcommand(1);
  std::vector<std::string> config_files;
  auto* check_config = check->add_subcommand("config", "Check lookout-collector config files.");
  check_config->add_option("FILE", config_files, "Config files to check.")->required();
  CLI11_PARSE(app, argc, argv);

  if (check_config->parsed()) return CheckConfig(config_files);

  if (inspect->parsed()) {
    auto r = collector::tsdb::InspectDir(dir);
    if (!r.ok()) {
      std::fprintf(stderr, "lookout-tool: %s\n", r.status().ToString().c_str());
      return 1;
    }
    std::printf("series:              %llu\n", static_cast<unsigned long long>(r->series));
    std::printf("persisted chunks:    %llu\n", static_cast<unsigned long long>(r->chunks));
    std::printf("persisted samples:   %llu\n", static_cast<unsigned long long>(r->samples));
    std::printf("chunk bytes:         %llu\n", static_cast<unsigned long long>(r->chunk_bytes));
    std::printf("bytes per sample:    %.3f (chunk payload)  %.3f (whole SQLite file)\n",
                r->samples ? static_cast<double>(r->chunk_bytes) / static_cast<double>(r->samples) : 0.0,
                r->samples ? static_cast<double>(r->db_file_bytes) / static_cast<double>(r->samples) : 0.0);
    std::printf("sqlite file bytes:   %llu\n", static_cast<unsigned long long>(r->db_file_bytes));
    std::printf("time range (ms):     %lld .. %lld\n", static_cast<long long>(r->min_time),
                static_cast<long long>(r->max_time));
    std::printf("wal bytes:           %llu\n", static_cast<unsigned long long>(r->wal_bytes));
    std::printf("wal records:         %llu (%llu samples not yet in chunks or in a checkpoint)\n",
                static_cast<unsigned long long>(r->wal_records),
                static_cast<unsigned long long>(r->wal_samples));
    return 0;
  }
  if (backup->parsed()) {
    common::Status s = collector::tsdb::BackupDir(dir, dest);
    if (!s.ok()) {
      std::fprintf(stderr, "lookout-tool: backup: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("backup of %s written to %s\n", dir.c_str(), dest.c_str());
    return 0;
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "lookout-tool: fatal: %s\n", e.what());
  return 1;
}
