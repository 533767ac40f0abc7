#pragma once
// Loop: owns one uv_loop_t and the few libuv services the daemons need, without exposing uv.h.
// Thread affinity: every method is loop-thread-only except Post(), which is thread-safe.
// Callbacks run on the loop thread. A Loop must outlive every object built on it.

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

struct uv_loop_s;

namespace common::event {

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until Stop() (or until nothing is left to do).
  void Run();
  // Closes every handle and makes Run() return.
  void Stop();
  // Runs `work` on libuv's thread pool, then `done` on the loop thread.
  void QueueWork(std::function<void()> work, std::function<void()> done);
  // Runs fn on the loop thread soon. Thread-safe.
  void Post(std::function<void()> fn);
  // Calls fn on the loop thread each time signum arrives.
  void OnSignal(int signum, std::function<void()> fn);
  // Calls fn after `ms` milliseconds, then every `repeat_ms` if non-zero.
  void Every(uint64_t ms, uint64_t repeat_ms, std::function<void()> fn);

  uv_loop_s* raw() { return loop_; }

 private:
  struct Impl;
  uv_loop_s* loop_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace common::event
