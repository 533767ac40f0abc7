#include "common/event/loop.h"

#include <uv.h>

#include <cstdlib>

namespace common::event {

struct Loop::Impl {
  uv_async_t async;
  std::mutex mu;
  std::vector<std::function<void()>> posted;
  std::vector<uv_handle_t*> handles;  // signals and timers, closed on Stop()
};

namespace {
struct WorkReq {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> done;
};
struct SignalHandle {
  uv_signal_t sig;
  std::function<void()> fn;
};
struct TimerHandle {
  uv_timer_t timer;
  std::function<void()> fn;
};
}  // namespace

Loop::Loop() : loop_(new uv_loop_t), impl_(std::make_unique<Impl>()) {
  uv_loop_init(loop_);
  impl_->async.data = this;
  uv_async_init(loop_, &impl_->async, [](uv_async_t* a) {
    auto* self = static_cast<Loop*>(a->data);
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard<std::mutex> l(self->impl_->mu);
      fns.swap(self->impl_->posted);
    }
    for (auto& f : fns) f();
  });
}

Loop::~Loop() {
  Stop();
  uv_run(loop_, UV_RUN_NOWAIT);   // returns at once: clears the stop flag Stop() set
  uv_run(loop_, UV_RUN_DEFAULT);  // close callbacks and queued work finish
  uv_loop_close(loop_);
  delete loop_;
}

void Loop::Run() { uv_run(loop_, UV_RUN_DEFAULT); }

void Loop::Stop() {
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&impl_->async))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&impl_->async), nullptr);
  }
  for (uv_handle_t* h : impl_->handles) {
    if (!uv_is_closing(h)) {
      uv_close(h, [](uv_handle_t* h) {
        if (h->type == UV_SIGNAL) delete static_cast<SignalHandle*>(h->data);
        else delete static_cast<TimerHandle*>(h->data);
      });
    }
  }
  impl_->handles.clear();
  uv_stop(loop_);
}

void Loop::QueueWork(std::function<void()> work, std::function<void()> done) {
  auto* w = new WorkReq{{}, std::move(work), std::move(done)};
  w->req.data = w;
  uv_queue_work(
      loop_, &w->req, [](uv_work_t* r) { static_cast<WorkReq*>(r->data)->work(); },
      [](uv_work_t* r, int) {
        auto* w = static_cast<WorkReq*>(r->data);
        if (w->done) w->done();
        delete w;
      });
}

void Loop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->posted.push_back(std::move(fn));
  }
  uv_async_send(&impl_->async);
}

void Loop::OnSignal(int signum, std::function<void()> fn) {
  auto* s = new SignalHandle{{}, std::move(fn)};
  uv_signal_init(loop_, &s->sig);
  s->sig.data = s;
  uv_signal_start(&s->sig, [](uv_signal_t* h, int) { static_cast<SignalHandle*>(h->data)->fn(); },
                  signum);
  impl_->handles.push_back(reinterpret_cast<uv_handle_t*>(&s->sig));
}

void Loop::Every(uint64_t ms, uint64_t repeat_ms, std::function<void()> fn) {
  auto* t = new TimerHandle{{}, std::move(fn)};
  uv_timer_init(loop_, &t->timer);
  t->timer.data = t;
  uv_timer_start(&t->timer, [](uv_timer_t* h) { static_cast<TimerHandle*>(h->data)->fn(); }, ms,
                 repeat_ms);
  impl_->handles.push_back(reinterpret_cast<uv_handle_t*>(&t->timer));
}

}  // namespace common::event
