#include "agent/registry.h"

#include <algorithm>
#include <cstdio>
#include <system_error>
#include <thread>

namespace agent {

Registry::Registry(Options opts, common::log::Logger log)
    : opts_(opts), log_(std::move(log)), core_(std::make_shared<Core>()) {
  // More runners than 4 hardly shorten a scrape of ~45 collectors reading procfs and sysfs, and
  // every idle runner is woken per scrape.
  if (opts_.parallelism == 0)
    opts_.parallelism = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
}

Registry::~Registry() {
  std::unique_lock<std::mutex> l(core_->mu);
  core_->stopping = true;
  core_->queue.clear();
  core_->work.notify_all();
  // A runner stuck in a kernel read cannot be interrupted; it keeps core_ alive and exits when its
  // call returns (or with the process).
  core_->exited.wait(l, [&] { return core_->runners == core_->running; });
}

void Registry::Add(std::string name, std::unique_ptr<Collector> c) {
  auto s = std::make_unique<Slot>();
  s->name = std::move(name);
  s->collector = std::move(c);
  std::lock_guard<std::mutex> l(core_->mu);
  core_->slots.push_back(std::move(s));
}

void Registry::Start() {
  std::lock_guard<std::mutex> l(core_->mu);
  SpawnRunners();
}

void Registry::SpawnRunners() {
  Core& c = *core_;
  while (c.runners - c.running < opts_.parallelism) {
    try {
      std::thread(&Registry::Run, core_, opts_.parallelism).detach();
    } catch (const std::system_error& e) {
      log_.Error("cannot start a collector runner", {{"err", e.what()}});
      return;
    }
    ++c.runners;
  }
}

void Registry::Run(std::shared_ptr<Core> core, unsigned parallelism) {
  Core& c = *core;
  std::unique_lock<std::mutex> l(c.mu);
  for (;;) {
    c.work.wait(l, [&] { return c.stopping || !c.queue.empty(); });
    if (c.stopping) break;
    Slot* s = c.queue.front();
    c.queue.pop_front();
    s->state = State::kRunning;
    ++c.running;
    l.unlock();
    s->set.Clear();
    auto t0 = std::chrono::steady_clock::now();
    Status st;
    try {
      st = s->collector->Update(s->set);
    } catch (const std::exception& e) {
      st = Status::Internal(std::string("exception: ") + e.what());
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    l.lock();
    --c.running;
    s->status = std::move(st);
    s->seconds = secs;
    s->state = State::kDone;
    // A run queued by an earlier pass (one that timed out) is not waited for.
    if (s->pass == c.pass && c.pending > 0 && --c.pending == 0) c.done.notify_one();
    // A replacement was started while this runner was stuck: leave if the others suffice.
    if (c.runners - c.running > parallelism) break;
  }
  --c.runners;
  c.exited.notify_all();
}

void Registry::LogFailure(Slot& s, const std::string& err) {
  if (err == s.last_logged) {
    log_.Debug("collector failed", {{"name", s.name}, {"err", err}});
    return;
  }
  s.last_logged = err;
  log_.Error("collector failed", {{"name", s.name}, {"err", err}});
}

void Registry::Gather(std::string& out) {
  std::lock_guard<std::mutex> gl(gather_mu_);
  auto deadline = std::chrono::steady_clock::now() + opts_.timeout;
  Core& c = *core_;
  {
    std::lock_guard<std::mutex> l(c.mu);
    ++c.pass;
    c.pending = 0;
    for (auto& s : c.slots) {
      if (s->state == State::kRunning) continue;  // stuck since an earlier scrape
      s->state = State::kQueued;
      s->pass = c.pass;
      ++c.pending;
      c.queue.push_back(s.get());
    }
    // Runners stuck in a collector do not count: hung reads never exhaust the pool.
    SpawnRunners();
  }
  c.work.notify_all();
  self_.Clear();
  if (extra_) extra_(self_);
  sets_.clear();
  sets_.push_back(&self_);
  {
    std::unique_lock<std::mutex> l(c.mu);
    // Every `stall` without the pass finishing, one more runner is started if all are inside a
    // collector and some are still queued: collectors hung in the first scrape do not hold up
    // those queued behind them for the whole deadline. Extra runners exit once idle.
    auto stall = std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(1),
                                                               opts_.timeout / 5);
    for (;;) {
      auto until = std::min(deadline, std::chrono::steady_clock::now() + stall);
      if (c.done.wait_until(l, until, [&] { return c.pending == 0; })) break;
      if (until >= deadline) break;
      if (!c.queue.empty() && c.running == c.runners) {
        try {
          std::thread(&Registry::Run, core_, opts_.parallelism).detach();
          ++c.runners;
        } catch (const std::system_error& e) {
          log_.Error("cannot start a collector runner", {{"err", e.what()}});
        }
      }
    }
    // Collectors not started by the deadline are not run in this scrape.
    for (Slot* s : c.queue) s->state = State::kIdle;
    c.queue.clear();
    for (auto& s : c.slots) {
      double secs;
      bool ok;
      if (s->pass == c.pass && s->state == State::kDone) {
        ok = s->status.ok();
        secs = s->seconds;
        if (!ok) LogFailure(*s, s->status.ToString());
        if (ok) s->last_logged.clear();
        sets_.push_back(&s->set);
      } else {
        ok = false;
        secs = std::chrono::duration<double>(opts_.timeout).count();
        LogFailure(*s, s->pass != c.pass      ? "collector still running from an earlier scrape"
                       : s->state == State::kIdle ? "collector not started within --collector.timeout"
                                                  : "collector exceeded --collector.timeout");
      }
      self_.Gauge("node_scrape_collector_duration_seconds",
                  "Seconds the collector took in this scrape.", secs, {{"collector", s->name}});
      self_.Gauge("node_scrape_collector_success",
                  "1 if the collector succeeded in this scrape, else 0.", ok ? 1 : 0,
                  {{"collector", s->name}});
    }
  }
  // Slots done in this pass are idle until the next one queues them; runners still inside a
  // collector only touch that collector's set, which is not in sets_.
  encoder_.Encode(sets_, out);
}

}  // namespace agent
