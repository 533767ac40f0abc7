#pragma once
// MemoryStorage: an in-memory storage::Queryable for the PromQL test runner (as upstream's
// teststorage): a map of Labels -> time-sorted float samples.
//
// Add() rejects what upstream's head rejects by default: a sample older than the newest sample of
// its series (ErrOutOfOrderSample) and a different value at an already-used timestamp
// (ErrDuplicateSampleForTimestamp); the same value (same bits) again is accepted and ignored.
// Series::Chunks() returns an empty vector: the engine must read through Iterator().
//
// Ownership: queriers and the series sets they return point into the storage, which must
// outlive them and must not be modified (Add/Clear) while they are in use.
// Thread affinity: one thread at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "collector/storage/storage.h"

namespace collector::promql::promqltest {

class MemoryStorage : public storage::Queryable {
 public:
  struct Point {
    int64_t t;
    double v;
  };
  using SeriesMap = std::map<model::Labels, std::vector<Point>>;

  common::Status Add(const model::Labels& labels, int64_t t_ms, double v);
  void Clear() { series_.clear(); }
  size_t NumSeries() const { return series_.size(); }
  const SeriesMap& series() const { return series_; }

  common::Result<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint, int64_t maxt) override;

 private:
  SeriesMap series_;
};

}  // namespace collector::promql::promqltest
