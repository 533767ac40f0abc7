#pragma once
// Storage interfaces (Prometheus storage/interface.go): scrape, the remote_write receiver and rules
// append through Appender; PromQL and the read APIs query through Querier. tsdb implements both;
// nothing above storage includes tsdb.
//
// Units: timestamps are int64 milliseconds since the Unix epoch; values are float64 (a staleness
// marker is the NaN with bits 0x7ff0000000000002, see IsStaleNaN()).

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "collector/model/labels.h"
#include "collector/storage/sample.h"
#include "common/base/status.h"
#include "common/re2/regex.h"

namespace collector::storage {

using common::Result;
using common::Status;
using model::Labels;

using SeriesRef = uint64_t;

inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
double StaleNaN();
inline bool IsStaleNaN(double v) {  // inline: selectors test every point
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b == kStaleNaNBits;
}

// Errors of Append (tested with these predicates, as Prometheus' named errors).
Status ErrOutOfOrderSample();
Status ErrDuplicateSampleForTimestamp();
Status ErrOutOfBounds();
bool IsOutOfOrder(const Status& s);       // OutOfOrder code
bool IsDuplicateSample(const Status& s);  // InvalidArgument with the duplicate message
bool IsOutOfBounds(const Status& s);

// A label matcher: =, !=, =~, !~. Regexes are fully anchored, RE2 syntax (as Prometheus).
class Matcher {
 public:
  enum class Type { kEqual, kNotEqual, kRegex, kNotRegex };
  static Result<Matcher> Make(Type type, std::string name, std::string value);
  bool Matches(std::string_view v) const;
  Type type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // "name=~\"value\"".
  std::string ToString() const;

 private:
  Type type_ = Type::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<common::re2::Regex> re_;
};

// Appender: a batch of samples committed atomically. Not thread-safe: one per goroutine-equivalent
// (scrape loop, write request). An Appender dropped without Commit() rolls back.
class Appender {
 public:
  virtual ~Appender() = default;
  // Adds a sample. `ref` is a ref returned by an earlier Append for the same series (0 if
  // unknown); a known ref is trusted (its labels are not compared), and `labels` may then be
  // empty. Returns the series ref, or an error: IsOutOfOrder, IsDuplicateSample, IsOutOfBounds
  // (too old for the head), InvalidArgument (bad labels), NotFound (a ref the head no longer
  // has, with empty labels: retry with the labels and ref 0). A failed Append leaves the rest of
  // the batch intact.
  virtual Result<SeriesRef> Append(SeriesRef ref, const Labels& labels, int64_t t_ms,
                                   double v) = 0;
  // Makes the batch durable (per the WAL policy) and visible to queries.
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
};

class Appendable {
 public:
  virtual ~Appendable() = default;
  // Thread-safe.
  virtual std::unique_ptr<Appender> NewAppender() = 0;
};

// Iterates samples in time order.
class SampleIterator {
 public:
  virtual ~SampleIterator() = default;
  virtual bool Next() = 0;
  // Advances to the first sample with t >= t_ms (may stay at the current one). False when none.
  virtual bool Seek(int64_t t_ms) = 0;
  virtual int64_t t() const = 0;
  virtual double v() const = 0;
  // Start timestamp (OTel start time / created timestamp) of the current sample in ms, 0 when
  // unknown. Optional: a storage that keeps none inherits this default. Only the PromQL test
  // runner's MemoryStorage sets it so far (start_timestamps.test); the engine uses it in rate,
  // increase, irate, resets and start_timestamp() (docs/promql.md).
  virtual int64_t st() const { return 0; }
  virtual Status status() const = 0;
};

// A chunk as stored: Gorilla XOR encoded samples in [min_time, max_time].
struct ChunkMeta {
  int64_t min_time;
  int64_t max_time;
  std::string data;  // chunkenc XOR bytes
};

class Series {
 public:
  virtual ~Series() = default;
  virtual const Labels& labels() const = 0;
  // Samples within the Select() range, merged over persisted and head chunks.
  virtual std::unique_ptr<SampleIterator> Iterator() const = 0;
};

// Iterates the series of a Select. At() and the iterators and samples it hands out are valid
// until the next Next().
class SeriesSet {
 public:
  virtual ~SeriesSet() = default;
  virtual bool Next() = 0;
  virtual const Series& At() const = 0;
  virtual Status status() const = 0;
  // The samples of At() (those its Iterator() yields, in time order) moved into `out`, which is
  // replaced; `st` gets their start timestamps (SampleIterator::st()) in parallel, or stays empty
  // when every one is 0. Call at most once per series, instead of Iterator(): a storage that
  // holds decoded samples hands them over without a copy (tsdb). The default drains Iterator().
  // Errors are the iterator's.
  virtual Status TakeSamples(std::vector<Sample>& out, std::vector<int64_t>& st);
};

// A read view over [mint, maxt]. Thread affinity: one thread at a time.
class Querier {
 public:
  virtual ~Querier() = default;
  // Series matching all matchers (at least one should match a non-empty value), with samples in
  // [mint, maxt] (inclusive). When `sorted`, in Labels order.
  virtual std::unique_ptr<SeriesSet> Select(bool sorted, int64_t mint, int64_t maxt,
                                            std::span<const Matcher> matchers) = 0;
  // Select for an evaluation at one time, where only the newest sample in [mint, maxt] of each
  // series counts (an instant query's instant vector selector). The series may hold just that
  // sample (the tsdb head knows it without decoding a chunk). Unsorted. The default is Select.
  virtual std::unique_ptr<SeriesSet> SelectLatest(int64_t mint, int64_t maxt,
                                                  std::span<const Matcher> matchers) {
    return Select(false, mint, maxt, matchers);
  }
  // Label names (values) of series matching `matchers` (all series when empty), sorted.
  virtual Result<std::vector<std::string>> LabelNames(std::span<const Matcher> matchers) = 0;
  virtual Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                       std::span<const Matcher> matchers) = 0;
};

class Queryable {
 public:
  virtual ~Queryable() = default;
  // Thread-safe.
  virtual Result<std::unique_ptr<Querier>> NewQuerier(int64_t mint, int64_t maxt) = 0;
};

}  // namespace collector::storage
