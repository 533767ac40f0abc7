#include "collector/tsdb/db.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "collector/tsdb/chunkenc/block.h"
#include "common/sqlite/db.h"

namespace collector::tsdb {
namespace {

namespace fs = std::filesystem;
using storage::Labels;
using storage::Matcher;

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

class DBTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tsdb-test-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    db_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }
  void Open(Options o = {}) {
    db_.reset();
    o.dir = dir_;
    o.background = false;
    auto r = DB::Open(o, common::log::Logger("test"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r).value();
  }
  // All samples of series matching name=value, keyed by the label string.
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> QueryAll(
      int64_t mint = INT64_MIN / 2, int64_t maxt = INT64_MAX / 2) {
    std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> out;
    auto q = db_->NewQuerier(mint, maxt);
    EXPECT_TRUE(q.ok());
    auto m = Matcher::Make(Matcher::Type::kRegex, "__name__", ".+");
    std::vector<Matcher> ms = {*m};
    auto set = (*q)->Select(true, mint, maxt, ms);
    while (set->Next()) {
      auto& v = out[set->At().labels().ToString()];
      auto it = set->At().Iterator();
      while (it->Next()) v.push_back({it->t(), Bits(it->v())});
      EXPECT_TRUE(it->status().ok());
    }
    EXPECT_TRUE(set->status().ok()) << set->status().ToString();
    return out;
  }

  std::string dir_;
  std::unique_ptr<DB> db_;
};

TEST_F(DBTest, RandomBatchesAgainstReferenceModel) {
  Open();
  std::mt19937_64 rng(1234);
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> model;
  std::map<std::string, Labels> labels;
  for (int i = 0; i < 40; ++i) {
    Labels l{{"__name__", "m" + std::to_string(i % 5)}, {"i", std::to_string(i)}, {"job", "j"}};
    labels[l.ToString()] = l;
  }
  std::map<std::string, int64_t> last_t;
  int rejected = 0;
  for (int round = 0; round < 30; ++round) {
    auto app = db_->NewAppender();
    std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> batch;
    std::map<std::string, int64_t> batch_last = last_t;
    int n = static_cast<int>(rng() % 400);
    for (int k = 0; k < n; ++k) {
      auto it = labels.begin();
      std::advance(it, static_cast<long>(rng() % labels.size()));
      const std::string& key = it->first;
      int64_t prev = batch_last.count(key) ? batch_last[key] : 0;
      int64_t t = prev + static_cast<int64_t>(rng() % 30000) - 2000;  // sometimes out of order
      double v = (rng() % 10 == 0) ? storage::StaleNaN() : static_cast<double>(rng() % 1000) / 7;
      auto r = app->Append(0, it->second, t, v);
      if (!r.ok()) ++rejected;
      bool accept = !batch_last.count(key) || t > batch_last[key];
      if (batch_last.count(key) && t == batch_last[key]) accept = false;
      if (accept) {
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        batch[key].push_back({t, Bits(v)});
        batch_last[key] = t;
      } else if (r.ok()) {
        // only exact duplicates are accepted silently
        EXPECT_EQ(t, batch_last[key]);
      }
    }
    bool commit = rng() % 5 != 0;
    if (commit) {
      ASSERT_TRUE(app->Commit().ok());
      for (auto& [k, v] : batch) model[k].insert(model[k].end(), v.begin(), v.end());
      last_t = batch_last;
    } else {
      app->Rollback();
    }
    if (round % 7 == 3) {
      ASSERT_TRUE(db_->Persist().ok());
    }
    if (round % 11 == 5) {
      ASSERT_TRUE(db_->Checkpoint().ok());
    }
    if (round % 10 == 9) Open();  // restart: replay SQLite + checkpoint + WAL
    auto got = QueryAll();
    for (auto& [k, v] : model) {
      ASSERT_EQ(got[k].size(), v.size()) << k << " round " << round;
      EXPECT_EQ(got[k], v) << k << " round " << round;
    }
  }
  EXPECT_GT(rejected, 0) << "the generator should produce out-of-order samples";
  // Range queries cut at the bounds.
  auto all = QueryAll();
  auto some = QueryAll(100000, 200000);
  for (auto& [k, v] : all) {
    size_t want = 0;
    for (auto& [t, b] : v) want += (t >= 100000 && t <= 200000);
    EXPECT_EQ(some[k].size(), want) << k;
  }
}

TEST_F(DBTest, MatchersAndLabelQueries) {
  Open();
  auto app = db_->NewAppender();
  ASSERT_TRUE(app->Append(0, Labels{{"__name__", "up"}, {"job", "node"}, {"instance", "a"}}, 1000, 1).ok());
  ASSERT_TRUE(app->Append(0, Labels{{"__name__", "up"}, {"job", "prom"}, {"instance", "b"}}, 1000, 0).ok());
  ASSERT_TRUE(app->Append(0, Labels{{"__name__", "other"}, {"job", "node"}}, 1000, 5).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto q = db_->NewQuerier(0, 2000);
  auto count = [&](std::vector<Matcher> ms) {
    auto set = (*q)->Select(false, 0, 2000, ms);
    int n = 0;
    while (set->Next()) ++n;
    return n;
  };
  auto M = [](Matcher::Type t, const char* n, const char* v) { return *Matcher::Make(t, n, v); };
  EXPECT_EQ(count({M(Matcher::Type::kEqual, "__name__", "up")}), 2);
  EXPECT_EQ(count({M(Matcher::Type::kEqual, "__name__", "up"), M(Matcher::Type::kNotEqual, "job", "node")}), 1);
  EXPECT_EQ(count({M(Matcher::Type::kRegex, "job", "no.*")}), 2);
  EXPECT_EQ(count({M(Matcher::Type::kRegex, "job", "no")}), 0);  // fully anchored
  EXPECT_EQ(count({M(Matcher::Type::kNotRegex, "job", "node"), M(Matcher::Type::kRegex, "__name__", ".+")}), 1);
  // A matcher on an absent label matches the empty value.
  EXPECT_EQ(count({M(Matcher::Type::kEqual, "instance", ""), M(Matcher::Type::kRegex, "__name__", ".+")}), 1);
  auto names = (*q)->LabelNames({});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "instance", "job"}));
  std::vector<Matcher> up = {M(Matcher::Type::kEqual, "__name__", "up")};
  auto vals = (*q)->LabelValues("job", up);
  EXPECT_EQ(*vals, (std::vector<std::string>{"node", "prom"}));
}

TEST_F(DBTest, TornAndCorruptWalTailsAreCutAtTheLastGoodRecord) {
  Options o;
  o.wal_segment_bytes = 4096;  // several segments
  o.checkpoint_on_close = false;
  Open(o);
  Labels l{{"__name__", "x"}};
  for (int i = 1; i <= 400; ++i) {
    auto app = db_->NewAppender();
    ASSERT_TRUE(app->Append(0, l, i * 1000, i).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  db_.reset();
  // Find the last non-empty segment and tear its last record.
  std::vector<fs::path> segs;
  for (auto& e : fs::directory_iterator(dir_ + "/wal")) segs.push_back(e.path());
  std::sort(segs.begin(), segs.end());
  fs::path last;
  for (auto& p : segs) {
    if (fs::file_size(p) > 0 && p.filename().string().size() == 8) last = p;
  }
  ASSERT_FALSE(last.empty());
  fs::resize_file(last, fs::file_size(last) - 3);
  Open(o);
  auto got = QueryAll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second.size(), 399u);  // only the torn record is lost
  EXPECT_EQ(got.begin()->second.back().first, 399000);
  // Corrupt a byte in the middle of the (now) last segment with data: replay stops there.
  db_.reset();
  segs.clear();
  for (auto& e : fs::directory_iterator(dir_ + "/wal")) segs.push_back(e.path());
  std::sort(segs.begin(), segs.end());
  for (auto& p : segs) {
    if (fs::file_size(p) > 100 && p.filename().string().size() == 8) last = p;
  }
  {
    std::fstream f(last, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<long>(fs::file_size(last) / 2));
    f.put('\x7f');
  }
  Open(o);
  auto after = QueryAll();
  ASSERT_EQ(after.size(), 1u);
  size_t n = after.begin()->second.size();
  EXPECT_LT(n, 399u);
  EXPECT_GT(n, 300u);
  // Samples are a gap-free prefix: nothing after the corruption point survived out of order.
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(after.begin()->second[i].first, static_cast<int64_t>(i + 1) * 1000);
  // And the store keeps working.
  auto app = db_->NewAppender();
  ASSERT_TRUE(app->Append(0, l, 10'000'000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
}

TEST_F(DBTest, RetentionRemovesOldDataAndDiskUsageFalls) {
  Options o;
  o.retention_ms = 24 * 3600 * 1000;  // 1 day
  Open(o);
  const int64_t now = 1'800'000'000'000;
  for (int s = 0; s < 200; ++s) {
    Labels l{{"__name__", "m"}, {"s", std::to_string(s)}};
    auto app = db_->NewAppender();
    // 10 days of data at 1 minute resolution, random values so chunks are not tiny.
    std::mt19937_64 rng(static_cast<uint64_t>(s));
    for (int64_t t = now - 10ll * 86400000; t <= now; t += 60000) {
      ASSERT_TRUE(app->Append(0, l, t, static_cast<double>(rng() % 100000) / 3).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE(db_->Checkpoint().ok());
  uint64_t before = db_->DbBytes();
  ASSERT_TRUE(db_->ApplyRetention(now).ok());
  uint64_t after = db_->DbBytes();
  EXPECT_LT(after, before / 3) << "before " << before << " after " << after;
  auto got = QueryAll();
  ASSERT_EQ(got.size(), 200u);
  for (auto& [k, v] : got) {
    ASSERT_FALSE(v.empty());
    // Everything left is at most one chunk (120 min) older than the cutoff.
    EXPECT_GE(v.front().first, now - 86400000 - 121 * 60000) << k;
    EXPECT_EQ(v.back().first, now);
  }
  EXPECT_GT(db_->stats().retention_deleted_chunks.load(), 0u);
  // Size-based retention.
  o.retention_ms = 365ll * 86400000;
  o.retention_bytes = after / 2;
  Open(o);
  ASSERT_TRUE(db_->ApplyRetention(now).ok());
  EXPECT_LE(db_->DbBytes() + db_->WalBytes(), after / 2 + 200000);
}

TEST_F(DBTest, ResentBatchesAreIdempotentButRealOutOfOrderIsRejected) {
  Open();
  Labels l{{"__name__", "r"}};
  auto app = db_->NewAppender();
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(app->Append(0, l, i * 1000, i).ok());
  ASSERT_TRUE(app->Commit().ok());
  // The same batch again (a sender retrying after a lost answer): accepted, nothing added.
  app = db_->NewAppender();
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(app->Append(0, l, i * 1000, i).ok());
  ASSERT_TRUE(app->Commit().ok());
  // An older timestamp with another value, or one we never had: out of order.
  app = db_->NewAppender();
  EXPECT_TRUE(storage::IsOutOfOrder(app->Append(0, l, 2000, 99).status()));
  EXPECT_TRUE(storage::IsOutOfOrder(app->Append(0, l, 2500, 2).status()));
  EXPECT_TRUE(storage::IsDuplicateSample(app->Append(0, l, 5000, 7).status()));
  app->Rollback();
  auto got = QueryAll();
  ASSERT_EQ(got.begin()->second.size(), 5u);
  EXPECT_EQ(db_->stats().out_of_order.load(), 2u);
  EXPECT_EQ(db_->stats().duplicates.load(), 1u);
}

TEST_F(DBTest, ClosedChunksArePersistedTogetherAsOneBlockRow) {
  Options o;
  o.persist_min_chunks = 4;
  o.persist_max_age_ms = 3600 * 1000;
  Open(o);
  Labels a{{"__name__", "a"}}, b{{"__name__", "b"}};
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> want;
  auto add = [&](const Labels& l, int from, int to) {
    auto app = db_->NewAppender();
    for (int i = from; i < to; ++i) {
      double v = i % 50 == 7 ? storage::StaleNaN() : static_cast<double>(i) / 10;
      ASSERT_TRUE(app->Append(0, l, int64_t{15000} * i, v).ok());
      want[l.ToString()].push_back({int64_t{15000} * i, Bits(v)});
    }
    ASSERT_TRUE(app->Commit().ok());
  };
  add(a, 0, 3 * 120 + 10);  // 3 closed chunks: not due
  add(b, 0, 5 * 120 + 10);  // 5 closed chunks reaching past the first 2 h window: due
  ASSERT_TRUE(db_->Persist(false).ok());
  EXPECT_EQ(db_->stats().chunks_persisted.load(), 4u);
  auto r = InspectDir(dir_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chunks, 1u);  // one row: b's complete window [0, 2h) = 480 samples at 15 s
  EXPECT_EQ(r->samples, 480u);
  EXPECT_EQ(r->series, 2u);  // the series table knows a already
  EXPECT_EQ(QueryAll(), want);
  // Range queries inside a block.
  auto part = QueryAll(15000 * 100, 15000 * 130);
  EXPECT_EQ(part["{__name__=\"b\"}"].size(), 31u);
  EXPECT_EQ(part["{__name__=\"a\"}"].size(), 31u);
  // Restart: a's closed chunks come back from the WAL.
  Open(o);
  EXPECT_EQ(QueryAll(), want);
  add(a, 3 * 120 + 10, 5 * 120 + 20);
  ASSERT_TRUE(db_->Persist(false).ok());
  r = InspectDir(dir_);
  ASSERT_TRUE(r.ok());
  // The restart's shutdown persisted every closed chunk: a's 0..359 and b's 480..599. a's new
  // closed chunks (2) are not due yet.
  EXPECT_EQ(r->chunks, 3u);
  EXPECT_EQ(r->samples, 960u);
  db_.reset();  // shutdown persists a's 360..599: one row per 2 h window
  r = InspectDir(dir_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->chunks, 5u);
  EXPECT_EQ(r->samples, 1200u);
  Open(o);
  EXPECT_EQ(QueryAll(), want);
  // Every row is a group block; window 0 holds both series; nothing goes to the old chunks
  // table; the postings table is no longer written.
  auto sq = common::sqlite::Db::Open(dir_ + "/lookout.db", true);
  ASSERT_TRUE(sq.ok());
  auto st = (*sq)->Prepare("SELECT data FROM blocks");
  ASSERT_TRUE(st.ok());
  size_t members = 0;
  while (st->Step()) {
    EXPECT_EQ(chunkenc::BlockFormat(st->ColumnBlob(0)), chunkenc::kFormatGroup);
    chunkenc::GroupView view;
    ASSERT_TRUE(view.Parse(st->ColumnBlob(0)).ok());
    members += view.size();
  }
  EXPECT_EQ(members, 5u);  // a: windows 0 (twice: 0..359, 360..479) and 1; b: windows 0 and 1
  auto old_rows = (*sq)->Prepare("SELECT COUNT(*) FROM chunks");
  ASSERT_TRUE(old_rows.ok());
  ASSERT_TRUE(old_rows->Step());
  EXPECT_EQ(old_rows->ColumnInt(0), 0);
  auto pc = (*sq)->Prepare("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'postings'");
  ASSERT_TRUE(pc.ok());
  ASSERT_TRUE(pc->Step());
  EXPECT_EQ(pc->ColumnInt(0), 0);
}

TEST_F(DBTest, OldRowsWithPlainXorChunksStillRead) {
  Open();
  Labels l{{"__name__", "old"}};
  std::vector<std::pair<int64_t, uint64_t>> want;
  {
    auto app = db_->NewAppender();
    for (int i = 1000; i < 1300; ++i) {
      ASSERT_TRUE(app->Append(0, l, i, i * 0.5).ok());
      want.push_back({i, Bits(i * 0.5)});
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE(db_->Persist().ok());
  db_.reset();
  // A file written before blocks: rows of single XOR chunks (and postings rows).
  {
    auto sq = common::sqlite::Db::Open(dir_ + "/lookout.db");
    ASSERT_TRUE(sq.ok());
    auto id = (*sq)->Prepare("SELECT series_id FROM block_series");
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(id->Step());
    int64_t ref = id->ColumnInt(0);
    auto ins = (*sq)->Prepare("INSERT INTO chunks(series_id, min_time, max_time, data) VALUES(?1, ?2, ?3, ?4)");
    ASSERT_TRUE(ins.ok());
    std::vector<std::pair<int64_t, uint64_t>> old;
    for (int c = 0; c < 3; ++c) {
      chunkenc::XorAppender x;
      for (int i = 0; i < 120; ++i) {
        int64_t t = c * 120 + i;
        x.Append(t, static_cast<double>(t));
        old.push_back({t, Bits(static_cast<double>(t))});
      }
      ASSERT_TRUE(ins->Bind(1, ref).Bind(2, x.MinTime()).Bind(3, x.MaxTime()).BindBlob(4, x.Bytes()).Exec().ok());
      ins->Reset();
    }
    ASSERT_TRUE((*sq)->Exec("CREATE TABLE postings(name TEXT NOT NULL, value TEXT NOT NULL,"
                            " series_id INTEGER NOT NULL, PRIMARY KEY(name, value, series_id))"
                            " WITHOUT ROWID").ok());
    ASSERT_TRUE((*sq)->Exec("INSERT INTO postings VALUES('__name__', 'old', " + std::to_string(ref) + ")").ok());
    want.insert(want.begin(), old.begin(), old.end());
  }
  Open();
  EXPECT_EQ(QueryAll()["{__name__=\"old\"}"], want);
  auto r = InspectDir(dir_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->samples, 600u);  // the open head chunk (60) is in the WAL
  EXPECT_EQ(r->chunks, 4u);
}

TEST_F(DBTest, BackupIsAConsistentCopy) {
  Open();
  Labels l{{"__name__", "b"}};
  auto app = db_->NewAppender();
  for (int i = 1; i <= 500; ++i) ASSERT_TRUE(app->Append(0, l, i, i).ok());
  ASSERT_TRUE(app->Commit().ok());
  std::string dest = dir_ + "-backup";
  fs::remove_all(dest);
  ASSERT_TRUE(db_->Backup(dest).ok());
  auto original = QueryAll();
  std::string saved = dir_;
  db_.reset();
  dir_ = dest;
  Open();
  EXPECT_EQ(QueryAll(), original);
  db_.reset();
  fs::remove_all(dest);
  dir_ = saved;
}

}  // namespace
TEST_F(DBTest, CleanCloseCheckpointsSoTheWalShrinks) {
  Open();
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> want;
  for (int i = 0; i < 1000; ++i) {
    auto app = db_->NewAppender();
    for (int k = 0; k < 10; ++k) {
      Labels l{{"__name__", "m"}, {"k", std::to_string(k)}};
      double v = i * 0.25 + k;
      ASSERT_TRUE(app->Append(0, l, int64_t{15000} * i, v).ok());
      want[l.ToString()].push_back({int64_t{15000} * i, Bits(v)});
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  auto wal_bytes = [&] {
    uint64_t n = 0;
    for (auto& e : fs::directory_iterator(dir_ + "/wal")) n += fs::file_size(e.path());
    return n;
  };
  uint64_t before = wal_bytes();
  db_.reset();
  uint64_t after = wal_bytes();
  // Left: the checkpoint of the open chunks (at most 120 samples of each series).
  EXPECT_LT(after * 4, before) << before << " -> " << after;
  Open();
  EXPECT_EQ(QueryAll(), want);
  auto r = InspectDir(dir_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->series, 10u);
}

TEST_F(DBTest, SelectMergesPersistedRowsAndHeadForAnyRange) {
  // Enough series that a Select reads SQLite on several threads; 7 h of 15 s samples, so rows of
  // three complete 2 h windows are persisted and the rest stays in the head.
  constexpr int kSeries = 300;
  constexpr int64_t kStep = 15000;
  constexpr int kSteps = 7 * 240;
  Open();
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> model;
  {
    std::vector<storage::SeriesRef> refs(kSeries, 0);
    for (int i = 0; i < kSteps; ++i) {
      auto app = db_->NewAppender();
      for (int s = 0; s < kSeries; ++s) {
        Labels l{{"__name__", "m"}, {"i", std::to_string(s)}};
        double v = i % 97 == 5 && s % 7 == 0 ? storage::StaleNaN() : s * 1000.0 + i * 0.25;
        auto r = app->Append(refs[s], refs[s] ? Labels{} : l, i * kStep, v);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        refs[s] = *r;
        model[l.ToString()].push_back({i * kStep, Bits(v)});
      }
      ASSERT_TRUE(app->Commit().ok());
    }
  }
  ASSERT_TRUE(db_->Persist(false).ok());
  EXPECT_EQ(db_->stats().chunks_persisted.load(), uint64_t{kSeries} * 12);  // 3 windows x 4
  // Reopened: which series have persisted rows, and until when, comes from SQLite.
  Open();
  auto check = [&](int64_t mint, int64_t maxt) {
    SCOPED_TRACE("range [" + std::to_string(mint) + ", " + std::to_string(maxt) + "]");
    auto got = QueryAll(mint, maxt);
    // The same samples through TakeSamples.
    std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> taken;
    auto q = db_->NewQuerier(mint, maxt);
    ASSERT_TRUE(q.ok());
    std::vector<Matcher> ms = {*Matcher::Make(Matcher::Type::kEqual, "__name__", "m")};
    auto set = (*q)->Select(true, mint, maxt, ms);
    std::vector<storage::Sample> buf;
    std::vector<int64_t> st;
    while (set->Next()) {
      ASSERT_TRUE(set->TakeSamples(buf, st).ok());
      EXPECT_TRUE(st.empty());
      auto& v = taken[set->At().labels().ToString()];
      for (const auto& p : buf) v.push_back({p.t, Bits(p.v)});
    }
    ASSERT_TRUE(set->status().ok());
    size_t want_series = 0;
    for (const auto& [k, all] : model) {
      std::vector<std::pair<int64_t, uint64_t>> want;
      for (const auto& p : all) {
        if (p.first >= mint && p.first <= maxt) want.push_back(p);
      }
      if (want.empty()) continue;
      ++want_series;
      ASSERT_EQ(got[k], want) << k;
      ASSERT_EQ(taken[k], want) << k;
    }
    EXPECT_EQ(got.size(), want_series);
    EXPECT_EQ(taken.size(), want_series);
  };
  int64_t last = (kSteps - 1) * kStep;
  check(INT64_MIN / 2, INT64_MAX / 2);                     // everything
  check(3'600'000 + 7'000, 5 * 3'600'000 - 1);             // across persisted windows, unaligned
  check(6 * 3'600'000 + 1, last);                          // the head only
  check(last - 300'000, last);                             // an instant query's lookback
  check(2 * 3'600'000 - 15'000, 2 * 3'600'000 + 15'000);  // around a window boundary
  check(last + 1, last + 100'000);                         // nothing
  // Seek within persisted samples and on into the head.
  auto q = db_->NewQuerier(0, last);
  ASSERT_TRUE(q.ok());
  std::vector<Matcher> ms = {*Matcher::Make(Matcher::Type::kEqual, "i", "3")};
  auto set = (*q)->Select(true, 0, last, ms);
  ASSERT_TRUE(set->Next());
  auto it = set->At().Iterator();
  ASSERT_TRUE(it->Seek(3 * 3'600'000 + 1));
  EXPECT_EQ(it->t(), 3 * 3'600'000 + kStep);
  ASSERT_TRUE(it->Seek(last - 1));
  EXPECT_EQ(it->t(), last);
  EXPECT_FALSE(it->Next());
  EXPECT_FALSE(set->Next());
}

TEST_F(DBTest, SelectLatestGivesTheNewestSampleOrTheWindow) {
  Open();
  Labels l{{"__name__", "m"}};
  for (int i = 0; i < 300; ++i) {  // several head chunks; the last value is a stale marker
    auto app = db_->NewAppender();
    double v = i == 299 ? storage::StaleNaN() : i * 1.5;
    ASSERT_TRUE(app->Append(0, l, i * 15000, v).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  std::vector<Matcher> ms = {*Matcher::Make(Matcher::Type::kEqual, "__name__", "m")};
  auto q = db_->NewQuerier(0, 10'000'000);
  ASSERT_TRUE(q.ok());
  auto take = [&](std::unique_ptr<storage::SeriesSet> set) {
    std::vector<storage::Sample> out;
    std::vector<int64_t> st;
    EXPECT_TRUE(set->Next());
    EXPECT_TRUE(set->TakeSamples(out, st).ok());
    EXPECT_FALSE(set->Next());
    return out;
  };
  // The newest sample is in the window: only it, bit for bit.
  auto a = take((*q)->SelectLatest(299 * 15000 - 299'999, 299 * 15000, ms));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].t, 299 * 15000);
  EXPECT_TRUE(storage::IsStaleNaN(a[0].v));
  // An older evaluation time: the window's samples, as Select gives them.
  auto b = take((*q)->SelectLatest(100 * 15000 - 299'999, 100 * 15000, ms));
  ASSERT_EQ(b.size(), 20u);
  EXPECT_EQ(b.back().t, 100 * 15000);
  EXPECT_EQ(b.back().v, 150.0);
  // After a restart with everything persisted, the head is empty: read from SQLite.
  q->reset();
  ASSERT_TRUE(db_->Persist().ok());
  Open();
  auto q2 = db_->NewQuerier(0, 10'000'000);
  ASSERT_TRUE(q2.ok());
  auto c = take((*q2)->SelectLatest(299 * 15000 - 299'999, 299 * 15000, ms));
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.back().t, 299 * 15000);
  EXPECT_TRUE(storage::IsStaleNaN(c.back().v));
}

TEST_F(DBTest, BlockCacheNeverServesADeletedBlockUnderAReusedRowId) {
  Options o;
  o.retention_ms = 3600 * 1000;
  Open(o);
  constexpr int64_t kH = 3600 * 1000;
  auto fill = [&](const std::string& name, int64_t from, int64_t to,
                  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>>& model) {
    for (int s = 0; s < 10; ++s) {
      Labels l{{"__name__", name}, {"s", std::to_string(s)}};
      auto app = db_->NewAppender();
      for (int64_t t = from; t < to; t += 15000) {
        double v = static_cast<double>(s * 1000) + static_cast<double>(t / 15000);
        ASSERT_TRUE(app->Append(0, l, t, v).ok());
        model[l.ToString()].push_back({t, Bits(v)});
      }
      ASSERT_TRUE(app->Commit().ok());
    }
  };
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> a, b;
  fill("a", 0, 6 * kH, a);
  ASSERT_TRUE(db_->Persist(false).ok());
  QueryAll(0, 6 * kH);  // the blocks of "a" are now cached
  QueryAll(0, 6 * kH);
  EXPECT_GT(db_->BlockCacheHits(), 0u);
  // Every block of "a" goes, so SQLite hands the same row ids to the blocks of "b".
  ASSERT_TRUE(db_->ApplyRetention(8 * kH).ok());
  fill("b", 10 * kH, 16 * kH, b);
  ASSERT_TRUE(db_->Persist(false).ok());
  auto got = QueryAll(10 * kH, 16 * kH);
  for (const auto& [k, want] : b) EXPECT_EQ(got[k], want) << k;
  // "a" keeps only what its head still holds (its last, incomplete window).
  auto old = QueryAll(0, 4 * kH - 1);
  for (const auto& [k, v] : old) EXPECT_EQ(k.find("\"a\""), std::string::npos) << k;
}

TEST_F(DBTest, QueriesRunWhileAppendsPersistAndRetentionDo) {
  // Queries large enough to read on several threads, while another thread appends and the
  // background work persists and applies retention. Every answer is in time order, without
  // duplicates, and ends no later than what was committed when the query began.
  Options o;
  o.retention_ms = 6 * 3600 * 1000;
  Open(o);
  constexpr int kSeries = 600;
  std::atomic<int64_t> committed{-1};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<storage::SeriesRef> refs(kSeries, 0);
    for (int64_t i = 0; i < 2000 && !stop; ++i) {
      auto app = db_->NewAppender();
      for (int s = 0; s < kSeries; ++s) {
        Labels l{{"__name__", "m"}, {"s", std::to_string(s)}};
        auto r = app->Append(refs[s], refs[s] ? Labels{} : l, i * 15000, static_cast<double>(i));
        if (r.ok()) refs[s] = *r;
      }
      ASSERT_TRUE(app->Commit().ok());
      committed = i * 15000;
      if (i % 300 == 299) {
        ASSERT_TRUE(db_->Persist(false).ok());
        ASSERT_TRUE(db_->ApplyRetention(i * 15000).ok());
      }
    }
  });
  std::vector<Matcher> ms = {*Matcher::Make(Matcher::Type::kEqual, "__name__", "m")};
  int queries = 0;
  while (committed < 1999 * 15000) {
    int64_t upto = committed;
    if (upto < 0) continue;
    auto q = db_->NewQuerier(0, upto);
    ASSERT_TRUE(q.ok());
    auto set = (*q)->Select(false, std::max<int64_t>(0, upto - 3 * 3600 * 1000), upto, ms);
    std::vector<storage::Sample> pts;
    std::vector<int64_t> st;
    size_t n = 0;
    while (set->Next()) {
      ASSERT_TRUE(set->TakeSamples(pts, st).ok());
      for (size_t k = 1; k < pts.size(); ++k) ASSERT_LT(pts[k - 1].t, pts[k].t);
      if (!pts.empty()) {
        EXPECT_LE(pts.back().t, upto);
      }
      ++n;
    }
    ASSERT_TRUE(set->status().ok()) << set->status().ToString();
    EXPECT_EQ(n, size_t{kSeries});
    ++queries;
  }
  stop = true;
  writer.join();
  EXPECT_GT(queries, 0);
}

}  // namespace collector::tsdb
