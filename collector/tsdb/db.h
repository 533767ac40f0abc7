#pragma once
// The time-series store of lookout-collector (DESIGN.md "tsdb").
//
// - head: every series keyed by its sorted label set, with an open Gorilla XOR chunk of up to
//   120 samples and the closed chunks not yet persisted; an inverted index label name -> value ->
//   series refs. Series live in 64 stripes, each behind its own mutex, so appends from several
//   threads do not serialize; a series ref encodes its stripe (ref % 64 == hash % 64).
// - WAL (tsdb/wal): every committed batch is in the WAL before Commit() returns; series records
//   are logged when a series is created.
// - SQLite (dir/lookout.db): closed chunks are persisted in batches: table series (labels),
//   table blocks (one row per 2 h window and group of up to 256 series in label order, their
//   samples compressed together: chunkenc/block.h kFormatGroup) and table block_series (which
//   blocks hold a series in a window). Files written by earlier versions also have rows in
//   table chunks (one series each, a block or a single XOR chunk); they are read and expire as
//   before. A checkpoint of the head then replaces the WAL segments before it. The postings
//   table of old files is left alone: the index is in memory.
// - retention by time and size, in the background; queries merge persisted and head chunks.
// - out-of-order and duplicate samples are rejected and counted; stale markers are stored as any
//   other value (bit-exact).
// - queries (NewQuerier) read the head and SQLite on up to four short-lived threads each, with
//   connections of their own, and keep inflated blocks in a shared cache (block_cache.h).
// Thread-safe: every public method may be called from any thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "collector/storage/storage.h"
#include "collector/tsdb/chunkenc/xor.h"
#include "collector/tsdb/wal/wal.h"
#include "common/log/log.h"

namespace common::sqlite {
class Db;
}

namespace collector::tsdb {

class BlockCache;
using common::Result;
using common::Status;
using storage::SeriesRef;

struct Options {
  std::string dir;
  int64_t retention_ms = 15ll * 24 * 3600 * 1000;  // --storage.tsdb.retention.time
  uint64_t retention_bytes = 0;                     // --storage.tsdb.retention.size; 0 = none
  wal::SyncPolicy sync = wal::SyncPolicy::kSegment;
  uint64_t wal_segment_bytes = 128ull << 20;
  int64_t persist_interval_ms = 60000;     // how often closed chunks go to SQLite
  // The background persist writes a series once it has this many closed chunks, or when its
  // oldest unpersisted closed chunk has waited persist_max_age_ms; all its closed chunks then go
  // into one compressed row (chunkenc/block.h). Until then they are in the WAL (segments and
  // checkpoints), as before. Persist() (shutdown, checkpoint, backup) writes everything.
  // A clean close checkpoints the head (the next Open replays only the open chunks). Tests of
  // WAL repair turn it off to keep the records in the segments.
  bool checkpoint_on_close = true;
  int persist_min_chunks = 4;
  int64_t persist_max_age_ms = 4ll * 3600 * 1000;
  uint64_t checkpoint_wal_bytes = 256ull << 20;  // checkpoint when the WAL grows past this
  int64_t retention_interval_ms = 60000;
  bool background = true;  // run persist/checkpoint/retention in a thread
  // Inflated group blocks kept for queries (block_cache.h); 0 disables the cache.
  size_t block_cache_bytes = size_t{512} << 20;
};

struct Stats {
  std::atomic<uint64_t> head_series{0};
  std::atomic<uint64_t> samples_appended{0};
  std::atomic<uint64_t> out_of_order{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> chunks_persisted{0};
  std::atomic<uint64_t> persist_failures{0};
  std::atomic<uint64_t> checkpoints{0};
  std::atomic<uint64_t> wal_records_replayed{0};
  std::atomic<uint64_t> wal_write_failures{0};
  std::atomic<uint64_t> retention_deleted_chunks{0};
  std::atomic<uint64_t> head_chunks{0};
};

class DB : public storage::Appendable, public storage::Queryable {
 public:
  // Opens or creates the store under opts.dir, replaying the WAL. Corruption of the SQLite file
  // is an error; a torn WAL tail is cut and logged.
  static Result<std::unique_ptr<DB>> Open(Options opts, common::log::Logger log);
  ~DB() override;

  std::unique_ptr<storage::Appender> NewAppender() override;
  Result<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint, int64_t maxt) override;

  // Background work, callable directly (tests, shutdown, lookout-tool). Persist(false) writes only
  // the series that are due (persist_min_chunks / persist_max_age_ms); Persist() all closed chunks.
  Status Persist(bool all = true);
  Status Checkpoint();
  Status ApplyRetention(int64_t now_ms);

  const Stats& stats() const { return stats_; }
  uint64_t WalBytes();
  uint64_t WalFsyncs() const { return wal_ ? wal_->fsyncs() : 0; }
  uint64_t DbBytes() const;
  const Options& options() const { return opts_; }
  // The block cache's counters (0 when disabled).
  uint64_t BlockCacheHits() const;
  uint64_t BlockCacheMisses() const;
  uint64_t BlockCacheBytes() const;
  // Copies a consistent snapshot (SQLite online backup + a fresh checkpoint of the head) to
  // `dest_dir`, which must not exist. Runs while appends continue.
  Status Backup(const std::string& dest_dir);

  struct MemSeries;
  struct Stripe;

 private:
  DB(Options opts, common::log::Logger log);
  Status Init();
  MemSeries* GetByRef(SeriesRef ref);
  Result<MemSeries*> GetOrCreate(const storage::Labels& l, bool log_to_wal, SeriesRef want_ref);
  // The series matching all of `ms` (absent labels read as ""), unordered.
  std::vector<MemSeries*> MatchSeries(std::span<const storage::Matcher> ms);
  // True when the head of `s` holds exactly (t, v) (bit-equal value).
  bool HasSample(MemSeries* s, int64_t t, double v);
  void Background();
  // Deletes the group blocks that `select_sql` (columns id, window, refs; ?1 = arg)
  // returns, with their block_series rows, in one transaction. Returns how many. Needs writer_mu_.
  Result<uint64_t> DeleteBlocks(const char* select_sql, int64_t arg);
  std::unique_ptr<common::sqlite::Db> TakeReader();
  void ReturnReader(std::unique_ptr<common::sqlite::Db> db);

  friend class HeadAppender;
  friend class DBQuerier;

  Options opts_;
  common::log::Logger log_;
  Stats stats_;
  std::unique_ptr<Stripe[]> stripes_;
  std::shared_mutex index_mu_;
  std::unordered_map<std::string, std::unordered_map<std::string, std::vector<SeriesRef>>> postings_;
  std::unique_ptr<wal::Wal> wal_;
  std::mutex writer_mu_;  // the SQLite writer connection and Persist/Checkpoint/Retention
  std::unique_ptr<common::sqlite::Db> writer_;
  std::unique_ptr<BlockCache> block_cache_;  // null when disabled
  bool has_legacy_chunks_ = true;  // the chunks table of older files has rows (set by Init)
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<common::sqlite::Db>> readers_;
  std::thread bg_;
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stopping_ = false;
};

// Copies the store in `src_dir` to `dest_dir` (which must not exist) while a collector may be
// writing it: SQLite's online backup of lookout.db, then the WAL directory; repeated when a
// checkpoint ran in between, so the copy is always a consistent state.
Status BackupDir(const std::string& src_dir, const std::string& dest_dir);

struct InspectResult {
  uint64_t series = 0;
  uint64_t chunks = 0;         // rows of the chunks table (a block or a plain XOR chunk each)
  uint64_t samples = 0;        // in persisted chunks
  uint64_t chunk_bytes = 0;    // payload bytes of persisted chunks
  uint64_t db_file_bytes = 0;  // lookout.db (+ its -wal)
  uint64_t wal_bytes = 0;
  uint64_t wal_records = 0;
  uint64_t wal_samples = 0;
  int64_t min_time = 0, max_time = 0;
};
// Reads a store without modifying it (safe while a collector runs).
Result<InspectResult> InspectDir(const std::string& dir);

// Label-set encoding shared by the WAL and the series table: uvarint count, then
// uvarint-length-prefixed name and value of each label.
void EncodeLabels(std::string& out, const storage::Labels& l);
bool DecodeLabels(std::string_view& in, storage::Labels& out);

}  // namespace collector::tsdb
