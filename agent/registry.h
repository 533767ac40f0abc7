#pragma once
// Registry: runs the enabled collectors concurrently under a deadline and encodes the result.
//
// Each collector has a worker thread of its own. A scrape starts every idle collector, waits
// until all finish or the deadline (--collector.timeout) passes, and encodes the sets of those
// that finished, plus node_scrape_collector_success / _duration_seconds per collector. A
// collector still running past the deadline (a read hung on a dead NFS mount) is reported failed
// and is not started again until it returns; the scrape never waits for it.
// A failure is logged once at error level; the same failure in later scrapes is logged at debug
// level only, so a host without ZFS does not log a line per scrape (node_exporter logs "no data"
// at debug level).
// Thread-safe: Gather() may be called from any thread; concurrent calls are serialized.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/collector.h"
#include "common/log/log.h"
#include "common/metrics/metric_set.h"

namespace agent {

class Registry {
 public:
  struct Options {
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  };
  // Adds samples outside the collectors (process and build info); called inside Gather().
  using ExtraFn = std::function<void(MetricSet&)>;

  Registry(Options opts, common::log::Logger log);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  void Add(std::string name, std::unique_ptr<Collector> c);
  void SetExtra(ExtraFn fn) { extra_ = std::move(fn); }
  // Starts the worker threads. Call once, after Add().
  void Start();
  // Runs one collection pass and appends the exposition to `out`.
  void Gather(std::string& out);

 private:
  enum class State { kIdle, kRunning, kDone };
  struct Slot {
    std::string name;
    std::unique_ptr<Collector> collector;
    MetricSet set;
    State state = State::kIdle;
    uint64_t generation = 0;  // bumped to start a run
    Status status;
    double seconds = 0;
    std::string last_logged;  // last failure logged at error level (repeats go to debug)
    std::thread thread;
  };
  void Work(Slot* s);
  void LogFailure(Slot& s, const std::string& err);

  Options opts_;
  common::log::Logger log_;
  ExtraFn extra_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;  // guards Slot::state, generation, status, seconds; stopping_
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mutex gather_mu_;  // serializes Gather()
  MetricSet self_;
  common::metrics::Encoder encoder_;
  std::vector<const MetricSet*> sets_;
};

}  // namespace agent
