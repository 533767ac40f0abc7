#include "common/event/run_until.h"

#include <uv.h>

namespace common::event {

namespace {
struct RunState {
  const std::function<bool()>* done;
  bool expired = false;
};
}  // namespace

bool RunUntil(Loop& loop, const std::function<bool()>& done, uint64_t timeout_ms) {
  if (done()) return true;
  RunState st{&done};
  // The deadline timer wakes a blocking poll in time.
  auto* timer = new uv_timer_t;
  uv_timer_init(loop.raw(), timer);
  timer->data = &st;
  uv_timer_start(
      timer, [](uv_timer_t* t) { static_cast<RunState*>(t->data)->expired = true; }, timeout_ms, 0);
  // A timer callback at the start of an iteration may satisfy `done`; the prepare handle runs
  // just before the poll and stops the iteration there instead of blocking until the next event.
  auto* prepare = new uv_prepare_t;
  uv_prepare_init(loop.raw(), prepare);
  prepare->data = &st;
  uv_prepare_start(prepare, [](uv_prepare_t* p) {
    auto* s = static_cast<RunState*>(p->data);
    if (s->expired || (*s->done)()) uv_stop(p->loop);
  });
  bool ok = false;
  for (;;) {
    uv_run(loop.raw(), UV_RUN_ONCE);
    if ((ok = done()) || st.expired) break;
  }
  uv_timer_stop(timer);
  uv_prepare_stop(prepare);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(prepare),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
  uv_run(loop.raw(), UV_RUN_NOWAIT);  // let the close callbacks run
  return ok;
}

void RunFor(Loop& loop, uint64_t ms) {
  RunUntil(
      loop, [] { return false; }, ms);
}

}  // namespace common::event
