#include "collector/tsdb/db.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <thread>
#include <unordered_set>

#include "collector/tsdb/block_cache.h"
#include "collector/tsdb/chunkenc/block.h"
#include "collector/tsdb/chunkenc/varint.h"
#include "common/sqlite/db.h"
#include "common/zlib/deflate.h"

namespace collector::tsdb {

namespace fs = std::filesystem;
using chunkenc::XorAppender;
using chunkenc::XorIterator;
using common::sqlite::Stmt;
using storage::ChunkMeta;
using storage::Labels;
using storage::Sample;

using chunkenc::GetUvarint;
using chunkenc::GetVarint;
using chunkenc::PutUvarint;
using chunkenc::PutVarint;

namespace {

constexpr int kStripes = 64;
constexpr uint8_t kRecSeries = 1;
constexpr uint8_t kRecSamples = 2;
constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
// A persisted row holds the samples of one series in one aligned window of this span (as
// Prometheus' 2 h blocks).
constexpr int64_t kRowSpanMs = 2 * 3600 * 1000;
constexpr int kPageSize = 4096;
constexpr size_t kMaxLabelSetBytes = 1 << 20;
constexpr size_t kGroupMaxSeries = 256;
constexpr size_t kMaxViewsPerSelect = 256;
// A Select reads persisted rows on up to this many threads, each given at least
// kMinSeriesPerReadThread series.
constexpr size_t kMaxReadThreads = 4;
constexpr size_t kMinSeriesPerReadThread = 64;
constexpr size_t kMinSeriesPerHeadThread = 512;  // head chunks decode fast; threads cost ~50 us
constexpr int64_t kReaderMmapBytes = int64_t{1} << 30;
constexpr size_t kGroupMaxSamples = 64 * 1024;
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

void PutF64(std::string& out, double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((b >> (8 * i)) & 0xff);
}
bool GetF64(std::string_view& in, double& v) {
  if (in.size() < 8) return false;
  uint64_t b = 0;
  for (int i = 0; i < 8; ++i) b |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  std::memcpy(&v, &b, 8);
  in.remove_prefix(8);
  return true;
}
uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}
int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void EncodeLabels(std::string& out, const Labels& l) {
  PutUvarint(out, l.size());
  for (const auto& x : l) {
    PutUvarint(out, x.name.size());
    out += x.name;
    PutUvarint(out, x.value.size());
    out += x.value;
  }
}

bool DecodeLabels(std::string_view& in, Labels& out) {
  uint64_t n;
  if (!GetUvarint(in, n) || n > 10000) return false;
  std::vector<model::Label> ls;
  ls.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len;
    model::Label l;
    if (!GetUvarint(in, len) || len > in.size()) return false;
    l.name = std::string(in.substr(0, len));
    in.remove_prefix(len);
    if (!GetUvarint(in, len) || len > in.size()) return false;
    l.value = std::string(in.substr(0, len));
    in.remove_prefix(len);
    ls.push_back(std::move(l));
  }
  out = Labels(std::move(ls));
  return true;
}

struct DB::MemSeries {
  SeriesRef ref = 0;
  Labels labels;
  uint64_t hash = 0;
  std::mutex mu;
  XorAppender head;
  std::vector<ChunkMeta> closed;  // cut, not yet in SQLite
  int64_t last_t = kNoTime;
  uint64_t last_bits = 0;
  bool in_db = false;  // row in the series table
  // The newest persisted sample's time (kNoTime: none). Retention may have deleted it since; a
  // Select skips SQLite for a series whose range starts after it.
  int64_t db_max_t = kNoTime;
  int64_t closed_seen_ms = 0;  // when Persist first saw `closed` non-empty (steady clock); 0 = not
  // The newest sample of this series in the uncommitted batch of appender `batch_id` (0 = none),
  // so a batch checks its own order without a per-batch map. When two appenders interleave on one
  // series the later one takes the slot; Commit() still drops anything not newer than last_t.
  uint64_t batch_id = 0;
  int64_t batch_t = kNoTime;
  uint64_t batch_bits = 0;
};

// Series of a stripe by sequence number ((ref - 1) / kStripes), readable without the stripe
// lock: a fixed directory of pages of atomic pointers. Writers (under the stripe lock) publish a
// page before the pointer in it, readers load both with acquire. Room for kRefPages *
// kRefPageSize series per stripe.
constexpr size_t kRefPageSize = 4096;
constexpr size_t kRefPages = 4096;
using RefPage = std::array<std::atomic<DB::MemSeries*>, kRefPageSize>;

struct DB::Stripe {
  std::mutex mu;
  std::unordered_map<uint64_t, std::vector<MemSeries*>> by_hash;
  std::vector<std::unique_ptr<MemSeries>> owned;  // every series of the stripe
  std::unique_ptr<std::atomic<RefPage*>[]> pages{new std::atomic<RefPage*>[kRefPages]()};
  std::vector<std::unique_ptr<RefPage>> page_owner;
  uint64_t next_seq = 0;  // refs of this stripe are seq * kStripes + stripe index + 1
};

DB::DB(Options opts, common::log::Logger log)
    : opts_(std::move(opts)), log_(std::move(log)), stripes_(new Stripe[kStripes]) {
  if (opts_.block_cache_bytes > 0) block_cache_ = std::make_unique<BlockCache>(opts_.block_cache_bytes);
}

uint64_t DB::BlockCacheHits() const { return block_cache_ ? block_cache_->hits() : 0; }
uint64_t DB::BlockCacheMisses() const { return block_cache_ ? block_cache_->misses() : 0; }
uint64_t DB::BlockCacheBytes() const { return block_cache_ ? block_cache_->bytes() : 0; }

DB::~DB() {
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  if (writer_) {
    // A clean stop persists every closed chunk and checkpoints the head, so the next start
    // replays only the open chunks (a crash replays the WAL since the last checkpoint).
    Status s = wal_ && opts_.checkpoint_on_close ? Checkpoint() : Persist();
    if (!s.ok()) log_.Warn("persist at shutdown failed", {{"err", s.ToString()}});
  }
}

Result<std::unique_ptr<DB>> DB::Open(Options opts, common::log::Logger log) {
  std::unique_ptr<DB> db(new DB(std::move(opts), std::move(log)));
  Status s = db->Init();
  if (!s.ok()) return s;
  return db;
}

Status DB::Init() {
  std::error_code ec;
  fs::create_directories(opts_.dir, ec);
  if (ec) return Status::IOError("create " + opts_.dir + ": " + ec.message());
  auto t0 = std::chrono::steady_clock::now();
  auto w = common::sqlite::Db::Open(opts_.dir + "/lookout.db");
  if (!w.ok()) return w.status();
  writer_ = std::move(w).value();
  // page_size and auto_vacuum only take effect before the first table exists. Rows of group
  // blocks are tens of KiB in overflow pages, whose last page is on average half empty: small
  // pages waste least.
  LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA page_size=" + std::to_string(kPageSize)));
  LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA auto_vacuum=INCREMENTAL"));
  LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA journal_mode=WAL"));
  LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA synchronous=NORMAL"));
  LOOKOUT_RETURN_IF_ERROR(writer_->Exec(
      // One row per series (files written before series groups; read, never written).
      "CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, lset BLOB NOT NULL);"
      // Series groups: the label sets of the series first persisted together, compressed:
      // raw DEFLATE of (uvarint ref, labels as in the WAL) * n.
      "CREATE TABLE IF NOT EXISTS series_groups(id INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
      "  data BLOB NOT NULL);"
      // Rows of one series each (files written before group blocks; read, never written).
      "CREATE TABLE IF NOT EXISTS chunks(series_id INTEGER NOT NULL, min_time INTEGER NOT NULL,"
      "  max_time INTEGER NOT NULL, data BLOB NOT NULL);"
      // Group blocks: the samples of up to kGroupMaxSeries series in one window (block.h);
      // `refs` lists the members (uvarints) so retention can drop their index rows.
      "CREATE TABLE IF NOT EXISTS blocks(id INTEGER PRIMARY KEY, window INTEGER NOT NULL,"
      "  min_time INTEGER NOT NULL, max_time INTEGER NOT NULL, refs BLOB NOT NULL,"
      "  data BLOB NOT NULL);"
      "CREATE INDEX IF NOT EXISTS blocks_max_time ON blocks(max_time);"
      // Which blocks hold a series, per window.
      "CREATE TABLE IF NOT EXISTS block_series(series_id INTEGER NOT NULL,"
      "  window INTEGER NOT NULL, block_id INTEGER NOT NULL, max_time INTEGER NOT NULL,"
      "  PRIMARY KEY(series_id, window, block_id)) WITHOUT ROWID;"));
  {
    auto integrity = writer_->Prepare("PRAGMA quick_check");
    if (!integrity.ok()) return integrity.status();
    if (integrity->Step() && integrity->ColumnText(0) != "ok") {
      return Status::Corruption(opts_.dir + "/lookout.db: " + std::string(integrity->ColumnText(0)));
    }
  }

  // Series known to SQLite, then the newest persisted time of each (replay skips older samples).
  {
    auto st = writer_->Prepare("SELECT id, lset FROM series");
    if (!st.ok()) return st.status();
    while (st->Step()) {
      std::string_view blob = st->ColumnBlob(1);
      Labels l;
      if (!DecodeLabels(blob, l)) return Status::Corruption("bad label set in series table");
      auto s = GetOrCreate(l, false, static_cast<SeriesRef>(st->ColumnInt(0)));
      if (!s.ok()) return s.status();
      (*s)->in_db = true;
    }
    LOOKOUT_RETURN_IF_ERROR(st->status());
    auto sg = writer_->Prepare("SELECT id, n, data FROM series_groups");
    if (!sg.ok()) return sg.status();
    std::string payload;
    while (sg->Step()) {
      std::string where = "series group " + std::to_string(sg->ColumnInt(0));
      int64_t n = sg->ColumnInt(1);
      if (n < 0 || n > (int64_t{1} << 24)) return Status::Corruption(where + ": bad count");
      // At most kMaxLabelSetBytes per series plus its ref.
      LOOKOUT_RETURN_IF_ERROR(common::zlib::InflateRaw(
          sg->ColumnBlob(2), static_cast<size_t>(n) * (kMaxLabelSetBytes + 10), payload));
      std::string_view in = payload;
      for (int64_t i = 0; i < n; ++i) {
        uint64_t ref;
        Labels l;
        if (!GetUvarint(in, ref) || !DecodeLabels(in, l)) {
          return Status::Corruption(where + ": bad label set");
        }
        auto s = GetOrCreate(l, false, static_cast<SeriesRef>(ref));
        if (!s.ok()) return s.status();
        (*s)->in_db = true;
      }
      if (!in.empty()) return Status::Corruption(where + ": trailing bytes");
    }
    LOOKOUT_RETURN_IF_ERROR(sg->status());
    for (const char* sql : {"SELECT series_id, MAX(max_time) FROM chunks GROUP BY series_id",
                            "SELECT series_id, MAX(max_time) FROM block_series GROUP BY series_id"}) {
      auto mx = writer_->Prepare(sql);
      if (!mx.ok()) return mx.status();
      while (mx->Step()) {
        if (MemSeries* s = GetByRef(static_cast<SeriesRef>(mx->ColumnInt(0)))) {
          s->last_t = std::max(s->last_t, mx->ColumnInt(1));
          s->db_max_t = std::max(s->db_max_t, mx->ColumnInt(1));
        }
      }
      LOOKOUT_RETURN_IF_ERROR(mx->status());
    }
  }

  {
    auto lc = writer_->Prepare("SELECT 1 FROM chunks LIMIT 1");
    if (!lc.ok()) return lc.status();
    has_legacy_chunks_ = lc->Step();
    LOOKOUT_RETURN_IF_ERROR(lc->status());
  }

  // WAL replay.
  std::string wal_dir = opts_.dir + "/wal";
  fs::create_directories(wal_dir, ec);
  uint64_t unknown_refs = 0;
  Status replay_err;
  auto stats = wal::Wal::Replay(wal_dir, log_, [&](std::string_view rec) {
    if (rec.empty()) return;
    uint8_t type = static_cast<uint8_t>(rec[0]);
    rec.remove_prefix(1);
    if (type == kRecSeries) {
      uint64_t ref;
      Labels l;
      if (!GetUvarint(rec, ref) || !DecodeLabels(rec, l)) return;
      auto s = GetOrCreate(l, false, ref);
      if (!s.ok() && replay_err.ok()) replay_err = s.status();
    } else if (type == kRecSamples) {
      uint64_t ref;
      int64_t t;
      double v;
      while (!rec.empty()) {
        if (!GetUvarint(rec, ref) || !GetVarint(rec, t) || !GetF64(rec, v)) return;
        MemSeries* s = GetByRef(ref);
        if (s == nullptr) {
          ++unknown_refs;
          continue;
        }
        std::lock_guard<std::mutex> l(s->mu);
        if (t <= s->last_t) continue;  // persisted already, or in the checkpoint and a segment
        if (s->head.NumSamples() >= chunkenc::kSamplesPerChunk) {
          s->closed.push_back(ChunkMeta{s->head.MinTime(), s->head.MaxTime(), s->head.Bytes()});
          s->head.Reset();
        }
        s->head.Append(t, v);
        s->last_t = t;
        s->last_bits = Bits(v);
      }
    }
  });
  if (!stats.ok()) return stats.status();
  LOOKOUT_RETURN_IF_ERROR(replay_err);
  stats_.wal_records_replayed = stats->records;
  if (unknown_refs > 0) {
    log_.Warn("wal: samples for unknown series skipped", {{"count", std::to_string(unknown_refs)}});
  }
  wal::Options wo{wal_dir, opts_.wal_segment_bytes, opts_.sync};
  auto wl = wal::Wal::Open(wo, log_.Child("wal"));
  if (!wl.ok()) return wl.status();
  wal_ = std::move(wl).value();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log_.Info("tsdb opened", {{"dir", opts_.dir},
                            {"series", std::to_string(stats_.head_series.load())},
                            {"wal_records", std::to_string(stats->records)},
                            {"seconds", std::to_string(secs)}});
  if (opts_.background) bg_ = std::thread(&DB::Background, this);
  return Status::Ok();
}

DB::MemSeries* DB::GetByRef(SeriesRef ref) {
  if (ref == 0) return nullptr;
  Stripe& st = stripes_[(ref - 1) % kStripes];
  uint64_t seq = (ref - 1) / kStripes;
  if (seq / kRefPageSize >= kRefPages) return nullptr;
  RefPage* page = st.pages[seq / kRefPageSize].load(std::memory_order_acquire);
  return page == nullptr ? nullptr : (*page)[seq % kRefPageSize].load(std::memory_order_acquire);
}

Result<DB::MemSeries*> DB::GetOrCreate(const Labels& l, bool log_to_wal, SeriesRef want_ref) {
  uint64_t h = l.Hash();
  size_t idx = h % kStripes;
  Stripe& st = stripes_[idx];
  std::unique_lock<std::mutex> lock(st.mu);
  auto& bucket = st.by_hash[h];
  for (MemSeries* s : bucket) {
    if (s->labels == l) return s;
  }
  SeriesRef ref;
  if (want_ref != 0) {
    if ((want_ref - 1) % kStripes != idx) {
      return Status::Corruption("series ref " + std::to_string(want_ref) +
                                " does not match its label hash; was the hash function changed?");
    }
    ref = want_ref;
    st.next_seq = std::max(st.next_seq, (want_ref - 1) / kStripes + 1);
  } else {
    ref = st.next_seq++ * kStripes + idx + 1;
  }
  if ((ref - 1) / kStripes >= kRefPages * kRefPageSize) {
    if (want_ref == 0) st.next_seq--;
    return want_ref != 0 ? Status::Corruption("series ref " + std::to_string(want_ref) + " out of range")
                         : Status::ResourceExhausted("the head holds the most series it can");
  }
  auto s = std::make_unique<MemSeries>();
  s->ref = ref;
  s->labels = l;
  s->hash = h;
  MemSeries* raw = s.get();
  if (log_to_wal) {
    // Logged under the stripe lock: no appender can commit samples of this series before its
    // series record is in the WAL.
    std::string rec(1, static_cast<char>(kRecSeries));
    PutUvarint(rec, ref);
    EncodeLabels(rec, l);
    Status ws = wal_->Log(rec);
    if (!ws.ok()) {
      stats_.wal_write_failures++;
      if (st.next_seq > 0 && want_ref == 0) st.next_seq--;
      return ws;
    }
  }
  bucket.push_back(raw);
  st.owned.push_back(std::move(s));
  {
    uint64_t seq = (ref - 1) / kStripes;
    auto& slot = st.pages[seq / kRefPageSize];
    RefPage* page = slot.load(std::memory_order_relaxed);
    if (page == nullptr) {
      st.page_owner.push_back(std::make_unique<RefPage>());
      page = st.page_owner.back().get();
      for (auto& p : *page) p.store(nullptr, std::memory_order_relaxed);
      slot.store(page, std::memory_order_release);
    }
    (*page)[seq % kRefPageSize].store(raw, std::memory_order_release);
  }
  lock.unlock();
  stats_.head_series++;
  std::unique_lock<std::shared_mutex> il(index_mu_);
  for (const auto& x : l) postings_[x.name][x.value].push_back(ref);
  return raw;
}

// ---------------------------------------------------------------------------------------------
// Appender

bool DB::HasSample(MemSeries* s, int64_t t, double v) {
  std::lock_guard<std::mutex> l(s->mu);
  auto find = [&](std::string_view data) {
    XorIterator it(data);
    while (it.Next()) {
      if (it.t() == t) return Bits(it.v()) == Bits(v);
      if (it.t() > t) return false;
    }
    return false;
  };
  if (s->head.NumSamples() > 0 && t >= s->head.MinTime()) return find(s->head.Bytes());
  for (auto c = s->closed.rbegin(); c != s->closed.rend(); ++c) {
    if (t >= c->min_time && t <= c->max_time) return find(c->data);
  }
  return false;
}

uint64_t NextBatchId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

class HeadAppender : public storage::Appender {
 public:
  explicit HeadAppender(DB* db) : db_(db) {}
  ~HeadAppender() override = default;

  Result<SeriesRef> Append(SeriesRef ref, const Labels& labels, int64_t t, double v) override {
    // A ref returned earlier for these labels is trusted (as Prometheus' headAppender): callers
    // cache refs keyed by the exact label bytes. Refs are never reused.
    DB::MemSeries* s = ref != 0 ? db_->GetByRef(ref) : nullptr;
    if (s == nullptr) {
      if (labels.empty()) {
        return ref != 0 ? Status::NotFound("unknown series ref " + std::to_string(ref))
                        : Status::InvalidArgument("empty label set");
      }
      auto r = db_->GetOrCreate(labels, true, 0);
      if (!r.ok()) return r.status();
      s = *r;
    }
    uint64_t bits = Bits(v);
    int64_t last;
    uint64_t last_bits;
    {
      std::lock_guard<std::mutex> l(s->mu);
      last = s->last_t;
      last_bits = s->last_bits;
      if (s->batch_id == id_ && s->batch_t >= last) {
        last = s->batch_t;
        last_bits = s->batch_bits;
      }
      if (t > last) {
        s->batch_id = id_;
        s->batch_t = t;
        s->batch_bits = bits;
        pending_.push_back({s, t, v});
        return s->ref;
      }
    }
    if (t < last) {
      // A sender re-sending a batch we stored before it saw our answer (a crash, a timeout)
      // repeats samples we have: accept exact repeats still in the head as duplicates.
      if (db_->HasSample(s, t, v)) return s->ref;
      db_->stats_.out_of_order++;
      return storage::ErrOutOfOrderSample();
    }
    if (bits == last_bits) return s->ref;  // an exact duplicate is ignored, as Prometheus
    db_->stats_.duplicates++;
    return storage::ErrDuplicateSampleForTimestamp();
  }

  Status Commit() override {
    if (pending_.empty()) return Status::Ok();
    rec_.assign(1, static_cast<char>(kRecSamples));
    for (const auto& p : pending_) {
      PutUvarint(rec_, p.s->ref);
      PutVarint(rec_, p.t);
      PutF64(rec_, p.v);
    }
    Status ws = db_->wal_->Log(rec_);
    if (!ws.ok()) {
      db_->stats_.wal_write_failures++;
      Rollback();
      return ws.Annotate("wal");
    }
    uint64_t appended = 0;
    for (const auto& p : pending_) {
      std::lock_guard<std::mutex> l(p.s->mu);
      if (p.t <= p.s->last_t) {  // lost a race with another appender of the same series
        db_->stats_.out_of_order++;
        continue;
      }
      if (p.s->head.NumSamples() >= chunkenc::kSamplesPerChunk) {
        p.s->closed.push_back(ChunkMeta{p.s->head.MinTime(), p.s->head.MaxTime(), p.s->head.Bytes()});
        p.s->head.Reset();
        db_->stats_.head_chunks++;
      }
      p.s->head.Append(p.t, p.v);
      p.s->last_t = p.t;
      p.s->last_bits = Bits(p.v);
      ++appended;
    }
    db_->stats_.samples_appended += appended;
    pending_.clear();
    id_ = NextBatchId();
    return Status::Ok();
  }

  void Rollback() override {
    pending_.clear();
    id_ = NextBatchId();
  }

 private:
  struct Pending {
    DB::MemSeries* s;
    int64_t t;
    double v;
  };
  DB* db_;
  std::vector<Pending> pending_;
  uint64_t id_ = NextBatchId();
  std::string rec_;
};

std::unique_ptr<storage::Appender> DB::NewAppender() { return std::make_unique<HeadAppender>(this); }

// ---------------------------------------------------------------------------------------------
// Querier

namespace {

// Runs fn(lo, hi) over contiguous parts of [0, n), on up to kMaxReadThreads threads (this one
// included) with at least `min_per_thread` items each. Returns the first error.
// A part that throws (allocation failure) fails with Internal; a thread that cannot be started
// leaves its part to this thread.
template <typename Fn>
Status ParallelFor(size_t n, size_t min_per_thread, Fn&& fn) {
  auto guarded = [&fn](size_t lo, size_t hi) -> Status {
    try {
      return fn(lo, hi);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("query read: ") + e.what());
    }
  };
  size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kMaxReadThreads);
  threads = std::min(threads, n / std::max<size_t>(min_per_thread, 1));
  if (threads <= 1) return guarded(size_t{0}, n);
  size_t per = (n + threads - 1) / threads;
  std::vector<Status> st(threads);
  std::vector<std::thread> workers;
  for (size_t i = 1; i < threads; ++i) {
    size_t lo = std::min(n, i * per), hi = std::min(n, lo + per);
    try {
      workers.emplace_back([&guarded, &st, i, lo, hi] { st[i] = guarded(lo, hi); });
    } catch (const std::system_error&) {
      st[i] = guarded(lo, hi);  // no thread to spare: run it here
    }
  }
  st[0] = guarded(size_t{0}, std::min(n, per));
  for (auto& w : workers) w.join();
  for (auto& s : st) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// Iterates a Select's samples of one series: the persisted ones then those of the head after
// the last persisted one (a chunk persisted while the Select ran is in both).
class SeriesIterator : public storage::SampleIterator {
 public:
  SeriesIterator(std::span<const Sample> persisted, std::span<const Sample> head)
      : a_(persisted), b_(head) {
    if (!a_.empty()) {
      auto p = std::upper_bound(b_.begin(), b_.end(), a_.back().t,
                                [](int64_t t, const Sample& x) { return t < x.t; });
      b_ = b_.subspan(static_cast<size_t>(p - b_.begin()));
    }
  }
  bool Next() override {
    if (++pos_ < a_.size() + b_.size()) return true;
    pos_ = a_.size() + b_.size();
    return false;
  }
  bool Seek(int64_t t) override {
    if (pos_ != kBefore && pos_ < a_.size() + b_.size() && At().t >= t) return true;
    size_t from = pos_ == kBefore ? 0 : pos_;
    // The first sample with time >= t at or after `from`.
    auto first_at = [t](std::span<const Sample> s, size_t i) {
      return static_cast<size_t>(
          std::lower_bound(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(), t,
                           [](const Sample& x, int64_t v) { return x.t < v; }) -
          s.begin());
    };
    if (from < a_.size()) {
      size_t i = first_at(a_, from);
      pos_ = i < a_.size() ? i : a_.size() + first_at(b_, 0);
    } else {
      pos_ = a_.size() + first_at(b_, std::min(from - a_.size(), b_.size()));
    }
    return pos_ < a_.size() + b_.size();
  }
  int64_t t() const override { return At().t; }
  double v() const override { return At().v; }
  Status status() const override { return Status::Ok(); }

 private:
  static constexpr size_t kBefore = static_cast<size_t>(-1);
  const Sample& At() const { return pos_ < a_.size() ? a_[pos_] : b_[pos_ - a_.size()]; }
  std::span<const Sample> a_, b_;
  size_t pos_ = kBefore;
};

// One series of a Select. The querier fills `head` (decoded under the series lock, within
// [mint, maxt]) and then `persisted` (decoded rows, in [mint, maxt], strictly increasing).
struct StoredSeries final : public storage::Series {
  StoredSeries(SeriesRef r, Labels l) : ref(r), lset(std::move(l)) {}
  const Labels& labels() const override { return lset; }
  std::unique_ptr<storage::SampleIterator> Iterator() const override {
    return std::make_unique<SeriesIterator>(persisted, head);
  }
  // Appends the head's samples after the persisted ones and moves the lot out.
  void Take(std::vector<Sample>& out) {
    auto from = head.begin();
    if (!persisted.empty()) {
      from = std::upper_bound(head.begin(), head.end(), persisted.back().t,
                              [](int64_t t, const Sample& x) { return t < x.t; });
    }
    if (persisted.empty()) {
      out = std::move(head);
    } else {
      persisted.insert(persisted.end(), from, head.end());
      out = std::move(persisted);
    }
    persisted.clear();
    head.clear();
  }

  SeriesRef ref;
  Labels lset;
  bool read_db = false;  // may have persisted samples in [mint, maxt]
  std::vector<Sample> persisted;
  std::vector<Sample> head;
};

// Appends the samples of XOR `chunk` within [mint, maxt] and after out's last one to `out`.
Status DecodeChunkInto(std::string_view chunk, int64_t mint, int64_t maxt, std::vector<Sample>& out) {
  XorIterator it(chunk);
  while (it.Next()) {
    int64_t t = it.t();
    if (t < mint || (!out.empty() && t <= out.back().t)) continue;
    if (t > maxt) break;
    out.push_back(Sample{t, it.v()});
  }
  return it.status();
}

class VectorSeriesSet : public storage::SeriesSet {
 public:
  VectorSeriesSet(std::vector<std::unique_ptr<StoredSeries>> s, Status st)
      : series_(std::move(s)), status_(std::move(st)) {}
  bool Next() override {
    if (pos_ >= series_.size()) return false;
    if (pos_ > 0) series_[pos_ - 1].reset();  // a consumed series' samples go now
    ++pos_;
    return true;
  }
  const storage::Series& At() const override { return *series_[pos_ - 1]; }
  Status status() const override { return status_; }
  Status TakeSamples(std::vector<Sample>& out, std::vector<int64_t>& st) override {
    st.clear();
    series_[pos_ - 1]->Take(out);
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<StoredSeries>> series_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace

std::vector<DB::MemSeries*> DB::MatchSeries(std::span<const storage::Matcher> ms) {
  // Candidates come from one matcher that cannot match the empty value: the `=` matcher with
  // the shortest postings list, else the first other one (the union of its values' lists; a
  // series has one value per name, so no duplicates). Every matcher is then checked on the
  // candidates' label sets, so no list is sorted or intersected. Unordered.
  std::vector<SeriesRef> cand;
  bool have = false;
  const storage::Matcher* source = nullptr;  // the matcher the candidates came from
  {
    std::shared_lock<std::shared_mutex> il(index_mu_);
    const std::vector<SeriesRef>* best = nullptr;
    const storage::Matcher* best_m = nullptr;
    const storage::Matcher* other = nullptr;
    for (const auto& m : ms) {
      if (m.Matches("")) continue;
      auto it = postings_.find(m.name());
      if (it == postings_.end()) return {};  // no series has the label
      if (m.type() == storage::Matcher::Type::kEqual) {
        auto v = it->second.find(m.value());
        if (v == it->second.end()) return {};
        if (best == nullptr || v->second.size() < best->size()) {
          best = &v->second;
          best_m = &m;
        }
      } else if (other == nullptr) {
        other = &m;
      }
    }
    if (best != nullptr) {
      cand = *best;
      have = true;
      source = best_m;
    } else if (other != nullptr) {
      source = other;
      for (const auto& [value, list] : postings_.find(other->name())->second) {
        if (other->Matches(value)) cand.insert(cand.end(), list.begin(), list.end());
      }
      have = true;
    }
  }
  if (!have) {
    for (int i = 0; i < kStripes; ++i) {
      std::lock_guard<std::mutex> l(stripes_[i].mu);
      for (const auto& s : stripes_[i].owned) cand.push_back(s->ref);
    }
  }
  // Check the other matchers on the label set (absent labels read as "").
  std::vector<MemSeries*> out;
  out.reserve(cand.size());
  for (SeriesRef ref : cand) {
    MemSeries* s = GetByRef(ref);
    if (s == nullptr) continue;
    bool ok = true;
    for (const auto& m : ms) {
      if (&m == source) continue;
      if (!m.Matches(s->labels.Get(m.name()))) {
        ok = false;
        break;
      }
    }
    if (ok) out.push_back(s);
  }
  return out;
}

std::unique_ptr<common::sqlite::Db> DB::TakeReader() {
  {
    std::lock_guard<std::mutex> l(readers_mu_);
    if (!readers_.empty()) {
      auto db = std::move(readers_.back());
      readers_.pop_back();
      return db;
    }
  }
  auto db = common::sqlite::Db::Open(opts_.dir + "/lookout.db", true);
  if (!db.ok()) return nullptr;
  // Rows are read through a memory map (no pread and copy per page) and a 32 MiB page cache.
  (void)(*db)->Exec("PRAGMA mmap_size=" + std::to_string(kReaderMmapBytes));
  (void)(*db)->Exec("PRAGMA cache_size=-32768");
  return std::move(db).value();
}

void DB::ReturnReader(std::unique_ptr<common::sqlite::Db> db) {
  if (!db) return;
  std::lock_guard<std::mutex> l(readers_mu_);
  if (readers_.size() < 8) readers_.push_back(std::move(db));
}

class DBQuerier : public storage::Querier {
 public:
  DBQuerier(DB* db, int64_t mint, int64_t maxt) : db_(db), mint_(mint), maxt_(maxt) {}

  std::unique_ptr<storage::SeriesSet> Select(bool sorted, int64_t mint, int64_t maxt,
                                             std::span<const storage::Matcher> ms) override {
    return SelectImpl(sorted, mint, maxt, ms, false);
  }

  std::unique_ptr<storage::SeriesSet> SelectLatest(int64_t mint, int64_t maxt,
                                                   std::span<const storage::Matcher> ms) override {
    return SelectImpl(false, mint, maxt, ms, true);
  }

  // `latest`: a series whose newest sample is in the head and in [mint, maxt] gets only that
  // sample (SelectLatest).
  std::unique_ptr<storage::SeriesSet> SelectImpl(bool sorted, int64_t mint, int64_t maxt,
                                                 std::span<const storage::Matcher> ms, bool latest) {
    mint = std::max(mint, mint_);
    maxt = std::min(maxt, maxt_);
    std::vector<DB::MemSeries*> matched = db_->MatchSeries(ms);
    if (sorted) {
      std::sort(matched.begin(), matched.end(),
                [](const DB::MemSeries* a, const DB::MemSeries* b) { return a->labels < b->labels; });
    }
    std::vector<std::unique_ptr<StoredSeries>> out(matched.size());
    // Head first, then SQLite: a chunk persisted in between is then found in SQLite. Long
    // lists decode their head chunks on several threads.
    Status status = ParallelFor(matched.size(), kMinSeriesPerHeadThread, [&](size_t lo, size_t hi) {
      Status st;
      for (size_t i = lo; i < hi; ++i) {
        DB::MemSeries* s = matched[i];
        auto ss = std::make_unique<StoredSeries>(s->ref, s->labels);
        std::lock_guard<std::mutex> l(s->mu);
        if (latest && s->head.NumSamples() > 0 && s->head.MaxTime() == s->last_t &&
            s->last_t >= mint && s->last_t <= maxt) {
          double v;
          std::memcpy(&v, &s->last_bits, sizeof v);
          ss->head.push_back(Sample{s->last_t, v});
          out[i] = std::move(ss);
          continue;
        }
        Status ds;
        for (const auto& c : s->closed) {
          if (c.max_time >= mint && c.min_time <= maxt && ds.ok()) {
            ds = DecodeChunkInto(c.data, mint, maxt, ss->head);
          }
        }
        if (s->head.NumSamples() > 0 && s->head.MaxTime() >= mint && s->head.MinTime() <= maxt &&
            ds.ok()) {
          ds = DecodeChunkInto(s->head.Bytes(), mint, maxt, ss->head);
        }
        if (!ds.ok()) st = ds.Annotate("head chunk of series " + std::to_string(s->ref));
        ss->read_db = s->db_max_t >= mint;  // kNoTime when nothing is persisted
        out[i] = std::move(ss);
      }
      return st;
    });
    std::vector<StoredSeries*> read_db;
    for (const auto& ss : out) {
      if (ss->read_db) read_db.push_back(ss.get());
    }
    // Rows are read in label order: group blocks hold series in label order, so consecutive
    // series mostly share their blocks (one inflate per block and window).
    if (!sorted) {
      std::sort(read_db.begin(), read_db.end(),
                [](const StoredSeries* a, const StoredSeries* b) { return a->lset < b->lset; });
    }
    if (Status rs = ReadPersisted(read_db, mint, maxt); !rs.ok()) status = rs;
    std::erase_if(out, [](const std::unique_ptr<StoredSeries>& s) {
      return s->persisted.empty() && s->head.empty();
    });
    return std::make_unique<VectorSeriesSet>(std::move(out), std::move(status));
  }
 private:
  // Decodes the persisted samples in [mint, maxt] of `series` (in label order) into their
  // `persisted`. Long lists are split into contiguous runs (neighbours share group blocks) read
  // on up to kMaxReadThreads threads, each with its own connection and read transaction.
  Status ReadPersisted(std::span<StoredSeries* const> series, int64_t mint, int64_t maxt) {
    return ParallelFor(series.size(), kMinSeriesPerReadThread, [&](size_t lo, size_t hi) {
      return ReadRun(series.subspan(lo, hi - lo), mint, maxt);
    });
  }

  Status ReadRun(std::span<StoredSeries* const> series, int64_t mint, int64_t maxt) {
    if (series.empty()) return Status::Ok();
    auto reader = db_->TakeReader();
    if (!reader) return Status::IOError("tsdb: cannot open a read connection");
    // One read transaction for the run: a consistent view, one file lock. The cache's epoch is
    // read before it starts (block_cache.h).
    uint64_t epoch = db_->block_cache_ ? db_->block_cache_->epoch() : 0;
    bool in_tx = reader->Exec("BEGIN").ok();
    Status status = ReadRunWith(*reader, series, mint, maxt, epoch);
    if (in_tx && !reader->Exec("COMMIT").ok()) reader.reset();  // never reuse a stuck connection
    db_->ReturnReader(std::move(reader));
    return status;
  }

  Status ReadRunWith(common::sqlite::Db& reader, std::span<StoredSeries* const> series,
                     int64_t mint, int64_t maxt, uint64_t epoch) {
    std::optional<Stmt> legacy;
    if (db_->has_legacy_chunks_) {
      auto st = reader.Prepare(
          "SELECT min_time, max_time, data FROM chunks WHERE series_id = ?1 AND max_time >= ?2 "
          "AND min_time <= ?3 ORDER BY min_time");
      if (!st.ok()) return st.status();
      legacy.emplace(std::move(st).value());
    }
    auto qm = reader.Prepare(
        "SELECT block_id FROM block_series WHERE series_id = ?1 AND window >= ?2 "
        "AND window <= ?3 AND max_time >= ?4 ORDER BY window, block_id");
    if (!qm.ok()) return qm.status();
    auto qb = reader.Prepare("SELECT data FROM blocks WHERE id = ?1");
    if (!qb.ok()) return qb.status();
    Status status;
    // Inflated group blocks of this run: the members of a block are usually selected together
    // (one metric's series sit side by side). Shared with the block cache.
    std::unordered_map<int64_t, std::shared_ptr<const chunkenc::GroupView>> views;
    BlockCache* cache = db_->block_cache_.get();
    std::vector<int64_t> block_ids;
    std::vector<Sample> scratch;
    // Moves scratch's samples in [mint, maxt] to the end of `out`.
    auto keep = [&](std::vector<Sample>& out) {
      auto lo = std::lower_bound(scratch.begin(), scratch.end(), mint,
                                 [](const Sample& a, int64_t t) { return a.t < t; });
      auto hi = std::upper_bound(lo, scratch.end(), maxt,
                                 [](int64_t t, const Sample& a) { return t < a.t; });
      out.insert(out.end(), lo, hi);
    };
    for (StoredSeries* s : series) {
      if (legacy) {
        legacy->Bind(1, static_cast<int64_t>(s->ref)).Bind(2, mint).Bind(3, maxt);
        while (legacy->Step()) {
          std::string_view data = legacy->ColumnBlob(2);
          scratch.clear();
          Status ds;
          ds = chunkenc::IsBlock(data) ? chunkenc::DecodeBlock(data, scratch)
                                       : DecodeChunkInto(data, mint, maxt, scratch);
          if (!ds.ok()) {
            status = ds.Annotate("series " + std::to_string(s->ref));
            continue;
          }
          keep(s->persisted);
        }
        if (!legacy->status().ok()) status = legacy->status();
        legacy->Reset();
      }
      block_ids.clear();
      qm->Bind(1, static_cast<int64_t>(s->ref))
          .Bind(2, FloorDiv(mint, kRowSpanMs))
          .Bind(3, FloorDiv(maxt, kRowSpanMs))
          .Bind(4, mint);
      while (qm->Step()) block_ids.push_back(qm->ColumnInt(0));
      if (!qm->status().ok()) status = qm->status();
      qm->Reset();
      for (int64_t id : block_ids) {
        auto vit = views.find(id);
        if (vit == views.end()) {
          if (views.size() >= kMaxViewsPerSelect) views.clear();
          std::shared_ptr<const chunkenc::GroupView> view = cache ? cache->Get(id, epoch) : nullptr;
          if (!view) {
            qb->Bind(1, id);
            Status ps = qb->Step() ? Status::Ok()
                                   : (qb->status().ok() ? Status::Corruption("missing block")
                                                        : qb->status());
            auto parsed = std::make_shared<chunkenc::GroupView>();
            if (ps.ok()) ps = parsed->Parse(qb->ColumnBlob(0));
            qb->Reset();
            if (!ps.ok()) {
              status = ps.Annotate("block " + std::to_string(id));
              continue;
            }
            view = std::move(parsed);
            if (cache) cache->Put(id, view, epoch);
          }
          vit = views.emplace(id, std::move(view)).first;
        }
        scratch.clear();
        auto found = vit->second->Decode(s->ref, scratch);
        if (!found.ok()) {
          status = found.status().Annotate("block " + std::to_string(id));
          continue;
        }
        if (*found) keep(s->persisted);
      }
      // Rows of different layouts may overlap: restore strict time order.
      auto& p = s->persisted;
      if (std::adjacent_find(p.begin(), p.end(), [](const Sample& a, const Sample& b) {
            return a.t >= b.t;
          }) != p.end()) {
        std::stable_sort(p.begin(), p.end(), [](const Sample& a, const Sample& b) { return a.t < b.t; });
        p.erase(std::unique(p.begin(), p.end(),
                            [](const Sample& a, const Sample& b) { return a.t == b.t; }),
                p.end());
      }
    }
    return status;
  }

 public:

  Result<std::vector<std::string>> LabelNames(std::span<const storage::Matcher> ms) override {
    std::vector<std::string> names;
    if (ms.empty()) {
      std::shared_lock<std::shared_mutex> il(db_->index_mu_);
      for (const auto& [n, vals] : db_->postings_) names.push_back(n);
    } else {
      std::unordered_set<std::string> seen;
      auto set = Select(false, mint_, maxt_, ms);
      while (set->Next()) {
        for (const auto& l : set->At().labels()) seen.insert(l.name);
      }
      if (!set->status().ok()) return set->status();
      names.assign(seen.begin(), seen.end());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               std::span<const storage::Matcher> ms) override {
    std::vector<std::string> values;
    if (ms.empty()) {
      std::shared_lock<std::shared_mutex> il(db_->index_mu_);
      auto it = db_->postings_.find(std::string(name));
      if (it != db_->postings_.end()) {
        for (const auto& [v, refs] : it->second) values.push_back(v);
      }
    } else {
      std::unordered_set<std::string> seen;
      auto set = Select(false, mint_, maxt_, ms);
      while (set->Next()) {
        std::string_view v = set->At().labels().Get(name);
        if (!v.empty()) seen.insert(std::string(v));
      }
      if (!set->status().ok()) return set->status();
      values.assign(seen.begin(), seen.end());
    }
    std::sort(values.begin(), values.end());
    return values;
  }

 private:
  DB* db_;
  int64_t mint_, maxt_;
};

Result<std::unique_ptr<storage::Querier>> DB::NewQuerier(int64_t mint, int64_t maxt) {
  return std::unique_ptr<storage::Querier>(std::make_unique<DBQuerier>(this, mint, maxt));
}

// ---------------------------------------------------------------------------------------------
// Persistence, checkpoint, retention

Status DB::Persist(bool all) {
  std::lock_guard<std::mutex> wl(writer_mu_);
  struct Item {
    MemSeries* s;
    std::vector<ChunkMeta> chunks;  // copies of the first closed chunks, those before the cut
    bool new_series;
    int64_t cut;  // samples with t < cut are persisted; the rest go back to the head
    std::vector<ChunkMeta> rest;  // samples >= cut of those chunks, re-encoded as closed chunks
  };
  std::vector<Item> items;
  int64_t now = SteadyMs();
  for (int i = 0; i < kStripes; ++i) {
    std::vector<MemSeries*> ss;
    {
      std::lock_guard<std::mutex> l(stripes_[i].mu);
      for (auto& s : stripes_[i].owned) ss.push_back(s.get());
    }
    for (MemSeries* s : ss) {
      std::lock_guard<std::mutex> l(s->mu);
      if (s->closed.empty()) {
        s->closed_seen_ms = 0;
        if (s->in_db) continue;
      } else if (s->closed_seen_ms == 0) {
        s->closed_seen_ms = now;
      }
      // Due: every closed sample when forced or old enough; otherwise the windows that are
      // complete (a later closed sample lies in a later window; samples arrive in time order).
      int64_t cut = kNoTime;
      if (all || (!s->closed.empty() && now - s->closed_seen_ms >= opts_.persist_max_age_ms)) {
        cut = std::numeric_limits<int64_t>::max();
      } else if (!s->closed.empty() &&
                 static_cast<int>(s->closed.size()) >= opts_.persist_min_chunks) {
        int64_t last = FloorDiv(s->closed.back().max_time, kRowSpanMs);
        if (FloorDiv(s->closed.front().min_time, kRowSpanMs) < last) cut = last * kRowSpanMs;
      }
      if (cut == kNoTime) {
        if (!s->in_db) items.push_back(Item{s, {}, true, cut, {}});  // only the series row
        continue;
      }
      // The closed chunks that hold samples before the cut.
      size_t n = 0;
      while (n < s->closed.size() && s->closed[n].min_time < cut) ++n;
      items.push_back(Item{s,
                           std::vector<ChunkMeta>(s->closed.begin(),
                                                  s->closed.begin() + static_cast<long>(n)),
                           !s->in_db, cut, {}});
    }
  }
  if (items.empty()) return Status::Ok();
  common::sqlite::Transaction tx(*writer_);
  LOOKOUT_RETURN_IF_ERROR(tx.status());
  auto ins_series = writer_->Prepare("INSERT INTO series_groups(n, data) VALUES(?1, ?2)");
  auto ins_block = writer_->Prepare(
      "INSERT INTO blocks(window, min_time, max_time, refs, data) VALUES(?1, ?2, ?3, ?4, ?5)");
  auto ins_member = writer_->Prepare(
      "INSERT OR REPLACE INTO block_series(series_id, window, block_id, max_time) "
      "VALUES(?1, ?2, ?3, ?4)");
  if (!ins_series.ok()) return ins_series.status();
  if (!ins_block.ok()) return ins_block.status();
  if (!ins_member.ok()) return ins_member.status();
  std::string blob;
  // The samples to persist, per series, then cut into windows.
  std::vector<std::vector<chunkenc::Sample>> per_item(items.size());
  struct Member {
    const MemSeries* s;
    std::span<const chunkenc::Sample> samples;
  };
  std::map<int64_t, std::vector<Member>> windows;
  uint64_t nchunks = 0;
  size_t item_index = 0;
  std::string new_series;  // series group payload
  int64_t num_new_series = 0;
  for (Item& it : items) {
    int64_t ref = static_cast<int64_t>(it.s->ref);
    if (it.new_series) {
      PutUvarint(new_series, static_cast<uint64_t>(ref));
      EncodeLabels(new_series, it.s->labels);
      ++num_new_series;
    }
    std::vector<chunkenc::Sample>& samples = per_item[item_index++];
    if (it.chunks.empty()) continue;
    for (const auto& c : it.chunks) {
      Status ds = DecodeChunkInto(c.data, std::numeric_limits<int64_t>::min(),
                                  std::numeric_limits<int64_t>::max(), samples);
      if (!ds.ok()) {
        stats_.persist_failures++;
        return ds.Annotate("persist: head chunk of series " + std::to_string(ref));
      }
    }
    auto split = std::lower_bound(samples.begin(), samples.end(), it.cut,
                                  [](const chunkenc::Sample& a, int64_t t) { return a.t < t; });
    if (split != samples.end()) {
      std::span<const chunkenc::Sample> tail(split, samples.end());
      std::vector<std::string> data = chunkenc::ToXorChunks(tail);
      const size_t per = chunkenc::kSamplesPerChunk;  // ToXorChunks' cut
      for (size_t c = 0; c < data.size(); ++c) {
        auto part = tail.subspan(c * per, std::min(per, tail.size() - c * per));
        it.rest.push_back(ChunkMeta{part.front().t, part.back().t, std::move(data[c])});
      }
      samples.erase(split, samples.end());
    }
    // Per aligned kRowSpanMs window, so retention (which drops whole blocks by max_time)
    // keeps its granularity whatever the scrape interval.
    for (size_t lo = 0; lo < samples.size();) {
      int64_t window = FloorDiv(samples[lo].t, kRowSpanMs);
      size_t hi = lo + 1;
      while (hi < samples.size() && FloorDiv(samples[hi].t, kRowSpanMs) == window) ++hi;
      windows[window].push_back(Member{it.s, std::span<const chunkenc::Sample>(samples.data() + lo, hi - lo)});
      lo = hi;
    }
    nchunks += it.chunks.size();
  }
  if (num_new_series > 0) {
    blob.clear();
    Status s = common::zlib::DeflateRaw(new_series, 6, blob);
    if (s.ok()) s = ins_series->Bind(1, num_new_series).BindBlob(2, blob).Exec();
    if (!s.ok()) {
      stats_.persist_failures++;
      return s.Annotate("persist series");
    }
  }
  // Group blocks: per window, series in label order (so a metric's series sit together), cut
  // at kGroupMaxSeries members or kGroupMaxSamples samples.
  std::vector<chunkenc::GroupMember> group;
  std::string refs;
  for (auto& [window, members] : windows) {
    std::sort(members.begin(), members.end(),
              [](const Member& a, const Member& b) { return a.s->labels < b.s->labels; });
    for (size_t lo = 0; lo < members.size();) {
      size_t hi = lo, nsamples = 0;
      while (hi < members.size() && hi - lo < kGroupMaxSeries &&
             (hi == lo || nsamples + members[hi].samples.size() <= kGroupMaxSamples)) {
        nsamples += members[hi].samples.size();
        ++hi;
      }
      group.clear();
      refs.clear();
      int64_t mn = std::numeric_limits<int64_t>::max(), mx = std::numeric_limits<int64_t>::min();
      for (size_t i = lo; i < hi; ++i) {
        group.push_back(chunkenc::GroupMember{members[i].s->ref, members[i].samples});
        PutUvarint(refs, members[i].s->ref);
        mn = std::min(mn, members[i].samples.front().t);
        mx = std::max(mx, members[i].samples.back().t);
      }
      std::string data = chunkenc::EncodeGroup(group);
      Status s = ins_block->Bind(1, window).Bind(2, mn).Bind(3, mx).BindBlob(4, refs)
                     .BindBlob(5, data).Exec();
      int64_t block_id = writer_->LastInsertRowid();
      for (size_t i = lo; i < hi && s.ok(); ++i) {
        s = ins_member->Bind(1, static_cast<int64_t>(members[i].s->ref))
                .Bind(2, window)
                .Bind(3, block_id)
                .Bind(4, members[i].samples.back().t)
                .Exec();
      }
      if (!s.ok()) {
        stats_.persist_failures++;
        return s.Annotate("persist block");
      }
      lo = hi;
    }
  }
  Status cs = tx.Commit();
  if (!cs.ok()) {
    stats_.persist_failures++;
    return cs.Annotate("persist commit");
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Item& it = items[i];
    std::lock_guard<std::mutex> l(it.s->mu);
    if (!per_item[i].empty()) it.s->db_max_t = std::max(it.s->db_max_t, per_item[i].back().t);
    it.s->closed.erase(it.s->closed.begin(),
                       it.s->closed.begin() + static_cast<long>(it.chunks.size()));
    it.s->closed.insert(it.s->closed.begin(), std::make_move_iterator(it.rest.begin()),
                        std::make_move_iterator(it.rest.end()));
    if (!it.chunks.empty()) it.s->closed_seen_ms = it.s->closed.empty() ? 0 : now;
    it.s->in_db = true;
  }
  stats_.chunks_persisted += nchunks;
  return Status::Ok();
}

Status DB::Checkpoint() {
  // Everything closed goes to SQLite first, so the checkpoint only carries open chunks.
  LOOKOUT_RETURN_IF_ERROR(Persist());
  std::lock_guard<std::mutex> wl(writer_mu_);
  auto seg = wal_->Rotate();
  if (!seg.ok()) return seg.status();
  Status s = wal_->WriteCheckpoint(*seg, [&](const std::function<void(std::string_view)>& emit) {
    std::string rec;
    for (int i = 0; i < kStripes; ++i) {
      std::vector<MemSeries*> ss;
      {
        std::lock_guard<std::mutex> l(stripes_[i].mu);
        for (auto& sp : stripes_[i].owned) ss.push_back(sp.get());
      }
      for (MemSeries* m : ss) {
        rec.assign(1, static_cast<char>(kRecSeries));
        PutUvarint(rec, m->ref);
        EncodeLabels(rec, m->labels);
        emit(rec);
        rec.assign(1, static_cast<char>(kRecSamples));
        {
          std::lock_guard<std::mutex> l(m->mu);
          auto add = [&](std::string_view data) {
            XorIterator it(data);
            while (it.Next()) {
              PutUvarint(rec, m->ref);
              PutVarint(rec, it.t());
              PutF64(rec, it.v());
            }
          };
          for (const auto& c : m->closed) add(c.data);
          if (m->head.NumSamples() > 0) add(m->head.Bytes());
        }
        if (rec.size() > 1) emit(rec);
      }
    }
  });
  if (s.ok()) stats_.checkpoints++;
  return s;
}

Result<uint64_t> DB::DeleteBlocks(const char* select_sql, int64_t arg) {
  struct Victim {
    int64_t id;
    int64_t window;
    std::string refs;
  };
  std::vector<Victim> victims;
  {
    auto sel = writer_->Prepare(select_sql);
    if (!sel.ok()) return sel.status();
    sel->Bind(1, arg);
    while (sel->Step()) {
      victims.push_back(Victim{sel->ColumnInt(0), sel->ColumnInt(1), std::string(sel->ColumnBlob(2))});
    }
    LOOKOUT_RETURN_IF_ERROR(sel->status());
  }
  if (victims.empty()) return uint64_t{0};
  common::sqlite::Transaction tx(*writer_);
  LOOKOUT_RETURN_IF_ERROR(tx.status());
  auto del_member = writer_->Prepare(
      "DELETE FROM block_series WHERE series_id = ?1 AND window = ?2 AND block_id = ?3");
  auto del_block = writer_->Prepare("DELETE FROM blocks WHERE id = ?1");
  if (!del_member.ok()) return del_member.status();
  if (!del_block.ok()) return del_block.status();
  std::vector<int64_t> ids;
  for (const Victim& v : victims) ids.push_back(v.id);
  if (block_cache_) block_cache_->Erase(ids);  // and again after the commit (block_cache.h)
  for (const Victim& v : victims) {
    std::string_view refs = v.refs;
    uint64_t ref;
    while (!refs.empty()) {
      if (!GetUvarint(refs, ref)) return Status::Corruption("block " + std::to_string(v.id) + ": bad refs");
      LOOKOUT_RETURN_IF_ERROR(
          del_member->Bind(1, static_cast<int64_t>(ref)).Bind(2, v.window).Bind(3, v.id).Exec());
    }
    LOOKOUT_RETURN_IF_ERROR(del_block->Bind(1, v.id).Exec());
  }
  LOOKOUT_RETURN_IF_ERROR(tx.Commit());
  if (block_cache_) block_cache_->Erase(ids);
  return static_cast<uint64_t>(victims.size());
}

Status DB::ApplyRetention(int64_t now_ms) {
  std::lock_guard<std::mutex> wl(writer_mu_);
  int64_t cutoff = now_ms - opts_.retention_ms;
  uint64_t deleted = 0;
  {
    auto del = writer_->Prepare("DELETE FROM chunks WHERE max_time < ?1");
    if (!del.ok()) return del.status();
    LOOKOUT_RETURN_IF_ERROR(del->Bind(1, cutoff).Exec());
    deleted += static_cast<uint64_t>(writer_->Changes());
    auto n = DeleteBlocks("SELECT id, window, refs FROM blocks WHERE max_time < ?1", cutoff);
    if (!n.ok()) return n.status();
    deleted += *n;
  }
  if (opts_.retention_bytes > 0) {
    for (int guard = 0; guard < 10000; ++guard) {
      uint64_t total = DbBytes() + wal_->DiskBytes();
      if (total <= opts_.retention_bytes) break;
      auto del = writer_->Prepare(
          "DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks ORDER BY min_time LIMIT 5000)");
      if (!del.ok()) return del.status();
      LOOKOUT_RETURN_IF_ERROR(del->Exec());
      uint64_t n = static_cast<uint64_t>(writer_->Changes());
      auto nb = DeleteBlocks("SELECT id, window, refs FROM blocks ORDER BY max_time LIMIT ?1", 64);
      if (!nb.ok()) return nb.status();
      n += *nb;
      deleted += n;
      LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA incremental_vacuum"));
      LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
      if (n == 0) break;  // only head data left
    }
  }
  // Head chunks older than the cutoff go too.
  for (int i = 0; i < kStripes; ++i) {
    std::lock_guard<std::mutex> l(stripes_[i].mu);
    for (auto& s : stripes_[i].owned) {
      std::lock_guard<std::mutex> sl(s->mu);
      auto& c = s->closed;
      c.erase(std::remove_if(c.begin(), c.end(), [&](const ChunkMeta& m) { return m.max_time < cutoff; }),
              c.end());
    }
  }
  if (deleted > 0) {
    // Give freed pages back to the file system, then fold SQLite's own WAL into the file.
    LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA incremental_vacuum"));
    LOOKOUT_RETURN_IF_ERROR(writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    stats_.retention_deleted_chunks += deleted;
    log_.Info("retention deleted chunks", {{"chunks", std::to_string(deleted)}});
  }
  return Status::Ok();
}

uint64_t DB::WalBytes() { return wal_ ? wal_->DiskBytes() : 0; }

uint64_t DB::DbBytes() const {
  std::error_code ec;
  uint64_t total = 0;
  for (const char* suffix : {"/lookout.db", "/lookout.db-wal"}) {
    auto n = fs::file_size(opts_.dir + suffix, ec);
    if (!ec) total += n;
  }
  return total;
}

Status DB::Backup(const std::string& dest_dir) {
  std::error_code ec;
  if (fs::exists(dest_dir, ec)) return Status::InvalidArgument(dest_dir + " already exists");
  fs::create_directories(dest_dir + "/wal", ec);
  if (ec) return Status::IOError("create " + dest_dir + ": " + ec.message());
  // A checkpoint makes the WAL directory hold exactly: checkpoint.N (+ segment N being written).
  LOOKOUT_RETURN_IF_ERROR(Checkpoint());
  {
    std::lock_guard<std::mutex> wl(writer_mu_);
    LOOKOUT_RETURN_IF_ERROR(writer_->BackupTo(dest_dir + "/lookout.db"));
    for (const auto& e : fs::directory_iterator(opts_.dir + "/wal", ec)) {
      fs::copy_file(e.path(), dest_dir + "/wal/" + e.path().filename().string(),
                    fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::IOError("copy " + e.path().string() + ": " + ec.message());
    }
  }
  return Status::Ok();
}

Status BackupDir(const std::string& src, const std::string& dest) {
  std::error_code ec;
  if (fs::exists(dest, ec)) return Status::InvalidArgument(dest + " already exists");
  if (!fs::exists(src + "/lookout.db", ec)) return Status::NotFound(src + "/lookout.db not found");
  auto checkpoints = [&] {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(src + "/wal", ec)) {
      std::string n = e.path().filename().string();
      if (n.rfind("checkpoint.", 0) == 0) v.push_back(n);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  for (int attempt = 0; attempt < 10; ++attempt) {
    fs::remove_all(dest, ec);
    fs::create_directories(dest + "/wal", ec);
    if (ec) return Status::IOError("create " + dest + ": " + ec.message());
    auto before = checkpoints();
    auto db = common::sqlite::Db::Open(src + "/lookout.db", true);
    if (!db.ok()) return db.status();
    LOOKOUT_RETURN_IF_ERROR((*db)->BackupTo(dest + "/lookout.db"));
    bool copied = true;
    for (const auto& e : fs::directory_iterator(src + "/wal", ec)) {
      fs::copy_file(e.path(), dest + "/wal/" + e.path().filename().string(),
                    fs::copy_options::overwrite_existing, ec);
      if (ec) {
        copied = false;  // deleted by a checkpoint under our feet
        break;
      }
    }
    if (copied && checkpoints() == before) return Status::Ok();
  }
  return Status::Unavailable("the store kept changing checkpoints during the backup; retry");
}

Result<InspectResult> InspectDir(const std::string& dir) {
  InspectResult r;
  std::error_code ec;
  auto db = common::sqlite::Db::Open(dir + "/lookout.db", true);
  if (!db.ok()) return db.status();
  {
    auto st = (*db)->Prepare("SELECT COUNT(*) FROM series");
    if (!st.ok()) return st.status();
    if (st->Step()) r.series = static_cast<uint64_t>(st->ColumnInt(0));
    // Files from before series groups have no such table.
    auto sg = (*db)->Prepare("SELECT COALESCE(SUM(n), 0) FROM series_groups");
    if (sg.ok() && sg->Step()) r.series += static_cast<uint64_t>(sg->ColumnInt(0));
  }
  {
    auto st = (*db)->Prepare("SELECT min_time, max_time, data FROM chunks");
    if (!st.ok()) return st.status();
    bool first = true;
    while (st->Step()) {
      std::string_view d = st->ColumnBlob(2);
      r.chunks++;
      r.chunk_bytes += d.size();
      if (chunkenc::IsBlock(d)) {
        auto n = chunkenc::BlockNumSamples(d);
        if (!n.ok()) return n.status();
        r.samples += *n;
      } else if (d.size() >= 2) {
        r.samples += (static_cast<uint8_t>(d[0]) << 8) | static_cast<uint8_t>(d[1]);
      }
      int64_t mn = st->ColumnInt(0), mx = st->ColumnInt(1);
      r.min_time = first ? mn : std::min(r.min_time, mn);
      r.max_time = first ? mx : std::max(r.max_time, mx);
      first = false;
    }
    LOOKOUT_RETURN_IF_ERROR(st->status());
    auto bs = (*db)->Prepare("SELECT min_time, max_time, data FROM blocks");
    // Files from before group blocks have no such table.
    while (bs.ok() && bs->Step()) {
      std::string_view d = bs->ColumnBlob(2);
      r.chunks++;
      r.chunk_bytes += d.size();
      auto n = chunkenc::BlockNumSamples(d);
      if (!n.ok()) return n.status();
      r.samples += *n;
      int64_t mn = bs->ColumnInt(0), mx = bs->ColumnInt(1);
      r.min_time = first ? mn : std::min(r.min_time, mn);
      r.max_time = first ? mx : std::max(r.max_time, mx);
      first = false;
    }
    if (bs.ok()) LOOKOUT_RETURN_IF_ERROR(bs->status());
  }
  for (const char* suffix : {"/lookout.db", "/lookout.db-wal"}) {
    auto n = fs::file_size(dir + suffix, ec);
    if (!ec) r.db_file_bytes += n;
  }
  common::log::Logger log("inspect");
  auto rs = wal::Wal::Replay(dir + "/wal", log, [&](std::string_view rec) {
    r.wal_records++;
    if (!rec.empty() && static_cast<uint8_t>(rec[0]) == kRecSamples) {
      rec.remove_prefix(1);
      uint64_t ref;
      int64_t t;
      double v;
      while (GetUvarint(rec, ref) && GetVarint(rec, t) && GetF64(rec, v)) r.wal_samples++;
    }
  }, /*repair=*/false);
  if (!rs.ok()) return rs.status();
  for (const auto& e : fs::directory_iterator(dir + "/wal", ec)) {
    if (e.is_regular_file(ec)) r.wal_bytes += e.file_size(ec);
  }
  return r;
}

void DB::Background() {
  auto next_retention = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock<std::mutex> l(bg_mu_);
      bg_cv_.wait_for(l, std::chrono::milliseconds(opts_.persist_interval_ms), [&] { return stopping_; });
      if (stopping_) return;
    }
    Status s = Persist(/*all=*/false);
    if (!s.ok()) log_.Error("persist failed; will retry", {{"err", s.ToString()}});
    if (s.ok() && wal_->DiskBytes() > opts_.checkpoint_wal_bytes) {
      s = Checkpoint();
      if (!s.ok()) log_.Error("checkpoint failed; will retry", {{"err", s.ToString()}});
    }
    if (std::chrono::steady_clock::now() >= next_retention) {
      s = ApplyRetention(NowMs());
      if (!s.ok()) log_.Error("retention failed; will retry", {{"err", s.ToString()}});
      next_retention = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(opts_.retention_interval_ms);
    }
  }
}

}  // namespace collector::tsdb
