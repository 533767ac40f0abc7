#pragma once
// Parser for Prometheus' PromQL test scripts (`*.test`, promql/promqltest/testdata upstream), as
// described in shared/peer/promql/FORMAT.md: `load <step>` / `load_with_nhcb <step>`, `clear`,
// `eval instant at <t> <expr>`, `eval range from <t> to <t> step <d> <expr>`, the legacy
// `eval_fail` / `eval_ordered` / `eval_warn` / `eval_info` spellings, and the body lines of an
// eval (`expect ...`, `expect range vector ...`, `expect string ...`, a scalar, series lines).
//
// The parser needs no engine: it turns text into plain structs. Native-histogram samples
// (`{{...}}`) are recognised and counted as slots but not decoded: Lookout's storage and result
// values hold floats only, and the runner skips every eval that reads them (FORMAT.md section 7).
// Start-timestamp lines (`name@st ...`) are decoded into the next line's SeriesLine::st_offsets.
//
// Errors: InvalidArgument "LINE: message" (1-based line of the script). Thread affinity: none
// (pure functions).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "collector/model/labels.h"
#include "common/base/status.h"

namespace collector::promql::promqltest {

// One expanded slot of a value sequence.
struct SeqValue {
  enum class Kind : uint8_t {
    kFloat,      // `v`, or an element of `a+bxN`
    kOmitted,    // `_`: no sample in this slot
    kStale,      // `stale`: the staleness-marker NaN (bits 0x7ff0000000000002)
    kHistogram,  // `{{...}}`: a native histogram (not decoded)
  };
  Kind kind = Kind::kFloat;
  double v = 0;
};

// Expands a value sequence (FORMAT.md 3.1): `_xN` gives N slots, `vxN` and `a+bxN` give N+1,
// increments are applied by repeated floating-point addition. `{{H}}`, `{{H}}xN` and
// `{{H}}+{{D}}xN` give 1 / N+1 / N+1 kHistogram slots. No hexadecimal: `0x10` is `0` repeated.
common::Result<std::vector<SeqValue>> ExpandValues(std::string_view text);

// Parses a sample number of a value sequence: decimal, exponent, leading dot, sign, Inf/NaN
// (case-insensitive). Hexadecimal is refused.
common::Result<double> ParseSampleNumber(std::string_view s);

// Parses a scalar expectation line (one token): an integer with Go base prefixes (0x, 0o, 0b,
// leading 0 = octal), else a float (NaN, Inf, 1e3 ...).
common::Result<double> ParseScalarExpectation(std::string_view s);

// Parses a series literal with equality matchers only: `name`, `name{l="v",}`,
// `{__name__="name", l="v"}`, `{}`. Label values are PromQL strings ("", '', ``, Go escapes).
// `rest` receives the text after the literal (the value sequence), trimmed.
common::Result<model::Labels> ParseSeriesLiteral(std::string_view line, std::string_view* rest);

// A series line of a load or an eval body: labels and the expanded values.
struct SeriesLine {
  int line = 0;
  model::Labels labels;
  std::vector<SeqValue> values;
  bool has_histogram = false;  // some slot is kHistogram
  // From a preceding `<series>@st ...` line (loads only, FORMAT.md 3.3): per slot, the start
  // timestamp offset in ms relative to the slot's sample timestamp (ST = T + offset), or nullopt
  // for `_` (no start timestamp). Empty when the series has no `@st` line.
  std::vector<std::optional<int64_t>> st_offsets;
};

// Expands the value sequence of an `@st` line (FORMAT.md 3.3): `_`, `_xN` (N slots), `<dur>`,
// `<dur>xN` (N+1 slots), `<dur>+<dur>xN` / `<dur>-<dur>xN` (N+1 slots, offset changing by the
// step). Durations may be signed (`-30s`, `+1m`, `-0ms`); a bare `0` is allowed.
common::Result<std::vector<std::optional<int64_t>>> ExpandStartTimestampOffsets(std::string_view text);

struct LoadCmd {
  int line = 0;
  int64_t step_ms = 0;
  bool with_nhcb = false;             // `load_with_nhcb`: loaded as a plain load here
  bool has_histograms = false;        // a `{{` sample, or with_nhcb
  bool has_start_timestamps = false;  // an `@st` line (its offsets are in SeriesLine::st_offsets)
  std::vector<SeriesLine> series;     // a label set listed twice keeps the last line
};

struct ClearCmd {
  int line = 0;
};

struct Expectation {
  enum class Type : uint8_t { kFail, kWarn, kInfo, kNoWarn, kNoInfo, kOrdered };
  enum class Match : uint8_t { kAny, kMsg, kRegex };
  int line = 0;
  Type type = Type::kFail;
  Match match = Match::kAny;
  std::string text;  // msg: exact text (trimmed) or regex: pattern
};
std::string_view ExpectationTypeName(Expectation::Type t);  // "fail", "warn", ...

struct EvalCmd {
  int line = 0;
  std::string expr;
  bool range = false;
  int64_t start_ms = 0;  // instant: the evaluation time
  int64_t end_ms = 0;    // instant: == start_ms
  int64_t step_ms = 0;   // instant: 0
  std::vector<Expectation> expects;  // legacy eval_* spellings become entries here
  // Helpers over `expects`.
  const Expectation* Find(Expectation::Type t) const;
  bool Has(Expectation::Type t) const { return Find(t) != nullptr; }

  std::optional<double> scalar;        // a bare number line
  std::optional<std::string> string;   // `expect string "..."`
  // `expect range vector from <d> to <d> step <d>` (instant queries only).
  bool range_vector = false;
  int64_t rv_from_ms = 0, rv_to_ms = 0, rv_step_ms = 0;
  std::vector<SeriesLine> series;      // in body order
  bool body_has_histogram = false;     // some body line contains `{{`
};

using Command = std::variant<LoadCmd, ClearCmd, EvalCmd>;

struct Script {
  std::string name;  // file name (for messages)
  std::vector<Command> commands;
};

// Parses a whole script. `name` is only used in messages.
common::Result<Script> ParseScript(std::string_view text, std::string name);

// Reads and parses a file. Errors: IOError/NotFound from reading, InvalidArgument
// "PATH:LINE: message" from parsing.
common::Result<Script> ParseScriptFile(const std::string& path);

// Prometheus durations as the scripts use them (`0`, `5m`, `1m30s`, `20s500ms`, `-30s` when
// `allow_negative`), in milliseconds.
common::Result<int64_t> ParseScriptDuration(std::string_view s, bool allow_negative = false);

}  // namespace collector::promql::promqltest
