#pragma once
// The textfile collector's reader: parses Prometheus text-format files (*.prom) the way Go's
// expfmt.TextParser does and merges them as node_exporter 1.12's textfile collector and
// client_golang's registry do.
//
// Parsing (ParseTextFormat): HELP/TYPE comments, labels with \\ \" \n escapes, summaries and
// histograms assembled from their _sum/_count/_bucket/quantile lines, optional timestamps. A
// syntax error anywhere fails the whole file; so does a missing final newline.
//
// Merging (TextfileReader::Read), per node_exporter:
// - every --collector.textfile.directory entry is globbed (falling back to the literal path when
//   nothing matches) and every "*.prom" file in the resulting directories is read in name order;
// - a file that does not parse, or has client-side timestamps, is skipped and sets the error
//   flag (node_textfile_scrape_error);
// - a family whose HELP differs from the one first seen for that name (in an earlier file) is
//   dropped from the later file and sets the error flag; families without HELP get "Metric read
//   from <files>" listing every file that has them;
// - within one file's family, labels missing from some samples are added with empty values;
// - the first occurrence of a series wins (later duplicates are dropped, as the registry does),
//   and so does the first file's TYPE for a name.
// Thread affinity: a reader is used by one thread at a time. Allocation: results are plain
// containers refilled on each Read (this collector reads user files of arbitrary shape).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/expfmt/encoder.h"

namespace agent::procfs {

using common::expfmt::MetricType;

struct TextMetric {
  // Sorted by name; empty values are kept (they are part of the series identity).
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;                                  // counter, gauge, untyped
  std::vector<std::pair<double, double>> quantiles;  // summary: (quantile, value), sorted
  std::vector<std::pair<double, uint64_t>> buckets;  // histogram: (le, count), sorted, no +Inf
  double sum = 0;                                    // summary, histogram
  uint64_t count = 0;                                // summary, histogram
  bool has_timestamp = false;
};

struct TextFamily {
  std::string name;
  std::string help;
  bool has_help = false;
  MetricType type = MetricType::kUntyped;
  std::vector<TextMetric> metrics;
};

// Parses one file's text into families (in order of first appearance; families without samples
// are dropped). InvalidArgument with a line number on a syntax error.
common::Status ParseTextFormat(std::string_view text, std::vector<TextFamily>& out);

struct TextfileResult {
  std::vector<TextFamily> families;                    // merged, sorted by name
  std::vector<std::pair<std::string, double>> mtimes;  // (file path, mtime seconds), sorted
  bool error = false;
};

class TextfileReader {
 public:
  // Reads every directory (glob patterns allowed). Never fails: problems set `out.error`.
  void Read(const std::vector<std::string>& directories, TextfileResult& out);

 private:
  std::string buf_;
};

}  // namespace agent::procfs
