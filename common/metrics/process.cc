#include "common/metrics/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace common::metrics {
namespace {

bool ReadSmall(const char* path, char* buf, size_t cap, size_t& n) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t r = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (r <= 0) return false;
  n = static_cast<size_t>(r);
  buf[n] = 0;
  return true;
}

double BootTimeSeconds() {
  char buf[8192];
  size_t n;
  if (!ReadSmall("/proc/stat", buf, sizeof buf, n)) return 0;
  const char* p = std::strstr(buf, "\nbtime ");
  return p ? std::strtod(p + 7, nullptr) : 0;
}

}  // namespace

void AddProcessMetrics(MetricSet& out) {
  char buf[1024];
  size_t n;
  if (ReadSmall("/proc/self/stat", buf, sizeof buf, n)) {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const char* p = std::strrchr(buf, ')');
    if (p != nullptr) {
      p += 2;
      double f[24] = {};
      int i = 0;
      // Field 3 (state) is a letter; parse numbers from field 4 on.
      while (*p && *p != ' ') ++p;
      for (i = 0; i < 24 && *p; ++i) {
        while (*p == ' ') ++p;
        f[i] = std::strtod(p, const_cast<char**>(&p));
      }
      // f[0] is field 4 (ppid): utime=14, stime=15, starttime=22, vsize=23, rss=24.
      double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
      double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      out.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                  (f[10] + f[11]) / tick);
      out.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", f[19]);
      out.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", f[20] * page);
      out.Gauge("process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                BootTimeSeconds() + f[18] / tick);
    }
  }
  int fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++fds;
    }
    ::closedir(d);
    out.Gauge("process_open_fds", "Number of open file descriptors.", fds - 1);  // minus the DIR
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    out.Gauge("process_max_fds", "Maximum number of open file descriptors.",
              static_cast<double>(rl.rlim_cur));
  }
  if (getrlimit(RLIMIT_AS, &rl) == 0) {
    out.Gauge("process_virtual_memory_max_bytes",
              "Maximum amount of virtual memory available in bytes.",
              // RLIM_INFINITY is 2^64-1, reported as Go's client reports it.
              static_cast<double>(rl.rlim_cur));
  }
}

}  // namespace common::metrics
