#pragma once
// Timer: a cancellable libuv timer owned by an RAII object.
// Thread affinity: loop thread only. Destroying the Timer stops it; its handle is freed after
// libuv's close callback, so the object may be destroyed from inside its own callback.

#include <cstdint>
#include <functional>

#include "common/event/loop.h"

namespace common::event {

class Timer {
 public:
  explicit Timer(Loop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Calls fn after `ms`, then every `repeat_ms` when non-zero. Restarting replaces the schedule.
  void Start(uint64_t ms, uint64_t repeat_ms, std::function<void()> fn);
  void Stop();

 private:
  struct Handle;
  Handle* h_;
};

}  // namespace common::event
