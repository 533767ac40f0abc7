#pragma once
// Streaming parser of the Prometheus text exposition format (shared/specs/exposition-format.md),
// as lenient as the Prometheus 2.42 server's scrape parser (shared/peer/expfmt/README.md lists
// which inputs the server accepts and which it rejects; parser.cc lists the lexer quirks mirrored).
//
// The parser walks the body in place: names, label names and the series text are views into
// the body (no copy); only label values with escapes are unescaped, into buffers the parser
// reuses. SeriesText() (name and label block as written) is stable for a series across scrapes,
// so a scraper can use it as a cache key and skip label parsing for known series. Once its
// vectors have grown to the widest series, the parser does not allocate.
//
// Accepted, as Prometheus 2.42 does: a missing final newline, blank lines, indented comment and
// HELP/TYPE lines, a space before `{`, label pairs without a comma between them, a trailing
// comma, raw newlines in label values, unknown escapes (`\t` stays backslash and `t`), repeated
// or late HELP/TYPE lines, any comment text. Rejected: invalid metric or label names, indented
// sample lines, unquoted or non-UTF-8 label values, values Go's ParseFloat refuses (hex floats
// and `_` too, as in Prometheus), values that overflow a double, timestamps that are not decimal
// digits fitting an int64, trailing tokens, unknown TYPE types (the type must follow the name
// after exactly one blank and end the line), non-UTF-8 HELP text, and duplicate label names in
// one series (`__name__` in braces duplicates the metric name). A NUL byte where a line starts
// ends the input, as it does in Prometheus.
// Errors: Next() returns kError with status() InvalidArgument naming the line; the parse does
// not continue after an error. Never crashes or reads outside the body, whatever the input.
// Thread affinity: one thread; the body must outlive the parser and every view it returned.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/expfmt/encoder.h"

namespace common::expfmt {

// Bits of the NaN that Value() returns for every NaN spelling (Prometheus' value.NormalNaN), so a
// scraped value never carries the stale-marker bits.
inline constexpr uint64_t kNormalNaNBits = 0x7ff8000000000001ull;

class TextParser {
 public:
  enum class Entry { kSeries, kType, kHelp, kComment, kEnd, kError };

  explicit TextParser(std::string_view body);

  // Advances to the next entry. kEnd at the end of input, kError on a malformed line (status()
  // says which line and why; the parse cannot continue, later calls return kError again).
  // Names, SeriesText(), HelpText() and label names are views into the body and live as long as
  // it; Labels() (the vector and unescaped values) is valid until the next call to Next().
  Entry Next();
  // Next() for a scraper that knows which series probably comes next: `known` must be a
  // SeriesText() that a TextParser returned for an accepted sample line (e.g. of the previous
  // scrape of the same target), or empty. When the next entry is a sample line whose series text
  // is exactly `known`, its labels are not parsed or validated again (they are the same bytes,
  // already accepted) and KnownSeries() is true; Labels() still works, parsing them on demand.
  // The result is the same as Next()'s for any input.
  Entry Next(std::string_view known);
  bool KnownSeries() const { return known_hit_; }
  const Status& status() const { return status_; }

  // kSeries:
  std::string_view SeriesText() const { return series_; }  // e.g. `up{job="x"}`
  std::string_view MetricName() const { return name_; }
  // The labels (name, unescaped value) in the order written, without the metric name; filled
  // lazily on the first call for an entry.
  const std::vector<std::pair<std::string_view, std::string_view>>& Labels();
  double Value() const { return value_; }
  bool HasTimestamp() const { return has_ts_; }
  int64_t TimestampMs() const { return ts_; }

  // kType / kHelp:
  std::string_view FamilyName() const { return name_; }
  MetricType Type() const { return type_; }
  std::string_view HelpText() const { return help_; }  // escaped as written
  // kComment: the whole line from `#`, without the newline.
  std::string_view CommentText() const { return help_; }

  // HELP text with `\\` and `\n` unescaped (other backslashes kept), as Prometheus stores it.
  static std::string UnescapeHelp(std::string_view help);

 private:
  Entry ParseComment(size_t i);
  Entry ConsumeComment(size_t start, size_t i, bool skip_nul);
  Entry ParseMeta(size_t i, bool help);
  Entry ParseSeries(size_t i, std::string_view known);
  Entry ParseSample(size_t ns, size_t i);
  bool ParseLabels(size_t& i);
  bool CheckDuplicateLabels(size_t at);
  Entry End();
  Entry Fail(size_t at, std::string_view what);

  std::string_view body_;
  size_t pos_ = 0;
  bool done_ = false;
  Status status_;
  std::string_view series_, name_, help_;
  MetricType type_ = MetricType::kUntyped;
  double value_ = 0;
  bool has_ts_ = false;
  int64_t ts_ = 0;
  bool labels_parsed_ = false;  // escaped values already unescaped into labels_
  bool known_hit_ = false;      // the series text was Next(known)'s; labels_ not filled yet
  size_t labels_at_ = 0;        // with known_hit_: offset of the `{`, 0 when there is none
  bool any_escape_ = false;     // some value in labels_ holds a backslash as written
  std::vector<std::pair<std::string_view, std::string_view>> labels_;
  std::vector<std::string_view> names_scratch_;  // duplicate check of long label lists
  std::vector<std::string> unescaped_;           // storage for values with escapes (reused)
};

}  // namespace common::expfmt
