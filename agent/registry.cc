#include "agent/registry.h"

#include <algorithm>
#include <cstdio>

namespace agent {

Registry::Registry(Options opts, common::log::Logger log) : opts_(opts), log_(std::move(log)) {}

Registry::~Registry() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& s : slots_) {
    if (!s->thread.joinable()) continue;
    bool stuck;
    {
      std::lock_guard<std::mutex> l(mu_);
      stuck = s->state == State::kRunning;
    }
    // A collector stuck in a kernel read cannot be interrupted; leave it to process exit.
    if (stuck) {
      s->thread.detach();
      (void)s.release();
    } else {
      s->thread.join();
    }
  }
}

void Registry::Add(std::string name, std::unique_ptr<Collector> c) {
  auto s = std::make_unique<Slot>();
  s->name = std::move(name);
  s->collector = std::move(c);
  slots_.push_back(std::move(s));
}

void Registry::Start() {
  for (auto& s : slots_) s->thread = std::thread(&Registry::Work, this, s.get());
}

void Registry::Work(Slot* s) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || s->generation != seen; });
      if (stopping_) return;
      seen = s->generation;
    }
    s->set.Clear();
    auto t0 = std::chrono::steady_clock::now();
    Status st;
    try {
      st = s->collector->Update(s->set);
    } catch (const std::exception& e) {
      st = Status::Internal(std::string("exception: ") + e.what());
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> l(mu_);
      s->status = std::move(st);
      s->seconds = secs;
      s->state = State::kDone;
    }
    cv_.notify_all();
  }
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
  std::vector<Slot*> busy;  // already running when this scrape began
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& s : slots_) {
      if (s->state == State::kRunning) {
        busy.push_back(s.get());
        continue;
      }
      s->state = State::kRunning;
      s->generation++;
    }
  }
  cv_.notify_all();
  self_.Clear();
  if (extra_) extra_(self_);
  sets_.clear();
  sets_.push_back(&self_);
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_until(l, deadline, [&] {
      for (auto& s : slots_) {
        if (s->state == State::kRunning &&
            std::find(busy.begin(), busy.end(), s.get()) == busy.end()) {
          return false;
        }
      }
      return true;
    });
    for (auto& s : slots_) {
      bool was_busy = std::find(busy.begin(), busy.end(), s.get()) != busy.end();
      double secs;
      bool ok;
      if (s->state == State::kDone && !was_busy) {
        ok = s->status.ok();
        secs = s->seconds;
        if (!ok) LogFailure(*s, s->status.ToString());
        if (ok) s->last_logged.clear();
        sets_.push_back(&s->set);
      } else {
        ok = false;
        secs = std::chrono::duration<double>(opts_.timeout).count();
        LogFailure(*s, was_busy ? "collector still running from an earlier scrape"
                                : "collector exceeded --collector.timeout");
      }
      self_.Gauge("node_scrape_collector_duration_seconds",
                  "Seconds the collector took in this scrape.", secs, {{"collector", s->name}});
      self_.Gauge("node_scrape_collector_success",
                  "1 if the collector succeeded in this scrape, else 0.", ok ? 1 : 0,
                  {{"collector", s->name}});
    }
  }
  // Workers that finished are idle until the next generation; those still running only touch
  // their own set, which is not in sets_.
  encoder_.Encode(sets_, out);
}

}  // namespace agent
