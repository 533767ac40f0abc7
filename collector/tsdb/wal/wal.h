#pragma once
// Write-ahead log of the head: numbered segment files (dir/00000001, ...) of framed records,
// plus checkpoints (dir/checkpoint.NNNNNNNN) that replace the segments before NNNNNNNN.
//
// Record frame: u32 little-endian payload length, u32 little-endian CRC-32 (zlib) of the payload,
// then the payload. Log() hands the bytes to the kernel with write(2) before it returns, so a
// process crash (kill -9) loses nothing acknowledged. fsync happens when a segment is closed and
// when a checkpoint is written (SyncPolicy::kSegment, Prometheus' default); kEveryCommit adds an
// fdatasync per Log(). A power cut can lose what the kernel had not written back in the open
// segment (docs/tsdb.md).
// Thread-safe: Log(), Rotate() and segment queries take an internal mutex.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/log/log.h"

namespace collector::tsdb::wal {

using common::Result;
using common::Status;

enum class SyncPolicy { kSegment, kEveryCommit };

struct Options {
  std::string dir;
  uint64_t segment_bytes = 128ull << 20;
  SyncPolicy sync = SyncPolicy::kSegment;
};

struct ReplayStats {
  uint64_t records = 0;
  uint64_t segments = 0;
  uint64_t dropped_bytes = 0;  // cut from a torn or corrupt tail
};

class Wal {
 public:
  // Opens the log for appending: a new segment after the last existing one.
  static Result<std::unique_ptr<Wal>> Open(Options opts, common::log::Logger log);
  ~Wal();

  // Appends one record. IOError / ResourceExhausted (disk full) leave the log usable: the
  // partial frame is cut off again.
  Status Log(std::string_view payload);
  // Closes (fsyncs) the current segment and opens the next; returns the new segment's number.
  Result<uint32_t> Rotate();
  uint32_t CurrentSegment();
  // Bytes in all segment and checkpoint files.
  uint64_t DiskBytes();
  uint64_t fsyncs() const { return fsyncs_.load(); }

  // Writes checkpoint `seg` atomically (temp file, fsync, rename) from the given records, then
  // deletes segments numbered below `seg` and older checkpoints.
  Status WriteCheckpoint(uint32_t seg, const std::function<void(
                                           const std::function<void(std::string_view)>&)>& produce);

  // Reads the newest checkpoint and every later segment in order, calling fn for each record.
  // A torn or corrupt record ends the replay of that file; the file is truncated there and later
  // segments are deleted (as Prometheus' repair), with a log line saying what was dropped.
  // With repair=false (inspection of a live log) nothing is truncated or deleted.
  static Result<ReplayStats> Replay(const std::string& dir, common::log::Logger& log,
                                    const std::function<void(std::string_view)>& fn,
                                    bool repair = true);

 private:
  Wal(Options opts, common::log::Logger log) : opts_(std::move(opts)), log_(std::move(log)) {}
  Status OpenSegment(uint32_t n);
  Status CloseSegment();

  Options opts_;
  common::log::Logger log_;
  std::mutex mu_;
  int fd_ = -1;
  uint32_t seg_ = 0;
  uint64_t seg_size_ = 0;
  std::atomic<uint64_t> fsyncs_{0};
  std::string frame_;
};

}  // namespace collector::tsdb::wal
