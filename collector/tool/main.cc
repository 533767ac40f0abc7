// lookout-tool: the companion command of Lookout, as promtool is to Prometheus.
//   lookout-tool tsdb inspect DIR        series, samples, chunks, bytes per sample
//   lookout-tool tsdb backup DIR DEST    consistent copy, safe while the collector runs
//   lookout-tool check config FILE...    validate lookout-collector config files (promtool's
//                                        "check config"); exit code 1 when any is invalid
//   lookout-tool test promql FILE...     run Prometheus' PromQL test scripts (*.test) against
//                                        Lookout's engine; prints each failure and ends with
//                                        "N passed, N failed, N skipped"; exit code 1 on any
//                                        failure. --verbose lists skipped evals with reasons;
//                                        --conservative-nh-skip skips every eval while native
//                                        histograms are loaded (FORMAT.md section 7).

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "collector/config/config.h"
#include "collector/tsdb/db.h"
#ifdef LOOKOUT_HAVE_PROMQLTEST
#include "collector/promql/promqltest/runner.h"
#endif

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

#ifdef LOOKOUT_HAVE_PROMQLTEST
void PrintIndented(std::string_view label, const std::string& text) {
  std::printf("  %s", std::string(label).c_str());
  size_t start = 0;
  bool first = true;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    std::printf("%s%s\n", first ? "" : "            ", line.c_str());
    first = false;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}
#endif

// Runs PromQL test scripts. Every failure: "FILE:LINE: EXPR", the kind and reason, expected and
// got. Last line: "N passed, N failed, N skipped". A script that does not parse counts as one
// failure. Returns 1 when anything failed.
int TestPromql(const std::vector<std::string>& files, bool verbose, bool conservative_nh_skip) {
#ifdef LOOKOUT_HAVE_PROMQLTEST
  namespace pt = collector::promql::promqltest;
  int passed = 0, failed = 0, skipped = 0, skipped_nh = 0, msg_mismatch = 0, notes = 0;
  for (const auto& f : files) {
    pt::RunOptions opts;
    opts.conservative_nh_skip = conservative_nh_skip;
    pt::FileReport rep = pt::RunFile(f, opts);
    if (!rep.script_error.ok()) {
      std::printf("%s: script error: %s\n", f.c_str(), std::string(rep.script_error.message()).c_str());
      failed++;
      continue;
    }
    for (const auto& e : rep.evals) {
      if (e.outcome == pt::Outcome::kFail) {
        std::printf("%s:%d: %s\n", f.c_str(), e.line, e.expr.empty() ? "(load)" : e.expr.c_str());
        std::printf("  %s: %s\n", std::string(pt::FailureKindName(e.failure)).c_str(), e.message.c_str());
        if (!e.expected.empty()) PrintIndented("expected: ", e.expected);
        if (!e.got.empty()) PrintIndented("got:      ", e.got);
      } else if (e.outcome == pt::Outcome::kSkip && verbose) {
        std::printf("%s:%d: skipped (%s: %s): %s\n", f.c_str(), e.line,
                    std::string(pt::SkipKindName(e.skip)).c_str(), e.skip_reason.c_str(), e.expr.c_str());
      }
      if (verbose) {
        for (const auto& n : e.notes) std::printf("%s:%d: note: %s\n", f.c_str(), e.line, n.c_str());
      }
    }
    if (verbose) {
      std::printf("%s: %d passed, %d failed, %d skipped (%d native histograms)\n", f.c_str(),
                  rep.passed, rep.failed, rep.skipped, rep.skipped_native_histograms);
    }
    passed += rep.passed;
    failed += rep.failed;
    skipped += rep.skipped;
    skipped_nh += rep.skipped_native_histograms;
    msg_mismatch += rep.fail_message_mismatches;
    notes += rep.annotation_notes;
  }
  std::printf("skipped: %d for native histograms\n", skipped_nh);
  std::printf("of the failures, %d are error-message mismatches of `expect fail`; %d evals have "
              "annotation-text notes (not failures%s)\n",
              msg_mismatch, notes, verbose ? "" : "; see --verbose");
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  std::fflush(stdout);
  return failed > 0 ? 1 : 0;
#else
  (void)files;
  (void)verbose;
  (void)conservative_nh_skip;
  std::fprintf(stderr, "lookout-tool: test promql: this build has no PromQL engine\n");
  return 1;
#endif
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
  auto* test = app.add_subcommand("test", "Run tests.");
  test->require_subcommand(1);
  std::vector<std::string> promql_files;
  bool verbose = false;
  bool conservative_nh_skip = false;
  auto* test_promql = test->add_subcommand(
      "promql", "Run Prometheus' PromQL test scripts (*.test) against Lookout's engine.");
  test_promql->add_option("FILE", promql_files, "Test script files.")->required();
  test_promql->add_flag("--verbose", verbose, "List skipped evals with their reasons, and notes.");
  test_promql->add_flag("--conservative-nh-skip", conservative_nh_skip,
                        "Skip every eval while native-histogram data is loaded (since the last "
                        "`clear`), not only the evals that read histogram series.");
  CLI11_PARSE(app, argc, argv);

  if (check_config->parsed()) return CheckConfig(config_files);
  if (test_promql->parsed()) return TestPromql(promql_files, verbose, conservative_nh_skip);

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
