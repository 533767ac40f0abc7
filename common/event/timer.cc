#include "common/event/timer.h"

#include <uv.h>

namespace common::event {

struct Timer::Handle {
  uv_timer_t timer;
  std::function<void()> fn;
};

Timer::Timer(Loop& loop) : h_(new Handle) {
  uv_timer_init(loop.raw(), &h_->timer);
  h_->timer.data = h_;
}

Timer::~Timer() {
  uv_timer_stop(&h_->timer);
  h_->fn = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&h_->timer),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

void Timer::Start(uint64_t ms, uint64_t repeat_ms, std::function<void()> fn) {
  h_->fn = std::move(fn);
  uv_timer_start(&h_->timer, [](uv_timer_t* t) {
    auto* h = static_cast<Handle*>(t->data);
    if (h->fn) {
      auto fn = h->fn;  // the callback may destroy the Timer
      fn();
    }
  }, ms, repeat_ms);
}

void Timer::Stop() { uv_timer_stop(&h_->timer); }

}  // namespace common::event
