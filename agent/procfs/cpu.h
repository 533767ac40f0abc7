#pragma once
// Parsers shared by the CPU-side collectors (stat, cpu, cpufreq): /proc/stat and the kernel's
// CPU list format ("0-3,8,10-11"). Pure functions of their input, so tests feed them fixtures.
// Errors: malformed input is InvalidArgument naming `path`. Thread affinity: none.

#include <charconv>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace agent::procfs {

using common::Status;

// Seconds one CPU spent in each mode (ticks of /proc/stat divided by USER_HZ = 100).
struct CpuTimes {
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0,
         guest = 0, guest_nice = 0;
};

// The softirq vectors of the "softirq" line, in the kernel's order.
enum SoftirqVector {
  kSoftirqHi,
  kSoftirqTimer,
  kSoftirqNetTx,
  kSoftirqNetRx,
  kSoftirqBlock,
  kSoftirqBlockIoPoll,
  kSoftirqTasklet,
  kSoftirqSched,
  kSoftirqHrtimer,
  kSoftirqRcu,
  kSoftirqVectorCount,
};

struct ProcStat {
  uint64_t boot_time = 0;
  uint64_t irq_total = 0;
  uint64_t context_switches = 0;
  uint64_t processes_created = 0;
  uint64_t procs_running = 0;
  uint64_t procs_blocked = 0;
  uint64_t softirq_total = 0;
  uint64_t softirq[kSoftirqVectorCount] = {};
  CpuTimes cpu_total;
  // Per-CPU lines in file order: (cpu number, times).
  std::vector<std::pair<int64_t, CpuTimes>> cpus;
};

// Parses the content of /proc/stat into `out` (reset first; the cpus vector keeps its capacity).
// Like the procfs library node_exporter uses: lines with fewer than two fields are skipped, a cpu
// line may carry fewer than ten counters (the rest stay 0), and any counter that does not parse
// is an error.
Status ParseProcStat(std::string_view content, std::string_view path, ProcStat& out);

// Parses a CPU list such as "1,3-5,9" (trailing newline allowed, empty means none) into `out`
// (cleared first).
Status ParseCpuList(std::string_view s, std::string_view path, std::vector<uint32_t>& out);

// Decimal text of `v` written into `buf`, for label values without allocating.
inline std::string_view UintText(uint64_t v, char (&buf)[24]) {
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
}

}  // namespace agent::procfs
