#include "collector/tsdb/block_cache.h"

namespace collector::tsdb {

std::shared_ptr<const chunkenc::GroupView> BlockCache::Get(int64_t id, uint64_t epoch) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(id);
  if (it == index_.end() || epoch != epoch_) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void BlockCache::Put(int64_t id, std::shared_ptr<const chunkenc::GroupView> view, uint64_t epoch) {
  if (!view) return;
  size_t size = view->MemoryBytes();
  std::lock_guard<std::mutex> l(mu_);
  if (epoch != epoch_) return;
  if (auto it = index_.find(id); it != index_.end()) EraseLocked(it);
  if (size > capacity_) return;
  while (bytes_ + size > capacity_ && !lru_.empty()) EraseLocked(index_.find(lru_.back().first));
  lru_.emplace_front(id, std::move(view));
  index_[id] = lru_.begin();
  bytes_ += size;
}

void BlockCache::Erase(std::span<const int64_t> ids) {
  std::lock_guard<std::mutex> l(mu_);
  ++epoch_;
  for (int64_t id : ids) {
    if (auto it = index_.find(id); it != index_.end()) EraseLocked(it);
  }
}

uint64_t BlockCache::epoch() const {
  std::lock_guard<std::mutex> l(mu_);
  return epoch_;
}

void BlockCache::EraseLocked(std::unordered_map<int64_t, std::list<Entry>::iterator>::iterator it) {
  bytes_ -= it->second->second->MemoryBytes();
  lru_.erase(it->second);
  index_.erase(it);
}

size_t BlockCache::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

uint64_t BlockCache::hits() const {
  std::lock_guard<std::mutex> l(mu_);
  return hits_;
}

uint64_t BlockCache::misses() const {
  std::lock_guard<std::mutex> l(mu_);
  return misses_;
}

}  // namespace collector::tsdb
