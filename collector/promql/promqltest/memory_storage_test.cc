#include "collector/promql/promqltest/memory_storage.h"

#include <gtest/gtest.h>

#include <cmath>

namespace collector::promql::promqltest {
namespace {

using model::Labels;

TEST(MemoryStorage, RejectsOutOfOrderAndDuplicates) {
  MemoryStorage s;
  Labels a{{"__name__", "a"}};
  ASSERT_TRUE(s.Add(a, 10, 1).ok());
  ASSERT_TRUE(s.Add(a, 20, 2).ok());
  EXPECT_TRUE(storage::IsOutOfOrder(s.Add(a, 15, 1)));
  EXPECT_TRUE(storage::IsDuplicateSample(s.Add(a, 20, 3)));
  EXPECT_TRUE(s.Add(a, 20, 2).ok());  // same value again: ignored
  EXPECT_TRUE(storage::IsDuplicateSample(s.Add(a, 20, storage::StaleNaN())));
  ASSERT_TRUE(s.Add(a, 30, storage::StaleNaN()).ok());
  EXPECT_TRUE(s.Add(a, 30, storage::StaleNaN()).ok());
  EXPECT_EQ(s.series().at(a).size(), 3u);
}

TEST(MemoryStorage, SelectSeekAndLabels) {
  MemoryStorage s;
  Labels a{{"__name__", "m"}, {"job", "a"}};
  Labels b{{"__name__", "m"}, {"job", "b"}};
  Labels c{{"__name__", "other"}};
  for (int64_t t = 0; t <= 100; t += 10) {
    ASSERT_TRUE(s.Add(b, t, static_cast<double>(t)).ok());
    ASSERT_TRUE(s.Add(a, t, -static_cast<double>(t)).ok());
  }
  ASSERT_TRUE(s.Add(c, 500, 1).ok());
  auto q = s.NewQuerier(0, 1000);
  ASSERT_TRUE(q.ok());
  auto m = storage::Matcher::Make(storage::Matcher::Type::kEqual, "__name__", "m");
  ASSERT_TRUE(m.ok());
  std::vector<storage::Matcher> ms{*m};
  auto set = (*q)->Select(true, 25, 55, ms);
  std::vector<Labels> seen;
  while (set->Next()) {
    seen.push_back(set->At().labels());
    auto it = set->At().Iterator();
    std::vector<int64_t> ts;
    while (it->Next()) ts.push_back(it->t());
    EXPECT_EQ(ts, (std::vector<int64_t>{30, 40, 50}));
    auto it2 = set->At().Iterator();
    ASSERT_TRUE(it2->Seek(41));
    EXPECT_EQ(it2->t(), 50);
    EXPECT_TRUE(it2->Seek(0));  // never moves back
    EXPECT_EQ(it2->t(), 50);
    EXPECT_FALSE(it2->Seek(51));
  }
  EXPECT_TRUE(set->status().ok());
  EXPECT_EQ(seen, (std::vector<Labels>{a, b}));  // sorted

  // No sample in range: the series is not returned.
  auto none = (*q)->Select(true, 200, 300, ms);
  EXPECT_FALSE(none->Next());

  auto names = (*q)->LabelNames({});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "job"}));
  auto vals = (*q)->LabelValues("job", {});
  ASSERT_TRUE(vals.ok());
  EXPECT_EQ(*vals, (std::vector<std::string>{"a", "b"}));
  s.Clear();
  EXPECT_EQ(s.NumSeries(), 0u);
}

TEST(MemoryStorage, StartTimestampsAndHistogramMarks) {
  MemoryStorage s;
  Labels a{{"__name__", "a"}};
  ASSERT_TRUE(s.Add(a, 10, 1, 5).ok());
  ASSERT_TRUE(s.Add(a, 20, 2).ok());
  s.MarkHistogram(a, 30);
  auto q = s.NewQuerier(0, 100);
  ASSERT_TRUE(q.ok());
  auto set = (*q)->Select(true, 0, 100, {});
  ASSERT_TRUE(set->Next());
  auto it = set->At().Iterator();
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->st(), 5);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->st(), 0);
  // The default TakeSamples keeps start timestamps in parallel, from the first sample on.
  auto set2 = (*q)->Select(true, 0, 100, {});
  ASSERT_TRUE(set2->Next());
  std::vector<storage::Sample> pts;
  std::vector<int64_t> st;
  ASSERT_TRUE(set2->TakeSamples(pts, st).ok());
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[1].t, 20);
  EXPECT_EQ(pts[1].v, 2);
  EXPECT_EQ(st, (std::vector<int64_t>{5, 0}));
  ASSERT_EQ(s.histogram_series().size(), 1u);
  EXPECT_EQ(s.histogram_series().at(a).count(30), 1u);
  s.Clear();
  EXPECT_TRUE(s.histogram_series().empty());
}

}  // namespace
}  // namespace collector::promql::promqltest
