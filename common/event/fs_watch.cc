#include "common/event/fs_watch.h"

#include <uv.h>

#include <utility>

namespace common::event {

struct FsWatch::Handle {
  uv_fs_event_t ev;
  Callback cb;
};

FsWatch::FsWatch(Loop& loop) : h_(new Handle) {
  uv_fs_event_init(loop.raw(), &h_->ev);
  h_->ev.data = h_;
}

FsWatch::~FsWatch() {
  uv_fs_event_stop(&h_->ev);
  h_->cb = nullptr;  // a running callback holds its own copy
  uv_close(reinterpret_cast<uv_handle_t*>(&h_->ev),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

Status FsWatch::Start(const std::string& path, Callback cb) {
  uv_fs_event_stop(&h_->ev);
  path_ = path;
  h_->cb = std::move(cb);
  int rc = uv_fs_event_start(
      &h_->ev,
      [](uv_fs_event_t* e, const char* filename, int events, int status) {
        auto* h = static_cast<Handle*>(e->data);
        if (!h->cb) return;
        Callback cb = h->cb;  // the callback may destroy or restart the FsWatch
        Status st;
        if (status < 0) {
          st = Status::IOError(std::string("watch: ") + uv_strerror(status));
          uv_fs_event_stop(e);
        }
        cb(filename ? std::string_view(filename) : std::string_view(),
           static_cast<unsigned>(events), st);
      },
      path.c_str(), 0);
  if (rc < 0) {
    h_->cb = nullptr;
    std::string msg = "watch " + path + ": " + uv_strerror(rc);
    return rc == UV_ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  return Status::Ok();
}

void FsWatch::Stop() {
  uv_fs_event_stop(&h_->ev);
  h_->cb = nullptr;
}

bool FsWatch::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&h_->ev)) != 0;
}

}  // namespace common::event
