#pragma once
// Registry: runs the enabled collectors concurrently under a deadline and encodes the result.
//
// Collectors run on a small elastic pool of runner threads (Options::parallelism runners free to
// take work). A scrape queues every idle collector, waits until all finish or the deadline
// (--collector.timeout) passes, and encodes the sets of those that finished, plus
// node_scrape_collector_success / _duration_seconds per collector. A collector still running past
// the deadline (a read hung on a dead NFS mount) is reported failed and is not started again
// until it returns; the scrape never waits for it. Its runner is stuck with it, so the next scrape
// starts a replacement runner: hung reads never exhaust the pool, and a runner whose stuck call
// returns exits if the pool has more free runners than it needs. Within a scrape, every
// min(1s, timeout/5) with collectors still queued and every runner inside a collector, one more
// runner is started, so collectors hung in the first scrape do not hold up the others. Collectors
// still queued at the deadline are reported failed too.
// Why a pool rather than a thread per collector: waking ~45 threads per scrape cost more CPU (in
// futex calls and context switches) than the collectors themselves on a 2-core VM, and each thread
// kept a few pages of stack and a malloc arena resident (bench/agent_vs_node_exporter).
// A failure is logged once at error level; the same failure in later scrapes is logged at debug
// level only, so a host without ZFS does not log a line per scrape (node_exporter logs "no data"
// at debug level).
// Thread-safe: Gather() may be called from any thread; concurrent calls are serialized.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/collector.h"
#include "common/log/log.h"
#include "common/metrics/metric_set.h"

namespace agent {

class Registry {
 public:
  struct Options {
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    // Runners free to take collectors in a scrape; 0: the number of CPUs, clamped to [2, 4].
    unsigned parallelism = 0;
  };
  // Adds samples outside the collectors (process and build info); called inside Gather().
  using ExtraFn = std::function<void(MetricSet&)>;

  Registry(Options opts, common::log::Logger log);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  void Add(std::string name, std::unique_ptr<Collector> c);
  void SetExtra(ExtraFn fn) { extra_ = std::move(fn); }
  // Starts the runner threads. Call once, after Add().
  void Start();
  // Runs one collection pass and appends the exposition to `out`.
  void Gather(std::string& out);

 private:
  enum class State { kIdle, kQueued, kRunning, kDone };
  struct Slot {
    std::string name;
    std::unique_ptr<Collector> collector;
    MetricSet set;
    State state = State::kIdle;
    uint64_t pass = 0;  // the Gather() pass that queued the current run
    Status status;
    double seconds = 0;
    std::string last_logged;  // last failure logged at error level (repeats go to debug)
  };
  // State shared with the runner threads, which are detached: a runner stuck in a collector past
  // the registry's destruction keeps it (and the slots) alive until its call returns.
  struct Core {
    std::mutex mu;  // guards everything below and Slot::state, pass, status, seconds
    std::condition_variable work;  // runners wait here for a queued slot
    std::condition_variable done;  // Gather() waits here for pending == 0
    std::condition_variable exited;  // ~Registry() waits here for idle runners to exit
    std::deque<Slot*> queue;
    std::vector<std::unique_ptr<Slot>> slots;
    uint64_t pass = 0;    // bumped by every Gather()
    size_t pending = 0;   // slots queued by the current pass and not yet done
    unsigned runners = 0;  // live runner threads
    unsigned running = 0;  // runners inside a collector's Update()
    bool stopping = false;
  };
  static void Run(std::shared_ptr<Core> core, unsigned parallelism);
  // Starts runners until `parallelism` of them are not inside a collector. Holds core_->mu.
  void SpawnRunners();
  void LogFailure(Slot& s, const std::string& err);

  Options opts_;
  common::log::Logger log_;
  ExtraFn extra_;
  std::shared_ptr<Core> core_;
  std::mutex gather_mu_;  // serializes Gather()
  MetricSet self_;
  common::metrics::Encoder encoder_;
  std::vector<const MetricSet*> sets_;
};

}  // namespace agent
