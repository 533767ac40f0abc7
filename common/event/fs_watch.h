#pragma once
// FsWatch: a libuv file-system watch (inotify on Linux) on one path, a file or a directory,
// owned by an RAII object. A directory watch reports changes to the entries directly inside it
// (not recursively); a file watch follows the inode it found at Start().
// libuv reports every inotify event as either kRename (create, delete, move) or kChange (write,
// attribute change), so a pure chmod cannot be told apart from a write.
// Thread affinity: loop thread only; the callback runs on the loop thread. Destroying the FsWatch
// stops it; the handle is freed after libuv's close callback, so the object may be destroyed from
// inside its own callback. The Loop must outlive the FsWatch.

#include <functional>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/event/loop.h"

namespace common::event {

class FsWatch {
 public:
  enum Event : unsigned { kRename = 1, kChange = 2 };
  // `name`: the entry that changed (relative to a watched directory; the file's base name for a
  // file watch; may be empty). `events`: a mask of Event. A failed `status` means the watch broke
  // (for instance the directory was removed); it stays stopped afterwards.
  using Callback =
      std::function<void(std::string_view name, unsigned events, const Status& status)>;

  explicit FsWatch(Loop& loop);
  ~FsWatch();
  FsWatch(const FsWatch&) = delete;
  FsWatch& operator=(const FsWatch&) = delete;

  // Starts watching `path`. Errors: NotFound when the path does not exist, IOError otherwise
  // (e.g. the inotify watch limit). Starting again replaces the previous path and callback.
  Status Start(const std::string& path, Callback cb);
  // Stops reporting; Start() may be called again.
  void Stop();
  bool active() const;
  const std::string& path() const { return path_; }

 private:
  struct Handle;
  Handle* h_;
  std::string path_;
};

}  // namespace common::event
