#pragma once
// Runner for Prometheus' PromQL test scripts (shared/peer/promql/FORMAT.md): loads data into a
// MemoryStorage, evaluates every `eval` through promql::Engine and compares the result with the
// expectations. `lookout-tool test promql FILE...` and tests/integration/promql_scripts_test.cc
// are its users.
//
// What is checked (FORMAT.md section 5):
//   * instant vectors as sets of series (or in order with `expect ordered`), scalars, strings,
//     matrices (range queries and `expect range vector`), which must be sorted by labels;
//     floats within upstream's tolerance (relative 1e-6; staleness markers match only each other)
//   * `expect fail`, with `msg:` / `regex:` on the error text: a message mismatch is a failure of
//     kind kFailMessage, reported apart from the other failures
//   * `expect warn` / `info` / `no_warn` / `no_info`: presence or absence of annotations only; a
//     `msg:` / `regex:` that matches no annotation (or an annotation matched by no expect line)
//     is noted in EvalReport::notes, not counted as a failure
// Not done (upstream's optional cross-checks, FORMAT.md 5.5): range-mode consistency of instant
// evals and @-modifier invariance.
//
// Skips (an eval is skipped, never run, with its reason), for native histograms only:
//   * kNativeHistograms (Lookout's storage and values are float-only; upstream allows skipping
//     for native histograms only). Every load is stored: float samples as floats, while a series
//     with `{{...}}` samples, and the NHCB series `load_with_nhcb` synthesises (`x` from
//     `x_bucket{le=..}` / `x_count` / `x_sum`, without `le`), are only marked as having
//     histogram samples. An eval is skipped when (a) its body contains `{{`, or (b) a vector or
//     matrix selector of the parsed expression (or info()'s implicit `target_info`) matches a
//     marked series, which covers (c) a histogram-only function reading histogram data. Every
//     other eval runs. With RunOptions::conservative_nh_skip, every eval is skipped while a
//     `{{...}}` sample or a `load_with_nhcb` block is loaded since the last `clear` (FORMAT.md
//     section 7).
// Start timestamps (`@st` lines) are stored with the samples (MemoryStorage,
// storage::SampleIterator::st()) and the engine uses them; they cause no skip.
//
// Errors: a script that does not parse gives FileReport::script_error and no evals. Load errors
// (out-of-order or duplicate samples) are failures of kind kLoad. Exceptions thrown by the
// parser or engine are caught per eval and reported as kException failures.
// Thread affinity: none; each call uses its own storage and engine.

#include <cstdint>
#include <string>
#include <vector>

#include "collector/promql/engine/engine.h"
#include "collector/promql/promqltest/script.h"
#include "common/base/status.h"

namespace collector::promql::promqltest {

struct RunOptions {
  // Engine settings the scripts assume: lookback 5m, default subquery step 1m, experimental
  // syntax and functions on.
  EngineOptions engine = DefaultEngineOptions();
  static EngineOptions DefaultEngineOptions();
  // Skip every eval while native-histogram data is loaded since the last `clear` (FORMAT.md
  // section 7's conservative rule) instead of only the evals that read histogram series.
  bool conservative_nh_skip = false;
};

enum class Outcome { kPass, kFail, kSkip };

enum class FailureKind {
  kMismatch,         // the result differs from the expectation
  kUnexpectedError,  // the query failed without `expect fail`
  kMissingError,     // `expect fail`, but the query succeeded
  kFailMessage,      // it failed as expected, but the message did not match msg:/regex:
  kAnnotation,       // expected warn/info missing, or no_warn/no_info violated
  kLoad,             // a load command could not store its samples
  kException,        // the parser or engine threw
};
std::string_view FailureKindName(FailureKind k);

enum class SkipKind { kNativeHistograms };
std::string_view SkipKindName(SkipKind k);

struct EvalReport {
  int line = 0;        // the eval's (or load's) line in the script
  std::string expr;    // the expression ("" for a load)
  bool range = false;  // a range eval
  Outcome outcome = Outcome::kPass;
  FailureKind failure = FailureKind::kMismatch;  // when kFail
  std::string message;   // one-line description of the failure
  std::string expected;  // multi-line text, when useful
  std::string got;       // multi-line text, when useful
  SkipKind skip = SkipKind::kNativeHistograms;   // when kSkip
  std::string skip_reason;
  std::vector<std::string> notes;  // soft findings (annotation texts), whatever the outcome
};

struct FileReport {
  std::string path;
  common::Status script_error;  // the script did not parse: nothing was run
  std::vector<EvalReport> evals;
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  int skipped_native_histograms = 0;
  int fail_message_mismatches = 0;  // failures of kind kFailMessage (included in `failed`)
  int annotation_notes = 0;         // evals with annotation-text notes
};

// Runs a parsed script. `path` is copied into the report.
FileReport RunScript(const Script& script, const std::string& path, const RunOptions& opts = {});

// Parses and runs a file.
FileReport RunFile(const std::string& path, const RunOptions& opts = {});

// Upstream's float comparison (util/almost.Equal with epsilon 1e-6): both NaN (not staleness
// markers), equal, or relatively close; a staleness marker only matches another.
bool AlmostEqual(double a, double b);

// Short round-trip text of a float ("1", "0.1", "NaN", "+Inf", "stale").
std::string FormatFloat(double v);

}  // namespace collector::promql::promqltest
