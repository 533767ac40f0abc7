#pragma once
// MemoryStorage: an in-memory storage::Queryable for the PromQL test runner (as upstream's
// teststorage): a map of Labels -> time-sorted float samples.
//
// Add() rejects what upstream's head rejects by default: a sample older than the newest sample of
// its series (ErrOutOfOrderSample) and a different value at an already-used timestamp
// (ErrDuplicateSampleForTimestamp); the same value (same bits) again is accepted and ignored.
//
// Native-histogram samples are not stored (Lookout's values are float-only). MarkHistogram()
// records that a label set has one at a timestamp, so the runner can skip exactly the evals that
// read such a sample (FORMAT.md section 7, the finer rule). A marked series may also hold float
// samples at other timestamps.
//
// Ownership: queriers and the series sets they return point into the storage, which must
// outlive them and must not be modified (Add/Clear) while they are in use.
// Thread affinity: one thread at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "collector/storage/storage.h"

namespace collector::promql::promqltest {

class MemoryStorage : public storage::Queryable {
 public:
  struct Point {
    int64_t t;
    double v;
    int64_t st = 0;  // start timestamp (ms), 0 = none; read through SampleIterator::st()
  };
  using SeriesMap = std::map<model::Labels, std::vector<Point>>;

  // `st_ms`: the sample's start timestamp, 0 for none (an `@st` line of a script).
  common::Status Add(const model::Labels& labels, int64_t t_ms, double v, int64_t st_ms = 0);
  void Clear() {
    series_.clear();
    histogram_series_.clear();
  }
  // Records that `labels` has a native-histogram sample at `t_ms` (the sample is not stored).
  using HistogramMap = std::map<model::Labels, std::set<int64_t>>;
  void MarkHistogram(const model::Labels& labels, int64_t t_ms) { histogram_series_[labels].insert(t_ms); }
  // Marked series and the timestamps of their histogram samples.
  const HistogramMap& histogram_series() const { return histogram_series_; }
  size_t NumSeries() const { return series_.size(); }
  const SeriesMap& series() const { return series_; }

  common::Result<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint, int64_t maxt) override;

 private:
  SeriesMap series_;
  HistogramMap histogram_series_;
};

}  // namespace collector::promql::promqltest
