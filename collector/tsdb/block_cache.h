#pragma once
// An LRU cache of inflated group blocks (chunkenc::GroupView) by their row id in table `blocks`,
// bounded by memory: leveldb's block cache. Queries of one dashboard read the same blocks again
// at every refresh; a hit skips the SQLite read and the inflate.
//
// Capacity and sizes are in bytes (GroupView::MemoryBytes()). A block larger than the whole
// capacity is not kept. Entries are shared: a reader keeps its block alive after eviction.
// Row ids may be reused once their row is deleted, so whoever deletes block rows calls Erase()
// before the delete and again after its commit; a reader passes Put() the epoch() it saw before
// its read transaction began to Get() and Put(): a Put() from before an Erase() is dropped, and
// a Get() for an older epoch misses (the reader then reads its own snapshot).
// Thread-safe.

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <utility>

#include "collector/tsdb/chunkenc/block.h"

namespace collector::tsdb {

class BlockCache {
 public:
  explicit BlockCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // The cached block, or null; also null when an Erase() ran since `epoch` was read (the caller's
  // snapshot may predate a delete, and the id may now name another block).
  std::shared_ptr<const chunkenc::GroupView> Get(int64_t id, uint64_t epoch);
  // Inserts or replaces, evicting the least recently used until the total fits; ignored when an
  // Erase() ran since `epoch` was read.
  void Put(int64_t id, std::shared_ptr<const chunkenc::GroupView> view, uint64_t epoch);
  void Erase(std::span<const int64_t> ids);
  uint64_t epoch() const;

  size_t bytes() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  using Entry = std::pair<int64_t, std::shared_ptr<const chunkenc::GroupView>>;
  void EraseLocked(std::unordered_map<int64_t, std::list<Entry>::iterator>::iterator it);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<int64_t, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  uint64_t epoch_ = 0;
};

}  // namespace collector::tsdb
