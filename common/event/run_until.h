#pragma once
// RunUntil: runs a Loop on the calling thread until a condition holds or a time limit passes,
// without stopping the Loop (so it can be run again). For tests and tools that drive a Loop step
// by step; a daemon calls Loop::Run(). Thread affinity: the thread that runs the Loop; never
// call it from inside a loop callback.

#include <cstdint>
#include <functional>

#include "common/event/loop.h"

namespace common::event {

// Runs loop iterations until `done()` returns true (checked before each iteration and after
// every one) or `timeout_ms` passed. Returns the last value of done().
bool RunUntil(Loop& loop, const std::function<bool()>& done, uint64_t timeout_ms);
// Runs the loop for `ms` milliseconds.
void RunFor(Loop& loop, uint64_t ms);

}  // namespace common::event
