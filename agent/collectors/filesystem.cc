// filesystem: node_filesystem_* for every mount of /proc/1/mountinfo (falling back to
// /proc/self/mountinfo when pid 1's is missing), sized with statfs(2) under --path.rootfs.
//
// node_exporter 1.12 semantics:
// - mounts are filtered by --collector.filesystem.mount-points-exclude/-include and
//   fs-types-exclude/-include (defaults below; setting an include without its exclude drops the
//   default exclude; the deprecated ignored-mount-points / ignored-fs-types replace the excludes).
// - node_filesystem_readonly is 1 when the per-mount or per-superblock options contain "ro".
// - a failed statfs reports node_filesystem_device_error 1 (and readonly) with the error text in
//   the device_error label, and no size metrics.
// - --collector.filesystem.mount-timeout: statfs runs on helper threads
//   (--collector.filesystem.stat-workers of them). A call still running after the timeout marks
//   the mount point stuck: it is reported with device_error="mountpoint timeout" and not statted
//   again until the hung call returns. The scrape never waits for a hung call: the stuck thread
//   is replaced and left to finish on its own.
// - series with identical labels (the same device mounted twice at one place) are exported once.

#include <sys/statfs.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"
#include "agent/procfs/mountinfo.h"

namespace agent {
namespace {

constexpr char kMountExcludeFlag[] = "collector.filesystem.mount-points-exclude";
constexpr char kMountIncludeFlag[] = "collector.filesystem.mount-points-include";
constexpr char kOldMountExcludeFlag[] = "collector.filesystem.ignored-mount-points";
constexpr char kTypeExcludeFlag[] = "collector.filesystem.fs-types-exclude";
constexpr char kTypeIncludeFlag[] = "collector.filesystem.fs-types-include";
constexpr char kOldTypeExcludeFlag[] = "collector.filesystem.ignored-fs-types";
constexpr char kTimeoutFlag[] = "collector.filesystem.mount-timeout";
constexpr char kWorkersFlag[] = "collector.filesystem.stat-workers";

constexpr char kDefaultMountExclude[] =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
constexpr char kDefaultTypeExclude[] =
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    "erofs|sysfs|tracefs)$";
constexpr char kStuckError[] = "mountpoint timeout";

using Clock = std::chrono::steady_clock;

// Go's time.ParseDuration for the forms flags use ("5s", "500ms", "1m30s", "1.5h").
bool ParseGoDuration(std::string_view s, std::chrono::nanoseconds& out) {
  if (s == "0") {
    out = std::chrono::nanoseconds(0);
    return true;
  }
  if (s.empty()) return false;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0) return false;
    double v;
    if (!procfs::ParseDouble(s.substr(0, i), v)) return false;
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else
      return false;
    total += v * mult;
  }
  out = std::chrono::nanoseconds(static_cast<int64_t>(total));
  return true;
}

// Go's syscall.Errno strings are strerror's with a lower-case first letter.
std::string ErrnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

// One statfs call, shared between the collector and the helper thread running it.
struct StatJob {
  std::string path;         // what statfs is called on (rootfs + mount point)
  std::string mount_point;  // the stuck-set key
  bool started = false, done = false, abandoned = false;
  Clock::time_point start;
  int err = 0;
  struct statfs buf = {};
};

// The helper threads and the set of stuck mount points. Shared with the threads, so it lives
// as long as any of them (a thread hung in statfs outlives the collector).
struct StatPool {
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::deque<std::shared_ptr<StatJob>> queue;
  std::unordered_set<std::string> stuck;
  bool stopping = false;

  static void Work(std::shared_ptr<StatPool> pool) {
    std::unique_lock<std::mutex> lock(pool->mu);
    for (;;) {
      pool->work_cv.wait(lock, [&] { return pool->stopping || !pool->queue.empty(); });
      if (pool->queue.empty()) return;  // stopping
      std::shared_ptr<StatJob> job = std::move(pool->queue.front());
      pool->queue.pop_front();
      job->started = true;
      job->start = Clock::now();
      lock.unlock();
      struct statfs buf;
      int err = ::statfs(job->path.c_str(), &buf) == 0 ? 0 : errno;
      lock.lock();
      job->buf = buf;
      job->err = err;
      job->done = true;
      pool->done_cv.notify_all();
      if (job->abandoned) {
        // The mount answered after all: monitor it again. A replacement thread took this one's
        // place, so this one ends.
        pool->stuck.erase(job->mount_point);
        return;
      }
    }
  }

  // Starts one helper thread; false when the system refuses one.
  static bool Spawn(const std::shared_ptr<StatPool>& pool) {
    try {
      std::thread(Work, pool).detach();
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }
};

struct Options {
  procfs::RegexFilter mount_filter, type_filter;
  std::chrono::nanoseconds timeout{std::chrono::seconds(5)};
  int workers = 4;
};

class FilesystemCollector : public Collector {
 public:
  FilesystemCollector(const CollectorContext& ctx, Options opts)
      : mountinfo_1_(ctx.paths.Proc("1/mountinfo")),
        mountinfo_self_(ctx.paths.Proc("self/mountinfo")),
        rootfs_(ctx.paths.rootfs),
        opts_(std::move(opts)),
        pool_(std::make_shared<StatPool>()) {}

  ~FilesystemCollector() override {
    std::lock_guard<std::mutex> lock(pool_->mu);
    pool_->stopping = true;
    pool_->work_cv.notify_all();
  }

  Status Update(MetricSet& out) override {
    LOOKOUT_RETURN_IF_ERROR(StartWorkers());
    Status st = procfs::ReadFile(mountinfo_1_, buf_);
    if (st.IsNotFound()) st = procfs::ReadFile(mountinfo_self_, buf_);
    LOOKOUT_RETURN_IF_ERROR(st);

    // Parse and filter every mount before statting any.
    mount_count_ = 0;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::MountInfo mi;
      st = procfs::ParseMountInfoLine(line, mi, fields_);
      if (!st.ok()) return;
      Mount& m = NextMount();
      m.device.assign(mi.source);
      m.mount_point.assign(mi.mount_point);
      ReplaceAll(m.mount_point, "\\040", " ");
      ReplaceAll(m.mount_point, "\\011", "\t");
      StripRootfs(m.mount_point);
      m.fs_type.assign(mi.fs_type);
      m.major = mi.major;
      m.minor = mi.minor;
      m.ro = procfs::HasMountOption(mi.options, "ro") ||
             procfs::HasMountOption(mi.super_options, "ro");
      if (opts_.mount_filter.Ignored(m.mount_point) || opts_.type_filter.Ignored(m.fs_type)) {
        --mount_count_;
      }
    });
    LOOKOUT_RETURN_IF_ERROR(st);

    LOOKOUT_RETURN_IF_ERROR(StatAll());

    emitted_.clear();
    for (size_t i = 0; i < mount_count_; ++i) Emit(out, mounts_[i]);
    return Status::Ok();
  }

 private:
  struct Mount {
    std::string device, mount_point, fs_type, error;
    uint32_t major = 0, minor = 0;
    bool ro = false;
    std::shared_ptr<StatJob> job;
    double size = 0, free = 0, avail = 0, files = 0, files_free = 0;
  };

  Mount& NextMount() {
    if (mount_count_ == mounts_.size()) mounts_.emplace_back();
    Mount& m = mounts_[mount_count_++];
    m.error.clear();
    m.job.reset();
    return m;
  }

  static void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
  }

  // node_exporter's rootfsStripPrefix.
  void StripRootfs(std::string& mp) const {
    if (rootfs_ == "/") return;
    if (mp.compare(0, rootfs_.size(), rootfs_) == 0) mp.erase(0, rootfs_.size());
    if (mp.empty()) mp = "/";
  }

  Status StartWorkers() {
    while (started_workers_ < opts_.workers) {
      if (!StatPool::Spawn(pool_)) return Status::ResourceExhausted("cannot start statfs thread");
      ++started_workers_;
    }
    return Status::Ok();
  }

  // Queues a statfs per mount (skipping stuck ones) and waits for each, at most the mount
  // timeout after it started.
  Status StatAll() {
    std::unique_lock<std::mutex> lock(pool_->mu);
    size_t pending = 0;
    for (size_t i = 0; i < mount_count_; ++i) {
      Mount& m = mounts_[i];
      if (pool_->stuck.count(m.mount_point) != 0) {
        m.error = kStuckError;
        continue;
      }
      m.job = AcquireJob();
      m.job->path.assign(rootfs_);
      if (m.job->path.empty() || m.job->path.back() != '/') m.job->path += '/';
      m.job->path.append(m.mount_point, m.mount_point[0] == '/' ? 1 : 0);
      m.job->mount_point = m.mount_point;
      pool_->queue.push_back(m.job);
      ++pending;
    }
    pool_->work_cv.notify_all();

    while (pending > 0) {
      Clock::time_point now = Clock::now(), wake = Clock::time_point::max();
      for (size_t i = 0; i < mount_count_; ++i) {
        Mount& m = mounts_[i];
        if (!m.job) continue;
        StatJob& j = *m.job;
        if (j.done) {
          Finish(m);
          --pending;
        } else if (j.started) {
          Clock::time_point deadline = j.start + opts_.timeout;
          if (now >= deadline) {
            // Hung: remember the mount as stuck and replace the thread stuck in it.
            j.abandoned = true;
            pool_->stuck.insert(j.mount_point);
            m.error = kStuckError;
            m.job.reset();
            --pending;
            if (!StatPool::Spawn(pool_)) {
              return Status::ResourceExhausted("cannot replace a hung statfs thread");
            }
          } else if (deadline < wake) {
            wake = deadline;
          }
        }
      }
      if (pending == 0) break;
      if (wake == Clock::time_point::max()) {
        pool_->done_cv.wait(lock);
      } else {
        pool_->done_cv.wait_until(lock, wake);
      }
    }
    return Status::Ok();
  }

  void Finish(Mount& m) {
    const StatJob& j = *m.job;
    if (j.err != 0) {
      m.error = ErrnoText(j.err);
    } else {
      double bsize = static_cast<double>(j.buf.f_bsize);
      m.size = static_cast<double>(j.buf.f_blocks) * bsize;
      m.free = static_cast<double>(j.buf.f_bfree) * bsize;
      m.avail = static_cast<double>(j.buf.f_bavail) * bsize;
      m.files = static_cast<double>(j.buf.f_files);
      m.files_free = static_cast<double>(j.buf.f_ffree);
    }
    m.job.reset();
  }

  // A job object no helper thread holds any more (pool lock held).
  std::shared_ptr<StatJob> AcquireJob() {
    for (auto& j : jobs_) {
      if (j.use_count() == 1) {
        j->started = j->done = j->abandoned = false;
        j->err = 0;
        return j;
      }
    }
    jobs_.push_back(std::make_shared<StatJob>());
    return jobs_.back();
  }

  void Emit(MetricSet& out, const Mount& m) {
    // Each series once, the first mount winning: node_exporter skips identical label sets and
    // its registry drops the later duplicates of a series (e.g. two mounts stacked on one
    // mount point, which differ only in major:minor).
    bool failed = !m.error.empty();
    bool dup = false, dup_info = failed;
    for (const Mount* e : emitted_) {
      if (e->device == m.device && e->mount_point == m.mount_point && e->fs_type == m.fs_type &&
          e->error == m.error) {
        dup = true;
      }
      if (e->error.empty() && e->device == m.device && e->mount_point == m.mount_point &&
          e->major == m.major && e->minor == m.minor) {
        dup_info = true;
      }
    }
    emitted_.push_back(&m);
    if (!dup) EmitStats(out, m);
    if (!dup_info) {
      char major[16], minor[16];
      std::snprintf(major, sizeof major, "%u", m.major);
      std::snprintf(minor, sizeof minor, "%u", m.minor);
      out.Gauge("node_filesystem_mount_info", "Device numbers of a mount.", 1,
                {{"device", m.device},
                 {"major", major},
                 {"minor", minor},
                 {"mountpoint", m.mount_point}});
    }
  }

  void EmitStats(MetricSet& out, const Mount& m) {
    bool failed = !m.error.empty();
    bool stuck = m.error == kStuckError;
    std::initializer_list<common::metrics::Label> labels = {{"device", m.device},
                                                            {"mountpoint", m.mount_point},
                                                            {"fstype", m.fs_type},
                                                            {"device_error", m.error}};
    out.Gauge("node_filesystem_device_error", "1 when statfs failed for this mount.",
              failed ? 1 : 0, labels);
    out.Gauge("node_filesystem_readonly", "1 when the filesystem is mounted read-only.",
              !stuck && m.ro ? 1 : 0, labels);
    if (failed) return;
    out.Gauge("node_filesystem_size_bytes", "Total size of the filesystem, in bytes.", m.size,
              labels);
    out.Gauge("node_filesystem_free_bytes", "Free bytes, including those reserved for root.",
              m.free, labels);
    out.Gauge("node_filesystem_avail_bytes", "Bytes available to unprivileged users.", m.avail,
              labels);
    out.Gauge("node_filesystem_files", "Inodes in the filesystem.", m.files, labels);
    out.Gauge("node_filesystem_files_free", "Free inodes.", m.files_free, labels);
  }

  std::string mountinfo_1_, mountinfo_self_, rootfs_;
  Options opts_;
  std::shared_ptr<StatPool> pool_;
  int started_workers_ = 0;
  std::string buf_;
  std::vector<std::string_view> fields_;
  std::vector<Mount> mounts_;
  size_t mount_count_ = 0;
  std::vector<std::shared_ptr<StatJob>> jobs_;
  std::vector<const Mount*> emitted_;
};

// node_exporter's include/exclude handling for one pair of filesystem flags. FlagValues cannot
// tell a flag set to its default from an unset one, so "set" means "differs from the default".
Result<procfs::RegexFilter> MakeFilter(const FlagValues& f, const char* exclude_flag,
                                       const char* include_flag, const char* old_flag,
                                       const char* default_exclude) {
  std::string exclude = f.Get(exclude_flag), include = f.Get(include_flag);
  std::string old = f.Get(old_flag);
  bool exclude_set = exclude != default_exclude;
  if (!old.empty()) {
    if (exclude_set) {
      return Status::InvalidArgument("--" + std::string(old_flag) + " and --" + exclude_flag +
                                     " are mutually exclusive");
    }
    exclude = old;
    exclude_set = true;
  }
  if (!include.empty() && !exclude_set) exclude.clear();
  if (!include.empty() && !exclude.empty()) {
    return Status::InvalidArgument("--" + std::string(exclude_flag) + " and --" + include_flag +
                                   " are mutually exclusive");
  }
  return procfs::RegexFilter::Make(exclude, include);
}

Result<std::unique_ptr<Collector>> Make(const CollectorContext& ctx) {
  Options o;
  auto mounts = MakeFilter(ctx.flags, kMountExcludeFlag, kMountIncludeFlag, kOldMountExcludeFlag,
                           kDefaultMountExclude);
  if (!mounts.ok()) return mounts.status().Annotate("filesystem mount point filter");
  o.mount_filter = std::move(mounts).value();
  auto types = MakeFilter(ctx.flags, kTypeExcludeFlag, kTypeIncludeFlag, kOldTypeExcludeFlag,
                          kDefaultTypeExclude);
  if (!types.ok()) return types.status().Annotate("filesystem type filter");
  o.type_filter = std::move(types).value();
  if (!ParseGoDuration(ctx.flags.Get(kTimeoutFlag), o.timeout)) {
    return Status::InvalidArgument("bad --collector.filesystem.mount-timeout \"" +
                                   ctx.flags.Get(kTimeoutFlag) + "\"");
  }
  int64_t workers;
  if (!procfs::ParseInt(ctx.flags.Get(kWorkersFlag), workers)) {
    return Status::InvalidArgument("bad --collector.filesystem.stat-workers \"" +
                                   ctx.flags.Get(kWorkersFlag) + "\"");
  }
  o.workers = static_cast<int>(workers < 1 ? 1 : workers > 64 ? 64 : workers);
  return std::unique_ptr<Collector>(std::make_unique<FilesystemCollector>(ctx, std::move(o)));
}

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "filesystem",
    .default_enabled = true,
    .flags =
        {
            {kMountExcludeFlag,
             "Regexp of mount points to exclude (mutually exclusive to mount-points-include).",
             kDefaultMountExclude, FlagSpec::Kind::kString},
            {kMountIncludeFlag,
             "Regexp of mount points to include (mutually exclusive to mount-points-exclude).", "",
             FlagSpec::Kind::kString},
            {kOldMountExcludeFlag, "DEPRECATED: use collector.filesystem.mount-points-exclude.", "",
             FlagSpec::Kind::kString},
            {kTypeExcludeFlag,
             "Regexp of filesystem types to exclude (mutually exclusive to fs-types-include).",
             kDefaultTypeExclude, FlagSpec::Kind::kString},
            {kTypeIncludeFlag,
             "Regexp of filesystem types to include (mutually exclusive to fs-types-exclude).", "",
             FlagSpec::Kind::kString},
            {kOldTypeExcludeFlag, "DEPRECATED: use collector.filesystem.fs-types-exclude.", "",
             FlagSpec::Kind::kString},
            {kTimeoutFlag,
             "How long a statfs may take before its mount point is reported stuck and skipped.",
             "5s", FlagSpec::Kind::kString},
            {kWorkersFlag, "Number of statfs calls run at the same time.", "4",
             FlagSpec::Kind::kString},
        },
    .make = Make,
});

}  // namespace agent
