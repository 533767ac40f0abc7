#include "collector/tsdb/block_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace collector::tsdb {
namespace {

// A parsed group block of `n` series x 100 samples.
std::shared_ptr<const chunkenc::GroupView> View(int n) {
  std::vector<std::vector<chunkenc::Sample>> samples(static_cast<size_t>(n));
  std::vector<chunkenc::GroupMember> members;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 100; ++j) samples[i].push_back({j * 15000, i + j * 0.5});
    members.push_back(chunkenc::GroupMember{static_cast<uint64_t>(i + 1), samples[i]});
  }
  auto v = std::make_shared<chunkenc::GroupView>();
  EXPECT_TRUE(v->Parse(chunkenc::EncodeGroup(members)).ok());
  return v;
}

TEST(BlockCache, EvictsLeastRecentlyUsedWithinCapacity) {
  auto v = View(4);
  size_t one = v->MemoryBytes();
  BlockCache c(3 * one);
  for (int64_t id = 1; id <= 3; ++id) c.Put(id, View(4), c.epoch());
  EXPECT_EQ(c.bytes(), 3 * one);
  ASSERT_NE(c.Get(1, c.epoch()), nullptr);  // 1 is now the most recent; 2 the least
  c.Put(4, View(4), c.epoch());
  EXPECT_EQ(c.Get(2, c.epoch()), nullptr);
  EXPECT_NE(c.Get(1, c.epoch()), nullptr);
  EXPECT_NE(c.Get(3, c.epoch()), nullptr);
  EXPECT_NE(c.Get(4, c.epoch()), nullptr);
  EXPECT_LE(c.bytes(), 3 * one);
  EXPECT_EQ(c.hits(), 4u);
  EXPECT_EQ(c.misses(), 1u);
  // A cached view decodes as the original.
  std::vector<chunkenc::Sample> out;
  auto found = c.Get(4, c.epoch())->Decode(2, out);
  ASSERT_TRUE(found.ok() && *found);
  ASSERT_EQ(out.size(), 100u);
  EXPECT_EQ(out[3].v, 1 + 1.5);
  // Larger than the whole cache: not kept, nothing evicted.
  BlockCache small(one / 2);
  small.Put(1, v, small.epoch());
  EXPECT_EQ(small.Get(1, small.epoch()), nullptr);
  EXPECT_EQ(small.bytes(), 0u);
}

TEST(BlockCache, PutFromBeforeAnEraseIsDropped) {
  BlockCache c(size_t{1} << 20);
  uint64_t seen = c.epoch();  // a reader starts its transaction
  c.Put(7, View(2), seen);
  std::vector<int64_t> ids = {7};
  c.Erase(ids);  // retention deletes block 7
  EXPECT_EQ(c.Get(7, c.epoch()), nullptr);
  c.Put(7, View(2), seen);  // the reader's late Put of the old row
  EXPECT_EQ(c.Get(7, c.epoch()), nullptr);
  EXPECT_EQ(c.bytes(), 0u);
  c.Put(7, View(2), c.epoch());
  EXPECT_NE(c.Get(7, c.epoch()), nullptr);
  // A reader whose snapshot predates a delete does not get the block now cached under the id.
  uint64_t old_reader = c.epoch();
  c.Erase(ids);
  c.Put(7, View(2), c.epoch());  // id 7 reused by a new block, cached by a newer reader
  EXPECT_EQ(c.Get(7, old_reader), nullptr);
  EXPECT_NE(c.Get(7, c.epoch()), nullptr);
}

}  // namespace
}  // namespace collector::tsdb
