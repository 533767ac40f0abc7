#include "common/base/status.h"

#include <cerrno>
#include <cstring>

namespace common {

std::string_view CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kOutOfOrder: return "out of order";
    case Code::kOutOfBounds: return "out of bounds";
    case Code::kResourceExhausted: return "resource exhausted";
    case Code::kUnavailable: return "unavailable";
    case Code::kDeadlineExceeded: return "deadline exceeded";
    case Code::kCancelled: return "cancelled";
    case Code::kCorruption: return "corruption";
    case Code::kIOError: return "I/O error";
    case Code::kInternal: return "internal";
  }
  return "unknown";
}

Status::Status(Code code, std::string_view msg) {
  if (code != Code::kOk) rep_ = std::make_unique<Rep>(Rep{code, std::string(msg)});
}

Status Status::FromErrno(int err, std::string_view context) {
  std::string m(context);
  m += ": ";
  m += std::strerror(err);
  return Status(err == ENOENT ? Code::kNotFound : Code::kIOError, m);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(CodeName(rep_->code));
  s += ": ";
  s += rep_->msg;
  return s;
}

Status Status::Annotate(std::string_view context) const {
  if (ok()) return Status();
  std::string m(context);
  m += ": ";
  m += rep_->msg;
  return Status(rep_->code, m);
}

}  // namespace common
