#include "collector/tsdb/wal/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace collector::tsdb::wal {
namespace fs = std::filesystem;

namespace {

std::string SegName(const std::string& dir, uint32_t n) {
  char b[16];
  std::snprintf(b, sizeof b, "%08u", n);
  return dir + "/" + b;
}

// Segment numbers and checkpoint numbers present in dir, sorted.
void Scan(const std::string& dir, std::vector<uint32_t>& segs, std::vector<uint32_t>& cps) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.size() == 8 && std::all_of(n.begin(), n.end(), ::isdigit)) {
      segs.push_back(static_cast<uint32_t>(std::stoul(n)));
    } else if (n.rfind("checkpoint.", 0) == 0 && n.size() == 19 && n.find(".tmp") == std::string::npos) {
      cps.push_back(static_cast<uint32_t>(std::stoul(n.substr(11))));
    }
  }
  std::sort(segs.begin(), segs.end());
  std::sort(cps.begin(), cps.end());
}

void PutU32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

void Frame(std::string& out, std::string_view payload) {
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(payload.data()),
                                          static_cast<uInt>(payload.size()))));
  out.append(payload);
}

Status WriteAll(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return e == ENOSPC ? Status::ResourceExhausted("write " + what + ": no space left on device")
                         : Status::FromErrno(e, "write " + what);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Reads records of one file; returns the offset of the first bad byte (file size when clean).
uint64_t ReadFile(const std::string& path, const std::function<void(std::string_view)>& fn,
                  uint64_t& records) {
  std::string data;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t off = 0;
  while (off + 8 <= data.size()) {
    uint32_t len = GetU32(data.data() + off);
    uint32_t crc = GetU32(data.data() + off + 4);
    if (off + 8 + len > data.size()) break;
    std::string_view payload(data.data() + off + 8, len);
    if (crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(len)) != crc) {
      break;
    }
    fn(payload);
    ++records;
    off += 8 + len;
  }
  return off;
}

}  // namespace

Result<std::unique_ptr<Wal>> Wal::Open(Options opts, common::log::Logger log) {
  std::error_code ec;
  fs::create_directories(opts.dir, ec);
  if (ec) return Status::IOError("create " + opts.dir + ": " + ec.message());
  std::vector<uint32_t> segs, cps;
  Scan(opts.dir, segs, cps);
  uint32_t next = 1;
  if (!segs.empty()) next = segs.back() + 1;
  if (!cps.empty()) next = std::max(next, cps.back());
  std::unique_ptr<Wal> w(new Wal(std::move(opts), std::move(log)));
  LOOKOUT_RETURN_IF_ERROR(w->OpenSegment(next));
  return w;
}

Wal::~Wal() {
  std::lock_guard<std::mutex> l(mu_);
  (void)CloseSegment();
}

Status Wal::OpenSegment(uint32_t n) {
  std::string path = SegName(opts_.dir, n);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::FromErrno(errno, "open " + path);
  struct stat st;
  seg_size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  seg_ = n;
  SyncDir(opts_.dir);
  return Status::Ok();
}

Status Wal::CloseSegment() {
  if (fd_ < 0) return Status::Ok();
  Status s;
  if (::fsync(fd_) != 0) s = Status::FromErrno(errno, "fsync wal segment");
  ++fsyncs_;
  ::close(fd_);
  fd_ = -1;
  return s;
}

Status Wal::Log(std::string_view payload) {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) return Status::IOError("wal is closed");
  if (seg_size_ > 0 && seg_size_ + payload.size() + 8 > opts_.segment_bytes) {
    LOOKOUT_RETURN_IF_ERROR(CloseSegment());
    LOOKOUT_RETURN_IF_ERROR(OpenSegment(seg_ + 1));
  }
  frame_.clear();
  Frame(frame_, payload);
  Status s = WriteAll(fd_, frame_.data(), frame_.size(), SegName(opts_.dir, seg_));
  if (!s.ok()) {
    // Cut a partial frame so the segment stays readable past this point.
    if (::ftruncate(fd_, static_cast<off_t>(seg_size_)) != 0) {
      log_.Error("cannot cut partial wal record", {{"err", std::strerror(errno)}});
    }
    return s;
  }
  seg_size_ += frame_.size();
  if (opts_.sync == SyncPolicy::kEveryCommit) {
    ::fdatasync(fd_);
    ++fsyncs_;
  }
  return Status::Ok();
}

Result<uint32_t> Wal::Rotate() {
  std::lock_guard<std::mutex> l(mu_);
  LOOKOUT_RETURN_IF_ERROR(CloseSegment());
  LOOKOUT_RETURN_IF_ERROR(OpenSegment(seg_ + 1));
  return seg_;
}

uint32_t Wal::CurrentSegment() {
  std::lock_guard<std::mutex> l(mu_);
  return seg_;
}

uint64_t Wal::DiskBytes() {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(opts_.dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

Status Wal::WriteCheckpoint(
    uint32_t seg,
    const std::function<void(const std::function<void(std::string_view)>&)>& produce) {
  char name[32];
  std::snprintf(name, sizeof name, "checkpoint.%08u", seg);
  std::string final_path = opts_.dir + "/" + name;
  std::string tmp = final_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "open " + tmp);
  std::string buf;
  Status st;
  produce([&](std::string_view rec) {
    if (!st.ok()) return;
    Frame(buf, rec);
    if (buf.size() > (1 << 20)) {
      st = WriteAll(fd, buf.data(), buf.size(), tmp);
      buf.clear();
    }
  });
  if (st.ok()) st = WriteAll(fd, buf.data(), buf.size(), tmp);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno(errno, "fsync " + tmp);
  ::close(fd);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) return Status::FromErrno(errno, "rename " + tmp);
  SyncDir(opts_.dir);
  std::vector<uint32_t> segs, cps;
  Scan(opts_.dir, segs, cps);
  for (uint32_t s : segs) {
    if (s < seg) ::unlink(SegName(opts_.dir, s).c_str());
  }
  for (uint32_t c : cps) {
    if (c < seg) {
      std::snprintf(name, sizeof name, "checkpoint.%08u", c);
      ::unlink((opts_.dir + "/" + name).c_str());
    }
  }
  return Status::Ok();
}

Result<ReplayStats> Wal::Replay(const std::string& dir, common::log::Logger& log,
                                const std::function<void(std::string_view)>& fn, bool repair) {
  ReplayStats stats;
  std::vector<uint32_t> segs, cps;
  Scan(dir, segs, cps);
  // Leftover temporary checkpoints are incomplete: remove them.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (repair && e.path().extension() == ".tmp") fs::remove(e.path(), ec);
  }
  uint32_t from = 0;
  if (!cps.empty()) {
    from = cps.back();
    char name[32];
    std::snprintf(name, sizeof name, "checkpoint.%08u", from);
    std::string path = dir + "/" + name;
    uint64_t good = ReadFile(path, fn, stats.records);
    if (good != fs::file_size(path, ec)) {
      return Status::Corruption("checkpoint " + path + " is corrupt at byte " + std::to_string(good));
    }
  }
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i] < from) continue;
    std::string path = SegName(dir, segs[i]);
    uint64_t size = fs::file_size(path, ec);
    uint64_t good = ReadFile(path, fn, stats.records);
    ++stats.segments;
    if (good == size) continue;
    stats.dropped_bytes += size - good;
    if (!repair) continue;  // a live segment may end in a record being written
    // Torn write or corruption: keep what precedes it, drop the rest of the log.
    if (::truncate(path.c_str(), static_cast<off_t>(good)) != 0) {
      return Status::FromErrno(errno, "truncate " + path);
    }
    std::vector<std::string> removed;
    for (size_t j = i + 1; j < segs.size(); ++j) {
      std::string later = SegName(dir, segs[j]);
      stats.dropped_bytes += fs::file_size(later, ec);
      fs::remove(later, ec);
      removed.push_back(later);
    }
    log.Warn("wal: dropped a torn or corrupt tail", {{"segment", path},
                                                    {"kept_bytes", std::to_string(good)},
                                                    {"dropped_bytes", std::to_string(size - good)},
                                                    {"later_segments_removed", std::to_string(removed.size())}});
    break;
  }
  return stats;
}

}  // namespace collector::tsdb::wal
